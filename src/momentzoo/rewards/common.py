"""What every reward shares: task names, reading completions and dataset columns the way TRL passes them.

TRL's ``GRPOTrainer`` calls a reward as ``f(prompts=..., completions=..., completion_ids=..., <every
dataset column>=[one value per completion], trainer_state=..., log_extra=..., log_metric=...)`` and sums
the rewards of all functions per completion, skipping ``None`` (``nansum``). So when the dataset has a
``task`` column, each reward scores only the rows of its own task and returns ``None`` for the others: one
list of reward functions serves a batch that mixes tasks, and TRL logs each function's mean over its own
rows. Without a ``task`` column every row is scored.

Errors: a malformed *completion* scores 0; a missing or mis-shaped *column* (a programming or data error)
raises ``ValueError`` naming the reward, the column and the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .parsing import completion_text

__all__ = ["TASKS", "INVERSION_TASKS", "GAP", "completion_texts", "column", "task_rows", "scored_rows", "string_cell"]

TASKS = ("tvg", "vc", "ar", "vd")
"""Temporal video grounding, then the inversion tasks: verb completion, action recognition, video description."""
INVERSION_TASKS = ("vc", "ar", "vd")
GAP = "[]"
"""The gap marker of a verb-completion template: ``"person [] the door."``."""


def completion_texts(completions: Any, reward: str) -> list[str]:
    if completions is None or isinstance(completions, (str, bytes)) or not isinstance(completions, Sequence):
        raise ValueError(
            f"{reward}: `completions` must be a list (one completion per row), got {type(completions).__name__}"
        )
    return [completion_text(c) for c in completions]


def column(kwargs: Mapping[str, Any], names: str | tuple[str, ...], n: int, reward: str) -> tuple[str, Sequence[Any]]:
    """The first present column of `names` (name, values), checked to have one value per completion."""
    names = (names,) if isinstance(names, str) else names
    for name in names:
        values = kwargs.get(name)
        if values is not None:
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != n:
                got = (
                    len(values)
                    if isinstance(values, Sequence) and not isinstance(values, (str, bytes))
                    else type(values).__name__
                )
                raise ValueError(f"{reward}: column {name!r} must hold one value per completion ({n}), got {got}")
            return name, values
    present = sorted(
        k for k in kwargs if k not in ("trainer_state", "log_extra", "log_metric", "completion_ids", "environments")
    )
    wanted = " or ".join(repr(x) for x in names)
    raise ValueError(f"{reward} needs the dataset column {wanted}; the batch has columns {present}")


def task_rows(kwargs: Mapping[str, Any], task: str | None, n: int, reward: str) -> list[bool]:
    """Which rows `reward` scores: all of them without a ``task`` column, else those whose task is `task`
    (``task=None``: all rows, the task column still validated)."""
    if kwargs.get("task") is None:
        return [True] * n
    _, tasks = column(kwargs, "task", n, reward)
    rows = []
    for i, value in enumerate(tasks):
        if not isinstance(value, str) or value.lower() not in TASKS:
            raise ValueError(f"{reward}: row {i}: column 'task' must be one of {TASKS}, got {value!r}")
        rows.append(task is None or value.lower() == task)
    return rows


def scored_rows(completions: Any, kwargs: Mapping[str, Any], task: str, reward: str) -> tuple[list[str], list[int]]:
    """The completions' texts and the indices of the rows `reward` scores (those of `task`, see `task_rows`)."""
    texts = completion_texts(completions, reward)
    rows = task_rows(kwargs, task, len(texts), reward)
    return texts, [i for i, r in enumerate(rows) if r]


def string_cell(values: Sequence[Any], i: int, name: str, reward: str) -> str:
    value = values[i]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{reward}: row {i}: column {name!r} must be a non-empty string, got {value!r}")
    return value
