"""TimeExpert inference: generate answers for a batch of prompts and read them back as events and windows."""

from __future__ import annotations

import torch

from ...models.timeexpert.processing_timeexpert import safe_parse_events

__all__ = ["evaluate_moment_retrieval", "events_to_windows", "generate_events"]


@torch.no_grad()
def generate_events(model, processor, batch: dict, max_new_tokens: int = 64, **generate_kwargs) -> list[list]:
    """Per row of a `TimeExpertCollator(train=False)` batch, the events of the model's answer (greedy by default);
    a malformed answer gives [] (scored as a miss, never an exception). Timestamps beyond a row's duration make the
    answer malformed."""
    model.eval()
    inputs = {k: v.to(model.device) for k, v in batch.items() if torch.is_tensor(v)}
    inputs.pop("labels", None)
    generate_kwargs.setdefault("do_sample", False)
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, **generate_kwargs)
    prompt = inputs["input_ids"].shape[1]
    metadata = batch.get("metadata") or [{}] * out.shape[0]
    return [
        safe_parse_events(processor.decode(row[prompt:].tolist()), meta.get("duration"))
        for row, meta in zip(out, metadata)
    ]


def events_to_windows(events) -> list[dict]:
    """The `{"segment": [start, end], "score"}` windows of the events that hold a start and an end (the score is the
    event's first score when it has one, else 1.0)."""
    windows = []
    for event in events:
        if len(event.timestamps) == 2 and event.timestamps[0] <= event.timestamps[1]:
            windows.append({"segment": list(event.timestamps), "score": event.scores[0] if event.scores else 1.0})
    return windows


def evaluate_moment_retrieval(
    model,
    processor,
    rows,
    num_frames: int = 8,
    batch_size: int = 8,
    max_new_tokens: int = 64,
    iou_thresholds=(0.3, 0.5, 0.7),
) -> dict:
    """Charades-STA-style R1@m and mIoU of the model's first window per query (a malformed answer is a miss)."""
    from ...metrics.grounding_recall import compute_grounding_recall
    from .data import TimeExpertCollator

    collator = TimeExpertCollator(processor, task="moment_retrieval", num_frames=num_frames, train=False)
    predictions = []
    for start in range(0, len(rows), batch_size):
        batch = collator(rows[start : start + batch_size])
        for events in generate_events(model, processor, batch, max_new_tokens=max_new_tokens):
            predictions.append([w["segment"] for w in events_to_windows(events)][:1])
    references = [[[float(s), float(e)] for s, e in row["windows"]] for row in rows]
    return compute_grounding_recall(predictions, references, ranks=[1], iou_thresholds=list(iou_thresholds))
