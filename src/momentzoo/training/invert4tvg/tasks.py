"""Which task each Invert4TVG training prompt is turned into (the paper's Algorithm 1).

With probability ``p`` an iteration is a temporal video grounding (TVG) iteration, otherwise an inversion
iteration whose task is drawn uniformly from the inversion tasks (verb completion, action recognition, video
description). ``mixing="per_iteration"`` (the paper) draws once per iteration, so a whole batch shares its
task; ``mixing="per_example"`` draws for each prompt.

Draws are pure functions of ``(seed, iteration)`` (and the prompt's key per example), so every process of a
distributed run draws the same task for the same batch and all ``num_generations`` completions of one
prompt get the same task, which GRPO's group-relative advantage needs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np

from ...rewards import INVERSION_TASKS, build_inversion_examples, default_lemmatizer, select_target_verb
from .prompts import task_messages

__all__ = [
    "TASK_MIXING",
    "INVERSION_TASKS",
    "INVERSION_COLUMNS",
    "Invert4TVGTaskSampler",
    "build_task_rows",
    "row_name",
]

logger = logging.getLogger(__name__)

TASK_MIXING = ("per_iteration", "per_example")
INVERSION_COLUMNS = ("masked_query", "verb", "verb_lemma", "query_verbs", "target")


def _stable_hash(key: str) -> int:
    # Python's hash() is salted per process; distributed ranks must agree.
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


class Invert4TVGTaskSampler:
    """Draws ``"tvg"`` with probability `tvg_probability` (the paper's p, 0.8), else one of
    `inversion_tasks` uniformly.

    Args:
        tvg_probability: p in [0, 1]; p = 1 is plain TVG GRPO, p = 0 trains the inversion tasks only.
        inversion_tasks: a non-empty subset of ``("vc", "ar", "vd")`` (needed unless p = 1).
        mixing: ``"per_iteration"`` or ``"per_example"``.
        seed: the base seed of every draw.
    """

    def __init__(
        self,
        tvg_probability: float = 0.8,
        inversion_tasks: Sequence[str] = INVERSION_TASKS,
        mixing: str = "per_iteration",
        seed: int = 0,
    ):
        if (
            isinstance(tvg_probability, bool)
            or not isinstance(tvg_probability, (int, float))
            or not 0.0 <= tvg_probability <= 1.0
        ):
            raise ValueError(f"tvg_probability (p) must be a number in [0, 1], got {tvg_probability!r}")
        tasks = tuple(inversion_tasks)
        unknown = [t for t in tasks if t not in INVERSION_TASKS]
        if unknown or len(set(tasks)) != len(tasks):
            raise ValueError(f"inversion_tasks must be distinct values of {INVERSION_TASKS}, got {list(tasks)}")
        if not tasks and tvg_probability < 1.0:
            raise ValueError(f"inversion_tasks is empty but tvg_probability is {tvg_probability} < 1: no task to draw")
        if mixing not in TASK_MIXING:
            raise ValueError(f"mixing must be one of {TASK_MIXING}, got {mixing!r}")
        self.tvg_probability = float(tvg_probability)
        self.inversion_tasks = tasks
        self.mixing = mixing
        self.seed = int(seed)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(tvg_probability={self.tvg_probability}, inversion_tasks={list(self.inversion_tasks)}, "
            f"mixing={self.mixing!r}, seed={self.seed})"
        )

    def probabilities(self) -> dict[str, float]:
        """The probability of each task in one draw."""
        out = {"tvg": self.tvg_probability}
        for task in self.inversion_tasks:
            out[task] = (1.0 - self.tvg_probability) / len(self.inversion_tasks)
        return out

    def _draw(self, rng: np.random.Generator) -> str:
        # Algorithm 1: u ~ U(0, 1); TVG if u < p, else a uniformly chosen inversion task.
        if rng.random() < self.tvg_probability:
            return "tvg"
        return self.inversion_tasks[int(rng.integers(len(self.inversion_tasks)))]

    def sample(self, iteration: int, keys: Sequence[str]) -> list[str]:
        """The task of each prompt of iteration `iteration`; `keys` identify the prompts (e.g. query ids)."""
        if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
            raise ValueError(f"iteration must be a non-negative int, got {iteration!r}")
        if self.mixing == "per_iteration":
            task = self._draw(np.random.default_rng([self.seed, iteration]))
            return [task] * len(keys)
        return [self._draw(np.random.default_rng([self.seed, iteration, _stable_hash(str(k))])) for k in keys]


def row_name(row: dict, index: int) -> str:
    """How errors name a dataset row: its query id, else its index and video."""
    return f"qid {row['qid']!r}" if row.get("qid") is not None else f"row {index} ({row.get('video_id', '?')})"


def build_task_rows(
    rows: Sequence[dict],
    tasks: Sequence[str],
    lemmatizer=None,
    system_prompt: str | None = None,
    mask: str = "all",
    include_duration: bool = False,
) -> tuple[list[dict], int]:
    """Grounding rows turned into prompts of their tasks; returns (rows, number of inversion fallbacks).

    Each returned row is a copy with `prompt` (chat messages with one video part), `task`, the inversion
    columns (`masked_query`, `verb`, `verb_lemma`, `query_verbs`, `target`, from `build_inversion_examples`;
    left as they are, or `None`, for TVG rows) and `clip`: the `(start, end)` seconds the model sees, the whole
    video `(0.0, None)` for TVG and the first ground-truth window for an inversion task. A query without a verb
    cannot make an inversion prompt: its row becomes a TVG row, with a warning, and is counted. `mask` is how
    many verbs the VC prompt masks (``"all"``, the paper, or ``"one"``); `include_duration` puts the video's
    duration in the TVG prompt (the official template has none).
    """
    if len(rows) != len(tasks):
        raise ValueError(f"got {len(rows)} rows but {len(tasks)} tasks")
    rows = [dict(row) for row in rows]
    for i, row in enumerate(rows):
        for name in ("query", "duration", "windows", "video"):
            if row.get(name) is None:
                raise ValueError(f"{row_name(row, i)}: grounding rows need a {name!r} column")
    tasks = list(tasks)
    fallbacks = 0
    inversion = [i for i, t in enumerate(tasks) if t != "tvg"]
    if inversion:
        lemmatizer = lemmatizer or default_lemmatizer()
        for i, found in zip(inversion, lemmatizer.verb_tokens([rows[i]["query"] for i in inversion])):
            if select_target_verb(found) is None:
                logger.warning(
                    "%s: query %r has no verb; used as a TVG prompt instead of %r",
                    row_name(rows[i], i),
                    rows[i]["query"],
                    tasks[i],
                )
                tasks[i] = "tvg"
                fallbacks += 1
        inversion = [i for i in inversion if tasks[i] != "tvg"]
    queries = [rows[i]["query"] for i in inversion]
    examples = dict(zip(inversion, build_inversion_examples(queries, [tasks[i] for i in inversion], lemmatizer, mask)))
    for i, (row, task) in enumerate(zip(rows, tasks)):
        if task == "tvg":
            row["prompt"] = task_messages(
                "tvg",
                system_prompt,
                query=row["query"],
                duration=float(row["duration"]),
                include_duration=include_duration,
            )
            row["clip"] = (0.0, None)
            for name in INVERSION_COLUMNS:
                row.setdefault(name, None)
        else:
            example = examples[i]
            row["prompt"] = task_messages(task, system_prompt, masked_query=example["masked_query"])
            for name in INVERSION_COLUMNS:
                row[name] = example[name]
            window = row["windows"][0]
            start, end = float(window[0]), float(window[1])
            if not 0 <= start < end:
                raise ValueError(f"{row_name(row, i)}: its first window {list(window)} is not a valid [start, end]")
            row["clip"] = (start, end)
        row["task"] = task
    return rows, fallbacks
