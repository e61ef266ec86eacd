"""The text side of ActionVLM: the instruction prompt that lists the candidate actions with their descriptions
(T_desc), and the ranked list of ground-truth proposals the language model is taught to write (L_tg).

Plain string functions, so that the prompt a checkpoint was trained with is reproducible from its config alone.
"""

import math
from collections.abc import Sequence

import torch

__all__ = [
    "DEFAULT_PROMPT_TEMPLATE",
    "DEFAULT_ACTION_TEMPLATE",
    "RANKED_LIST_PROMPT_TEMPLATE",
    "RANKED_LIST_ACTION_TEMPLATE",
    "DEFAULT_ANSWER_TEMPLATE",
    "DEFAULT_EMPTY_ANSWER",
    "PROPOSAL_ORDERS",
    "format_action_prompt",
    "format_proposal_answer",
]

# `{actions}`: one `action_template` line per class; `{names}`: the class names, comma-separated. The default is the
# instruction of the authors' THUMOS14 config (`base_prompt` of configs/actionVLM/thumos_InternVL.py in
# JiaqiLi404/ActionVLM): a task sentence, the list of actions, then "name: description" per class.
DEFAULT_PROMPT_TEMPLATE = (
    "This is a video reasoning for action localisation task. "
    "You should locate the start and end frames of the action in the video provided. "
    "The actions include: {names}.\n"
    "Here we provide the descriptions of each action:\n{actions}"
)
DEFAULT_ACTION_TEMPLATE = "{name}: {description}"
# momentzoo's earlier instruction (a bulleted list and the answer format), kept for checkpoints trained with it. Times
# in the answer are frame (feature-step) indices of the window, the unit the language model sees.
RANKED_LIST_PROMPT_TEMPLATE = (
    "Candidate actions:\n{actions}\n"
    "List every action in the video, ranked by start frame, one per line as 'rank. action: start-end'."
)
RANKED_LIST_ACTION_TEMPLATE = "- {name}: {description}"
DEFAULT_ANSWER_TEMPLATE = "{rank}. {name}: {start}-{end}"
DEFAULT_EMPTY_ANSWER = "none"
PROPOSAL_ORDERS = ("start", "length")


def format_action_prompt(
    class_names: Sequence[str],
    class_descriptions: Sequence[str] | None,
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE,
    action_template: str = DEFAULT_ACTION_TEMPLATE,
) -> str:
    """The instruction listing every class with its description (the class name alone when `class_descriptions`
    is None or an entry is empty)."""
    if class_descriptions is not None and len(class_descriptions) != len(class_names):
        raise ValueError(
            f"class_descriptions has {len(class_descriptions)} entries but there are {len(class_names)} classes"
        )
    lines = []
    for index, name in enumerate(class_names):
        description = (class_descriptions[index] if class_descriptions is not None else "") or name
        lines.append(action_template.format(name=name, description=description, index=index))
    return prompt_template.format(actions="\n".join(lines), names=", ".join(class_names))


def _frame(value: float) -> str:
    return str(int(math.floor(value + 0.5)))


def format_proposal_answer(
    segments,
    class_ids,
    class_names: Sequence[str],
    order: str = "start",
    max_proposals: int | None = None,
    answer_template: str = DEFAULT_ANSWER_TEMPLATE,
    empty_answer: str = DEFAULT_EMPTY_ANSWER,
) -> str:
    """Ground-truth proposals as a ranked textual list, e.g. `"1. open door: 12-30\\n2. close door: 41-60"`.

    Args:
        segments: `(n, 2)` `[start, end]` in feature steps of the window (rounded to whole frames).
        class_ids: `(n,)` class ids into `class_names`.
        order: `"start"` ranks by start frame (ties: shorter first), `"length"` by decreasing length.
        max_proposals: keep only the first proposals of the ranking (bounds the language model's sequence).
    Returns `empty_answer` when there is no proposal.
    """
    if order not in PROPOSAL_ORDERS:
        raise ValueError(f"order must be one of {PROPOSAL_ORDERS}, got {order!r}")
    segments = torch.as_tensor(segments, dtype=torch.float64).reshape(-1, 2)
    class_ids = torch.as_tensor(class_ids).reshape(-1)
    if class_ids.shape[0] != segments.shape[0]:
        raise ValueError(f"{segments.shape[0]} segments but {class_ids.shape[0]} class ids")
    if segments.shape[0] == 0:
        return empty_answer
    starts, ends = segments[:, 0].tolist(), segments[:, 1].tolist()
    if order == "start":
        ranking = sorted(range(len(starts)), key=lambda i: (starts[i], ends[i] - starts[i], i))
    else:
        ranking = sorted(range(len(starts)), key=lambda i: (-(ends[i] - starts[i]), starts[i], i))
    if max_proposals is not None:
        ranking = ranking[:max_proposals]
    lines = []
    for rank, i in enumerate(ranking, start=1):
        label = int(class_ids[i])
        if not 0 <= label < len(class_names):
            raise ValueError(f"class id {label} is outside [0, {len(class_names)})")
        lines.append(
            answer_template.format(rank=rank, name=class_names[label], start=_frame(starts[i]), end=_frame(ends[i]))
        )
    return "\n".join(lines)
