"""TimeExpert's four task types as training examples, and the collator.

Each formatter turns a dataset row into `(prompt, events)` in TRACE's event format (see
`momentzoo.models.timeexpert.processing_timeexpert`):

- `general`: `question` -> one event with the `answer` as its caption (no times, no scores);
- `dense_captioning`: `segments` (seconds) + `captions` -> one event per segment (times, caption);
- `moment_retrieval` (Charades-STA, QVHighlights, synthetic grounding rows): `query` + `windows` -> one event per
  window (`start<sep>end`);
- `highlight_detection` (QVHighlights): `query` + `relevant_clip_ids` + `saliency_scores` -> one event with the clip
  start times and their mean saliency scores.

Frames: a row's pre-extracted `features` (steps, D) are averaged into `num_frames` equal bins, one frame each at the
bin's centre time (or given `frame_features` (frames, patches, D) with `frame_times`).
"""

from __future__ import annotations

import math

import torch

from ...models.timeexpert.processing_timeexpert import TASK_TYPES, TimeExpertEvent, TimeExpertFormatError, task_index

__all__ = ["TIMEEXPERT_TASK_PROMPTS", "TimeExpertCollator", "format_timeexpert_example", "sample_frames"]

TIMEEXPERT_TASK_PROMPTS = {
    "general": "{question}",
    "dense_captioning": "describe every event of the video with its start and end.",
    "moment_retrieval": "find the moment: {query}",
    "highlight_detection": "rate how well each clip matches: {query}",
}


def _field(row: dict, name: str, where: str):
    if name not in row or row[name] is None:
        raise ValueError(f"{where}: missing field {name!r}")
    return row[name]


def _duration(row: dict, where: str) -> float:
    duration = float(_field(row, "duration", where))
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"{where}: duration must be a positive number of seconds, got {row['duration']!r}")
    return duration


def _window(window, duration: float, where: str) -> list[float]:
    if len(window) != 2:
        raise ValueError(f"{where}: a window is [start, end], got {window!r}")
    start, end = float(window[0]), float(window[1])
    if not (0 <= start <= end <= duration + 1e-6):
        raise ValueError(f"{where}: window [{start}, {end}] is not inside the video [0, {duration}] with start <= end")
    return [start, min(end, duration)]


def format_timeexpert_example(row: dict, task: str, where: str = "row", clip_length: float = 2.0):
    """`(prompt, events)` of one row for `task` (see the module doc); a clear error names `where` and the field."""
    if task not in TASK_TYPES:
        raise ValueError(f"{where}: unknown TimeExpert task type {task!r}; known: {list(TASK_TYPES)}")
    template = TIMEEXPERT_TASK_PROMPTS[task]
    if task == "general":
        question, answer = _field(row, "question", where), _field(row, "answer", where)
        return template.format(question=question), [TimeExpertEvent(caption=str(answer).strip())]
    duration = _duration(row, where)
    if task == "dense_captioning":
        segments, captions = _field(row, "segments", where), _field(row, "captions", where)
        if len(segments) != len(captions):
            raise ValueError(f"{where}: {len(segments)} segments but {len(captions)} captions")
        events = [
            TimeExpertEvent(timestamps=_window(s, duration, f"{where}.segments[{i}]"), caption=str(c).strip())
            for i, (s, c) in enumerate(zip(segments, captions))
        ]
        return template, sorted(events, key=lambda e: e.timestamps)
    query = str(_field(row, "query", where)).strip()
    if not query:
        raise ValueError(f"{where}: empty query")
    if task == "moment_retrieval":
        windows = _field(row, "windows", where)
        if not len(windows):
            raise ValueError(f"{where}: no windows")
        events = [
            TimeExpertEvent(timestamps=_window(w, duration, f"{where}.windows[{i}]")) for i, w in enumerate(windows)
        ]
        return template.format(query=query), sorted(events, key=lambda e: e.timestamps)
    clips, scores = _field(row, "relevant_clip_ids", where), _field(row, "saliency_scores", where)
    if len(clips) != len(scores):
        raise ValueError(f"{where}: {len(clips)} relevant_clip_ids but {len(scores)} saliency_scores")
    pairs = sorted(zip(clips, scores))
    times = [float(c) * clip_length for c, _ in pairs]
    for c, t in zip(clips, times):
        if t > duration:
            raise ValueError(f"{where}.relevant_clip_ids: clip {c} starts at {t} s, beyond the video ({duration} s)")
    values = [float(sum(s)) / len(s) if isinstance(s, (list, tuple)) else float(s) for _, s in pairs]
    return template.format(query=query), [TimeExpertEvent(timestamps=times, scores=values)]


