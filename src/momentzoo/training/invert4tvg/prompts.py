"""The prompts of Invert4TVG's four tasks and the reference answers used for supervised warm-up.

Every prompt asks for the answer format the rewards check (``momentzoo.rewards``): reasoning inside
``<think> </think>``, then the answer inside ``<answer> </answer>``; a grounding answer is
``<answer>t_s to t_e</answer>`` in seconds. Prompts are chat messages with one video part, which Qwen's chat
template writes as ``<|vision_start|><|video_pad|><|vision_end|>``. This module imports nothing heavy, so the
grounding pipeline and the evaluation script share it with the trainer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["TASK_NAMES", "task_prompt", "task_messages", "reference_answer", "format_seconds"]

TASK_NAMES = {
    "tvg": "temporal video grounding",
    "vc": "verb completion",
    "ar": "action recognition",
    "vd": "video description",
}
_FORMAT = "First think about it inside <think> </think>, then give your answer inside <answer> </answer>."

_PROMPTS = {
    "tvg": (
        'The video lasts {duration} seconds. When does this happen in it: "{query}"? '
        "First think about it inside <think> </think>, then give the start and end time in seconds inside "
        "<answer> </answer>, in the form <answer>12.50 to 17.80</answer>."
    ),
    "vc": (
        'This clip shows "{masked_query}", where [] stands for a missing verb. ' + _FORMAT
        + " The answer is the whole sentence with the missing verb filled in."
    ),
    "ar": "Which action does the person perform in this clip? " + _FORMAT + " The answer is a single verb.",
    "vd": "Describe what the people do in this clip. " + _FORMAT + " The answer is one sentence.",
}
_REQUIRED = {"tvg": ("query", "duration"), "vc": ("masked_query",), "ar": (), "vd": ()}


def format_seconds(t: float) -> str:
    """A time as the answers write it: two decimals (``12.50``)."""
    return f"{float(t):.2f}"


def task_prompt(task: str, query: str | None = None, duration: float | None = None, masked_query: str | None = None) -> str:
    """The instruction text of `task` (``"tvg"``, ``"vc"``, ``"ar"`` or ``"vd"``).

    TVG needs the `query` and the video `duration` (seconds); VC needs the `masked_query` (the query with its
    verb replaced by ``[]``); AR and VD need nothing but the clip.
    """
    if task not in _PROMPTS:
        raise ValueError(f"task must be one of {sorted(_PROMPTS)}, got {task!r}")
    fields = {"query": query, "duration": duration, "masked_query": masked_query}
    for name in _REQUIRED[task]:
        value = fields[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(f"the {task!r} prompt needs a non-empty {name!r}, got {value!r}")
    if task == "tvg":
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not (math.isfinite(duration) and duration > 0):
            raise ValueError(f"the 'tvg' prompt needs a positive duration in seconds, got {duration!r}")
        return _PROMPTS[task].format(query=query.strip(), duration=format_seconds(duration))
    if task == "vc":
        if "[]" not in masked_query:
            raise ValueError(f"the 'vc' prompt needs a masked_query containing '[]', got {masked_query!r}")
        return _PROMPTS[task].format(masked_query=masked_query.strip())
    return _PROMPTS[task]


def task_messages(task: str, system_prompt: str | None = None, **fields) -> list[dict]:
    """The chat messages of one prompt: an optional system message, then the user turn with the video
    before the instruction (as Qwen2.5-VL's examples place it)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": [{"type": "video"}, {"type": "text", "text": task_prompt(task, **fields)}]})
    return messages


def reference_answer(task: str, query: str, windows: Sequence[Sequence[float]] | None = None, verb_lemma: str | None = None) -> str:
    """A well-formed answer with full reward, for supervised warm-up (Invert-SFT) and for tests.

    TVG: the first ground-truth window; VC and VD: the query itself (it has the masked verb and describes the
    clip); AR: the verb's lemma.
    """
    if task not in _PROMPTS:
        raise ValueError(f"task must be one of {sorted(_PROMPTS)}, got {task!r}")
    query = query.strip()
    if task == "tvg":
        if not windows:
            raise ValueError(f"a 'tvg' reference answer needs a ground-truth window for query {query!r}")
        start, end = windows[0]
        return f"<think>I watch the video for the event.</think> <answer>{format_seconds(start)} to {format_seconds(end)}</answer>"
    if task == "ar":
        if not verb_lemma:
            raise ValueError(f"an 'ar' reference answer needs the verb lemma of query {query!r}")
        return f"<think>I watch the clip for the action.</think> <answer>{verb_lemma}</answer>"
    return f"<think>I watch the clip for the action.</think> <answer>{query}</answer>"
