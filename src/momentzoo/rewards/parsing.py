"""The one parser of model answers, shared by the rewards, the grounding metric and the grounding pipeline.

A completion is expected in the form ``<think>reasoning</think> <answer>t_s to t_e</answer>``. Parsing is
split in two independent checks:

* :func:`parse_format` is the *strict* structural check behind ``r_format``.
* :func:`extract_answer` / :func:`parse_window` are *tolerant* readers of the answer's content, so a window
  is still read (and can earn ``r_IoU``) when the format is slightly off; the format reward punishes that.

Answer extraction (``strict=False``):

* exactly one ``<answer>...</answer>`` pair -> its content; an unclosed ``<answer>`` (a generation cut at
  ``max_completion_length``) -> everything after it;
* no ``<answer>`` tag -> the text after ``</think>`` (or the whole text when there is no think block;
  an unclosed ``<think>`` means everything is reasoning -> nothing);
* two or more ``<answer>`` (or ``</answer>``) tags, a ``</answer>`` before the ``<answer>``, think tags
  inside the answer, a blank answer, or a completion longer than :data:`MAX_COMPLETION_CHARS` -> ``None``.

Tags are matched exactly (lower case). With ``strict=True`` only a closed, single answer pair is accepted.

Window grammar (searched inside the answer, first match wins)::

    window := time [unit] sep time [unit]
    time   := digits{1,9} ["." digits{1,6}]   |   [hh ":"] mm ":" ss ["." digits{1,6}]
    unit   := s | sec | secs | second | seconds | min | mins | minute | minutes
    sep    := to | until | till | through | and | "-" | "--" | en/em dash | "~" | ","

so ``12.3 to 15``, ``12.3 - 15``, ``from 12.3s to 15s``, ``between 12.3 and 15.0 seconds``,
``[12.3, 15.0]`` and ``00:12 to 00:15`` all give ``(12.3, 15.0)`` or ``(12.0, 15.0)``. A unit written once
applies to both times (``1 to 2 minutes`` is ``(60, 120)``). A time preceded by a sign, a letter or another
digit is not a time (``-5 to 10`` and ``1e308 to 5`` give ``None``: no negative or exponent numbers), so
values are always finite and non-negative. A reversed window (``15 to 12``) is ``None`` (it earns 0), a
zero-length one is returned as is (it has IoU 0 with anything). Clock fields must be < 60 where they are
minutes or seconds of a larger unit.

All patterns are linear: every repetition is bounded, so matching costs O(len) however adversarial the
input; completions are also capped at :data:`MAX_COMPLETION_CHARS` and answers at :data:`MAX_ANSWER_CHARS`
before any regular expression runs.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "MAX_COMPLETION_CHARS",
    "MAX_ANSWER_CHARS",
    "completion_text",
    "extract_answer",
    "parse_format",
    "parse_answer_format",
    "parse_window",
    "parse_windows",
]

MAX_COMPLETION_CHARS = 65_536
"""Completions longer than this are malformed (a video LLM's generation budget is a few thousand characters)."""
MAX_ANSWER_CHARS = 4_096
"""Answer contents longer than this are malformed."""

THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "<think>", "</think>", "<answer>", "</answer>"

_NUM = r"\d{1,9}(?:\.\d{1,6})?"
_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{1,2}(?:\.\d{1,6})?"
# A time must not continue (more digits, a decimal part beyond the bound, or another clock field).
_TIME = rf"(?:{_CLOCK}|{_NUM})(?![\d:]|\.\d)"
_UNIT = r"(?:[ \t]{0,3}(?P<NAME>seconds|second|secs|sec|s|minutes|minute|mins|min)\b)?"
_SEP = r"[ \t]{0,3}(?:(?:to|until|till|through|and)\b|--?|[\u2013\u2014~,])[ \t]{0,3}"
_WINDOW = (
    rf"(?<![\w.:+\-\u2212])(?P<start>{_TIME}){_UNIT.replace('NAME', 'unit_s')}"
    rf"{_SEP}(?P<end>{_TIME}){_UNIT.replace('NAME', 'unit_e')}"
)
_WINDOW_RE = re.compile(_WINDOW, re.IGNORECASE)
# The strict TVG answer: nothing but an optional "from"/"between", one window and an optional full stop.
_WINDOW_ONLY_RE = re.compile(
    rf"[ \t\n]{{0,8}}(?:(?:from|between)[ \t]{{1,3}})?{_WINDOW}[ \t]{{0,3}}\.?[ \t\n]{{0,8}}", re.IGNORECASE
)
_MAX_WINDOWS = 100


def completion_text(completion: Any) -> str:
    """The text of one completion as TRL passes it: a string, or a chat list ``[{"role": "assistant",
    "content": str | [{"type": "text", "text": str}, ...]}]`` (the last message counts).

    An unreadable chat list gives ``""`` (it scores 0); a value that is neither a string nor a list is a
    programming error and raises ``TypeError``.
    """
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, (list, tuple)):
        raise TypeError(f"a completion must be a str or a list of chat messages, got {type(completion).__name__}")
    if not completion or not isinstance(completion[-1], dict):
        return ""
    content = completion[-1].get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type", "text") == "text"]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def extract_answer(text: Any, strict: bool = False) -> str | None:
    """The stripped content of the answer block of `text`, or ``None`` when there is none (see module doc)."""
    if not isinstance(text, str) or len(text) > MAX_COMPLETION_CHARS:
        return None
    n_open, n_close = text.count(ANSWER_OPEN), text.count(ANSWER_CLOSE)
    if n_open > 1 or n_close > 1:
        return None
    if n_open == 1:
        begin = text.index(ANSWER_OPEN) + len(ANSWER_OPEN)
        end = text.find(ANSWER_CLOSE, begin)
        if end == -1:
            if n_close or strict:  # a closing tag before the opening one, or an unclosed answer in strict mode
                return None
            end = len(text)
        content = text[begin:end]
    elif strict or n_close:
        return None
    elif THINK_CLOSE in text:
        content = text[text.rindex(THINK_CLOSE) + len(THINK_CLOSE) :]
    elif THINK_OPEN in text:
        return None
    else:
        content = text
    if THINK_OPEN in content or THINK_CLOSE in content:
        return None
    content = content.strip()
    if not content or len(content) > MAX_ANSWER_CHARS:
        return None
    return content


