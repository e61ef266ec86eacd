"""Temporal video grounding rewards: ``r_format`` and ``r_IoU`` (Invert4TVG, after Time-R1), TRL signature."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .common import column, completion_texts, scored_rows, task_rows
from .parsing import parse_answer_format, parse_format, parse_window

__all__ = [
    "format_reward",
    "answer_format_reward",
    "grounding_format_reward",
    "iou_reward",
    "temporal_iou",
    "ground_truth_windows",
]

WINDOW_COLUMNS = ("windows", "solution")


def format_reward(prompts=None, completions=None, **kwargs) -> list[float]:
    """1.0 if a completion is ``<think>...</think> <answer>...</answer>`` (see ``parse_format``), else 0.0.

    Scores every row. With a ``task`` column, ``"tvg"`` rows also need the answer to be a window
    (``<answer>t_s to t_e</answer>``), as in ``grounding_format_reward``, and the inversion rows are scored as
    ``answer_format_reward`` does (their prompts ask for the answer block alone, as the official code's).
    """
    texts = completion_texts(completions, "format_reward")
    if kwargs.get("task") is None:
        return [float(parse_format(t)) for t in texts]
    is_tvg = task_rows(kwargs, "tvg", len(texts), "format_reward")
    return [float(parse_format(t, require_window=True) if w else parse_answer_format(t)) for t, w in zip(texts, is_tvg)]


def answer_format_reward(prompts=None, completions=None, **kwargs) -> list[float]:
    """1.0 if a completion is a lone ``<answer>...</answer>`` block, optionally after a ``<think>...</think>``
    block (see ``parse_answer_format``), else 0.0: the inversion tasks' format (the official code's
    ``format_reward2``). Scores every row."""
    return [float(parse_answer_format(t)) for t in completion_texts(completions, "answer_format_reward")]


def grounding_format_reward(prompts=None, completions=None, **kwargs) -> list[float | None]:
    """1.0 if a completion is ``<think>...</think> <answer>t_s to t_e</answer>``, else 0.0; for TVG-only
    training. With a ``task`` column, rows of other tasks get ``None``."""
    texts = completion_texts(completions, "grounding_format_reward")
    rows = task_rows(kwargs, "tvg", len(texts), "grounding_format_reward")
    return [float(parse_format(t, require_window=True)) if r else None for t, r in zip(texts, rows)]


def iou_reward(prompts=None, completions=None, strict: bool = True, **kwargs) -> list[float | None]:
    """Temporal IoU of the window parsed from each completion's answer with its ground truth, 0.0 when no
    window can be parsed (``parse_window(strict=True)``: the answer must be inside one closed
    ``<answer> </answer>`` pair, as the official reward reads it; ``strict=False`` also reads untagged answers).

    Ground truth: column ``windows`` (the grounding-row contract: a list of ``[start, end]`` in seconds) or
    ``solution`` (one ``[start, end]`` or a list of them); with several windows the best IoU counts.
    With a ``task`` column, rows of other tasks get ``None``.
    """
    texts, scored = scored_rows(completions, kwargs, "tvg", "iou_reward")
    rewards: list[float | None] = [None] * len(texts)
    if not scored:
        return rewards
    name, values = column(kwargs, WINDOW_COLUMNS, len(texts), "iou_reward")
    for i in scored:
        truth = ground_truth_windows(values[i], f"iou_reward: row {i}: column {name!r}")
        window = parse_window(texts[i], strict=strict)
        rewards[i] = 0.0 if window is None else max(temporal_iou(window, gt) for gt in truth)
    return rewards


def temporal_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``(start, end)`` windows; 0.0 when their union is empty (as ``segments.segment_iou``)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(0.0, a[1] - a[0]) + max(0.0, b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def ground_truth_windows(value: Any, where: str) -> list[tuple[float, float]]:
    """`value` as a non-empty list of valid windows (finite, ``0 <= start < end``), else ``ValueError``.
    Lists, tuples, numpy arrays and tensors are accepted."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if _is_pair(value):
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise ValueError(f"{where}: expected [start, end] or a non-empty list of them, got {value!r}")
    windows = []
    for window in value:
        if not _is_pair(window):
            raise ValueError(f"{where}: expected [start, end] pairs of numbers, got {window!r}")
        start, end = float(window[0]), float(window[1])
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise ValueError(f"{where}: a window needs finite 0 <= start < end, got {list(window)!r}")
        windows.append((start, end))
    return windows


def _is_pair(value: Any) -> bool:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        return False
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
