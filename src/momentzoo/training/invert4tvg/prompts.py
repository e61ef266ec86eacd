"""The prompts of Invert4TVG's four tasks and the reference answers used for supervised warm-up.

Every prompt asks for the answer format the rewards check (``momentzoo.rewards``): TVG asks for reasoning
inside ``<think> </think>``, then ``<answer>t_s to t_e</answer>`` in seconds; the inversion tasks ask for the
``<answer> </answer>`` block alone, as the official code's verb-completion prompt does. Prompts are chat messages with one video part, which Qwen's chat
template writes as ``<|vision_start|><|video_pad|><|vision_end|>``, after the instruction (the official order). This module imports nothing heavy, so the
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

# TVG: the official Invert4TVG code's QUESTION_TEMPLATE (Time-R1's), word for word; the video's duration is not
# in it (``include_duration=True`` prepends "The video lasts D seconds.").
# VC: the official code's QUESTION_TEMPLATE2, word for word, with the masked query as the event.
# AR and VD: the paper's text could not be retrieved; they are written in the VC template's form and ask for
# the same ``<answer> </answer>`` block (see the model card).
_PROMPTS = {
    "tvg": (
        'To accurately pinpoint the event "{query}" in the video, determine the precise time period of the event.\n\n'
        "Output your thought process within the <think> </think> tags, including analysis with either specific "
        "timestamps (xx.xx) or time ranges (xx.xx to xx.xx) in <timestep> </timestep> tags.\n\n"
        'Then, provide the start and end times (in seconds, precise to two decimal places) in the format "start time '
        'to end time" within the <answer> </answer> tags. For example: "12.54 to 17.83".'
    ),
    "vc": (
        'Add a verb for the following event "{masked_query}" based on the video to make it a complete sentence.\n'
        "provide the complete sentence based on the video within the <answer> </answer> tags. "
        "For example <answer>person close the door</answer>."
    ),
    "ar": (
        "Recognize the action the person performs in the video.\n"
        "provide the action as a single verb within the <answer> </answer> tags. For example <answer>close</answer>."
    ),
    "vd": (
        "Describe what the person does in the video in one sentence.\n"
        "provide the description within the <answer> </answer> tags. "
        "For example <answer>a person closes the door</answer>."
    ),
}
_DURATION = "The video lasts {duration} seconds. "
_REQUIRED = {"tvg": ("query",), "vc": ("masked_query",), "ar": (), "vd": ()}


def format_seconds(t: float) -> str:
    """A time as the answers write it: two decimals (``12.50``)."""
    return f"{float(t):.2f}"


def task_prompt(
    task: str,
    query: str | None = None,
    duration: float | None = None,
    masked_query: str | None = None,
    include_duration: bool = False,
) -> str:
    """The instruction text of `task` (``"tvg"``, ``"vc"``, ``"ar"`` or ``"vd"``).

    TVG needs the `query` (and the video `duration` in seconds when `include_duration`, which prepends it; the
    official template has no duration); VC needs the `masked_query` (the query with its verbs replaced by
    ``[]``); AR and VD need nothing but the clip.
    """
    if task not in _PROMPTS:
        raise ValueError(f"task must be one of {sorted(_PROMPTS)}, got {task!r}")
    fields = {"query": query, "duration": duration, "masked_query": masked_query}
    for name in _REQUIRED[task] + (("duration",) if task == "tvg" and include_duration else ()):
        value = fields[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(f"the {task!r} prompt needs a non-empty {name!r}, got {value!r}")
    if task == "tvg":
        prompt = _PROMPTS[task].format(query=query.strip())
        if not include_duration:
            return prompt
        if (
            isinstance(duration, bool)
            or not isinstance(duration, (int, float))
            or not (math.isfinite(duration) and duration > 0)
        ):
            raise ValueError(f"the 'tvg' prompt needs a positive duration in seconds, got {duration!r}")
        return _DURATION.format(duration=format_seconds(duration)) + prompt
    if task == "vc":
        if "[]" not in masked_query:
            raise ValueError(f"the 'vc' prompt needs a masked_query containing '[]', got {masked_query!r}")
        return _PROMPTS[task].format(masked_query=masked_query.strip())
    return _PROMPTS[task]


def task_messages(task: str, system_prompt: str | None = None, **fields) -> list[dict]:
    """The chat messages of one prompt: an optional system message, then the user turn with the instruction
    before the video, as the official code orders them."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append(
        {"role": "user", "content": [{"type": "text", "text": task_prompt(task, **fields)}, {"type": "video"}]}
    )
    return messages


def reference_answer(
    task: str, query: str, windows: Sequence[Sequence[float]] | None = None, verb_lemma: str | None = None
) -> str:
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
        return f"<answer>{verb_lemma}</answer>"
    return f"<answer>{query}</answer>"