def sample_frames(features, duration: float, num_frames: int) -> tuple[torch.Tensor, list[float]]:
    """(frames, 1, D) bin means of (steps, D) features and each bin's centre time in seconds."""
    features = torch.as_tensor(features, dtype=torch.float32)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"features must be a non-empty (steps, dim) array, got shape {tuple(features.shape)}")
    steps = features.shape[0]
    count = min(num_frames, steps)
    edges = torch.linspace(0, steps, count + 1).round().long()
    frames = torch.stack([features[edges[i] : max(edges[i + 1], edges[i] + 1)].mean(dim=0) for i in range(count)])
    times = [(i + 0.5) * duration / count for i in range(count)]
    return frames[:, None], times


class TimeExpertCollator:
    """Rows -> a padded TimeExpert batch (`input_ids`, `attention_mask`, `labels`, `frame_features`, `frame_mask`,
    `task_ids`). `task` fixes the task type, else each row's `task` column names it. With `train=False` the answer
    is left out (prompts for `generate`, left-padded) and `duration`/`frame_times` come back for decoding."""

    def __init__(
        self, processor, task: str | None = None, num_frames: int = 8, train: bool = True, max_length: int | None = None
    ):
        if task is not None:
            task_index(task)
        self.processor, self.task, self.num_frames, self.train, self.max_length = (
            processor,
            task,
            num_frames,
            train,
            max_length,
        )

    def _frames(self, row: dict, where: str):
        if "frame_features" in row:
            frames = torch.as_tensor(row["frame_features"], dtype=torch.float32)
            times = [float(t) for t in _field(row, "frame_times", where)]
            if frames.ndim != 3 or frames.shape[0] != len(times):
                raise ValueError(f"{where}: frame_features must be (frames, patches, dim) with one frame_times each")
            return frames, times
        return sample_frames(_field(row, "features", where), _duration(row, where), self.num_frames)

    def __call__(self, rows: list[dict]) -> dict:
        samples, frames, extra = [], [], []
        for index, row in enumerate(rows):
            where = f"row {row.get('qid', index)!r}"
            task = self.task or _field(row, "task", where)
            prompt, events = format_timeexpert_example(row, task, where)
            feats, times = self._frames(row, where)
            duration = _duration(row, where) if "duration" in row else None
            try:
                sample = self.processor(times, prompt, events if self.train else None, task=task, duration=duration)
            except TimeExpertFormatError as error:
                raise ValueError(f"{where}: {error}") from None
            if self.max_length is not None and len(sample["input_ids"]) > self.max_length:
                raise ValueError(f"{where}: {len(sample['input_ids'])} tokens exceed max_length={self.max_length}")
            samples.append(sample)
            frames.append(feats)
            extra.append({"duration": duration, "frame_times": times, "events": events})
        pad = self.processor.tokenizer.pad_token_id
        length = max(len(s["input_ids"]) for s in samples)
        batch = len(samples)
        input_ids = torch.full((batch, length), pad, dtype=torch.long)
        labels = torch.full((batch, length), -100, dtype=torch.long)
        mask = torch.zeros(batch, length, dtype=torch.long)
        for i, s in enumerate(samples):
            n = len(s["input_ids"])
            span = slice(0, n) if self.train else slice(length - n, length)  # generation wants left padding
            input_ids[i, span] = torch.tensor(s["input_ids"])
            labels[i, span] = torch.tensor(s["labels"])
            mask[i, span] = 1
        most = max(f.shape[0] for f in frames)
        patches, dim = frames[0].shape[1:]
        frame_features = torch.zeros(batch, most, patches, dim)
        frame_mask = torch.zeros(batch, most, dtype=torch.long)
        for i, f in enumerate(frames):
            if f.shape[1:] != (patches, dim):
                raise ValueError(f"row {i}: frame features of shape {tuple(f.shape[1:])}, expected {(patches, dim)}")
            frame_features[i, : f.shape[0]] = f
            frame_mask[i, : f.shape[0]] = 1
        out = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "frame_features": frame_features,
            "frame_mask": frame_mask,
            "task_ids": torch.tensor([s["task_ids"] for s in samples]),
        }
        if self.train:
            out["labels"] = labels
        else:
            out["metadata"] = extra
        return out