def parse_format(text: Any, require_window: bool = False) -> bool:
    """Whether `text` is exactly ``<think>T</think> <answer>A</answer>``.

    Whitespace is free around the whole completion and between ``</think>`` and ``<answer>`` (none needed);
    T and A must not be blank, each tag must occur exactly once and nothing else may stand outside the two
    blocks. With ``require_window=True`` A must also be a window and nothing else (an optional leading
    ``from``/``between`` and a trailing full stop allowed), as the TVG format ``<answer>t_s to t_e</answer>``.
    """
    if not isinstance(text, str) or len(text) > MAX_COMPLETION_CHARS:
        return False
    s = text.strip()
    if not (s.startswith(THINK_OPEN) and s.endswith(ANSWER_CLOSE)):
        return False
    if any(s.count(tag) != 1 for tag in (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return False
    think_end, answer_begin = s.index(THINK_CLOSE), s.index(ANSWER_OPEN)
    if answer_begin < think_end:
        return False
    between = s[think_end + len(THINK_CLOSE) : answer_begin]
    if between and not between.isspace():
        return False
    think = s[len(THINK_OPEN) : think_end]
    answer = s[answer_begin + len(ANSWER_OPEN) : -len(ANSWER_CLOSE)]
    if not think.strip() or not answer.strip():
        return False
    if require_window:
        if len(answer) > MAX_ANSWER_CHARS:
            return False
        match = _WINDOW_ONLY_RE.fullmatch(answer)
        return match is not None and _window_from_match(match) is not None
    return True


def parse_answer_format(text: Any) -> bool:
    """Whether `text` is ``<answer>A</answer>`` alone, or ``<think>T</think> <answer>A</answer>``
    (`parse_format`), with a non-blank A: the format of the inversion tasks' prompts."""
    if not isinstance(text, str) or len(text) > MAX_COMPLETION_CHARS:
        return False
    s = text.strip()
    if s.startswith(THINK_OPEN):
        return parse_format(s)
    if not (s.startswith(ANSWER_OPEN) and s.endswith(ANSWER_CLOSE)) or THINK_OPEN in s or THINK_CLOSE in s:
        return False
    if s.count(ANSWER_OPEN) != 1 or s.count(ANSWER_CLOSE) != 1:
        return False
    return bool(s[len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip())


def parse_window(text: Any, strict: bool = False) -> tuple[float, float] | None:
    """The first window ``(t_s, t_e)`` in seconds in the answer of `text`, or ``None`` (malformed, reversed)."""
    answer = extract_answer(text, strict=strict)
    if answer is None:
        return None
    match = _WINDOW_RE.search(answer)
    return None if match is None else _window_from_match(match)


def parse_windows(text: Any, strict: bool = False, max_windows: int = _MAX_WINDOWS) -> list[tuple[float, float]]:
    """Every well-formed window in the answer of `text`, in order (reversed ones are not windows), at most
    `max_windows`; for metrics over several predictions (R@5, mAP)."""
    answer = extract_answer(text, strict=strict)
    if answer is None:
        return []
    windows = []
    for match in _WINDOW_RE.finditer(answer):
        window = _window_from_match(match)
        if window is not None:
            windows.append(window)
            if len(windows) >= max_windows:
                break
    return windows


def _seconds(time: str, unit: str | None) -> float | None:
    if ":" in time:
        fields = time.split(":")
        if any(float(f) >= 60 for f in fields[1:]):
            return None
        value = 0.0
        for f in fields:
            value = value * 60 + float(f)
        return value
    value = float(time)
    if unit is not None and unit.lower().startswith("min"):
        value *= 60
    return value


def _window_from_match(match: re.Match) -> tuple[float, float] | None:
    unit_s, unit_e = match.group("unit_s"), match.group("unit_e")
    start = _seconds(match.group("start"), unit_s if unit_s is not None else unit_e)
    end = _seconds(match.group("end"), unit_e if unit_e is not None else unit_s)
    if start is None or end is None or not (math.isfinite(start) and math.isfinite(end)) or end < start:
        return None
    return start, end
