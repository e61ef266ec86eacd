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


def events_to_saliency(events, duration: float, clip_length: float = 2.0) -> list[float]:
    """Per clip of the video, the score a highlight-detection answer gives the clip its timestamp falls in (the
    highest when several do; 0 for clips it does not name)."""
    import math

    saliency = [0.0] * math.ceil(duration / clip_length)
    for event in events:
        for t, s in zip(event.timestamps, event.scores):
            clip = min(int(t // clip_length), len(saliency) - 1)
            saliency[clip] = max(saliency[clip], float(s))
    return saliency


def evaluate_highlights(
    model,
    processor,
    rows,
    num_frames: int = 8,
    batch_size: int = 8,
    max_new_tokens: int = 128,
    clip_length: float = 2.0,
) -> dict:
    """QVHighlights MR mAP, HL mAP and HIT@1: each query asked once as moment retrieval (its windows, in order, score
    1 - rank/100 when the model gives none) and once as highlight detection (its per-clip scores)."""
    from ...metrics.highlight_detection import compute_highlight_detection
    from .data import TimeExpertCollator

    answers = {}
    for task in ("moment_retrieval", "highlight_detection"):
        collator = TimeExpertCollator(processor, task=task, num_frames=num_frames, train=False)
        answers[task] = []
        for start in range(0, len(rows), batch_size):
            answers[task] += generate_events(
                model, processor, collator(rows[start : start + batch_size]), max_new_tokens=max_new_tokens
            )
    predictions, references = [], []
    for row, windows_events, highlight_events in zip(rows, answers["moment_retrieval"], answers["highlight_detection"]):
        duration = float(row["duration"])
        windows = [
            {"segment": w["segment"], "score": w["score"] if w["score"] != 1.0 else 1.0 - rank / 100}
            for rank, w in enumerate(events_to_windows(windows_events))
        ]
        predictions.append(
            {"windows": windows, "saliency": events_to_saliency(highlight_events, duration, clip_length)}
        )
        references.append(
            {
                "windows": [[float(s), float(e)] for s, e in row["windows"]],
                "relevant_clip_ids": [int(c) for c in row["relevant_clip_ids"]],
                "saliency_scores": [[int(v) for v in s] for s in row["saliency_scores"]],
                "duration": duration,
            }
        )
    return compute_highlight_detection(predictions, references, clip_length=clip_length)
