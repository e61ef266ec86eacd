"""TimeExpert's token format (TRACE's causal event modelling): timestamps and scores with vocabularies of their own.

A timestamp is written with 4 integer digits, '.', 1 fraction digit (9.56 -> `0009.6`, 102.84 -> `0102.8`) and a
score as `f"{score:0>3.1f}"` (3.14 -> `3.1`). Both are spelt with 13-token vocabularies: `<sync>`, `<sep>`, the
digits 0-9 and `.`. An answer is a sequence of events, each

    time tokens (timestamps joined by <sep>) <sync> score tokens (joined by <sep>) <sync> caption <sync>

where the first `<sync>` comes from the time vocabulary, the second from the score vocabulary and the third is a
text token; a missing part is empty (general answers are `<sync><sync>answer<sync>`). The model's unified vocabulary
is `[text ids | 13 time ids | 13 score ids]` (`TimeExpertTokenLayout`), so one id sequence holds all three.

Event strings (`"0009.6<sep>0015.2<sync><sync>a person opens the door<sync>"`) are the readable form of the same
thing; `parse_event_string` checks them strictly, `safe_parse_events` reads a model's answer and never raises.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from numbers import Real

__all__ = [
    "MAX_TIMESTAMP",
    "SEP_TOKEN",
    "SYNC_TOKEN",
    "TASK_TYPES",
    "TIME_TOKENS_PER_TIMESTAMP",
    "TIME_VOCABULARY",
    "VIDEO_PLACEHOLDER",
    "TimeExpertEvent",
    "TimeExpertFormatError",
    "TimeExpertProcessor",
    "TimeExpertTokenLayout",
    "events_to_string",
    "format_score",
    "format_timestamp",
    "parse_event_string",
    "parse_score",
    "parse_timestamp",
    "safe_parse_events",
    "task_index",
]

SYNC_TOKEN = "<sync>"
SEP_TOKEN = "<sep>"
VIDEO_PLACEHOLDER = "<|video_pad|>"  # the text token each visual token replaces
# Index order of the time and of the score vocabulary (both have 13 tokens).
TIME_VOCABULARY = (SYNC_TOKEN, SEP_TOKEN, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ".")
TIME_TOKENS_PER_TIMESTAMP = 6  # 4 integer digits, '.', 1 fraction digit
MAX_TIMESTAMP = 9999.9
# The four task types of the paper; A_t (the activation rates of the gate) is kept per type.
TASK_TYPES = ("general", "dense_captioning", "moment_retrieval", "highlight_detection")

_TIMESTAMP = re.compile(r"\d{4}\.\d")
_SCORE = re.compile(r"\d+\.\d")


class TimeExpertFormatError(ValueError):
    """A timestamp, score or event string that does not follow TimeExpert's token format."""


def task_index(task: str) -> int:
    """The index of a task type name (`TASK_TYPES`); a clear error for anything else."""
    if task not in TASK_TYPES:
        raise ValueError(f"unknown TimeExpert task type {task!r}; known: {list(TASK_TYPES)}")
    return TASK_TYPES.index(task)


def format_timestamp(seconds: float, duration: float | None = None) -> str:
    """`seconds` rounded to 0.1 s as 4 integer digits, '.', 1 fraction digit: 9.56 -> `0009.6`."""
    if isinstance(seconds, bool) or not isinstance(seconds, Real) or not math.isfinite(seconds) or seconds < 0:
        raise TimeExpertFormatError(f"a timestamp must be a finite number of seconds >= 0, got {seconds!r}")
    if duration is not None and seconds > duration + 1e-6:
        raise TimeExpertFormatError(f"timestamp {seconds} s is beyond the end of the video ({duration} s)")
    # Round half up on the decimal value (9.55 -> 9.6), not on the binary float (round(9.55, 1) == 9.5).
    tenths = math.floor(float(seconds) * 10 + 0.5 + 1e-9)
    if tenths > MAX_TIMESTAMP * 10:
        raise TimeExpertFormatError(f"timestamp {seconds} s does not fit 4 integer digits (max {MAX_TIMESTAMP})")
    return f"{tenths // 10:04d}.{tenths % 10}"


def parse_timestamp(text: str) -> float:
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise TimeExpertFormatError(f"a timestamp is 4 digits, '.', 1 digit (e.g. 0009.6), got {text!r}")
    return float(text)


def format_score(score: float) -> str:
    """A score as `0>3.1f` (3.14 -> `3.1`); scores are >= 0."""
    if isinstance(score, bool) or not isinstance(score, Real) or not math.isfinite(score) or score < 0:
        raise TimeExpertFormatError(f"a score must be a finite number >= 0, got {score!r}")
    return f"{float(score):0>3.1f}"


def parse_score(text: str) -> float:
    if not isinstance(text, str) or not _SCORE.fullmatch(text):
        raise TimeExpertFormatError(f"a score is digits, '.', 1 digit (e.g. 3.1), got {text!r}")
    return float(text)


@dataclass
class TimeExpertEvent:
    """One event of an answer: its timestamps (seconds; `[start, end]` for a window, one per clip for highlight
    detection), its scores and its caption. Any part may be empty."""

    timestamps: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    caption: str = ""

    def check(self, duration: float | None = None, where: str = "event") -> None:
        for t in self.timestamps:
            try:
                format_timestamp(t, duration)
            except TimeExpertFormatError as error:
                raise TimeExpertFormatError(f"{where}.timestamps: {error}") from None
        for s in self.scores:
            try:
                format_score(s)
            except TimeExpertFormatError as error:
                raise TimeExpertFormatError(f"{where}.scores: {error}") from None
        if not isinstance(self.caption, str):
            raise TimeExpertFormatError(f"{where}.caption must be a string, got {type(self.caption).__name__}")
        if SYNC_TOKEN in self.caption or SEP_TOKEN in self.caption:
            raise TimeExpertFormatError(
                f"{where}.caption must not contain {SYNC_TOKEN} or {SEP_TOKEN}: {self.caption!r}"
            )


def events_to_string(events, duration: float | None = None) -> str:
    """The event string of `events` (see the module doc); timestamps beyond `duration` are an error."""
    parts = []
    for index, event in enumerate(events):
        event.check(duration, where=f"events[{index}]")
        times = SEP_TOKEN.join(format_timestamp(t) for t in event.timestamps)
        scores = SEP_TOKEN.join(format_score(s) for s in event.scores)
        parts.append(f"{times}{SYNC_TOKEN}{scores}{SYNC_TOKEN}{event.caption}{SYNC_TOKEN}")
    return "".join(parts)


def parse_event_string(text: str, duration: float | None = None) -> list[TimeExpertEvent]:
    """The events of an event string; anything malformed raises `TimeExpertFormatError` saying where."""
    if not isinstance(text, str):
        raise TimeExpertFormatError(f"an event string must be a string, got {type(text).__name__}")
    fields = text.split(SYNC_TOKEN)
    if fields[-1].strip():
        raise TimeExpertFormatError(f"event string does not end with {SYNC_TOKEN}: trailing {fields[-1]!r}")
    fields = fields[:-1]
    if len(fields) % 3:
        raise TimeExpertFormatError(
            f"event string has {len(fields)} {SYNC_TOKEN}-separated fields; every event has 3 (times, scores, caption)"
        )
    events = []
    for index in range(0, len(fields), 3):
        where = f"event {index // 3}"
        times, scores, caption = fields[index : index + 3]
        try:
            timestamps = [parse_timestamp(t) for t in times.split(SEP_TOKEN)] if times else []
            values = [parse_score(s) for s in scores.split(SEP_TOKEN)] if scores else []
        except TimeExpertFormatError as error:
            raise TimeExpertFormatError(f"{where}: {error}") from None
        if SEP_TOKEN in caption:
            raise TimeExpertFormatError(f"{where}: the caption holds {SEP_TOKEN}: {caption!r}")
        event = TimeExpertEvent(timestamps, values, caption.strip())
        event.check(duration, where=where)
        events.append(event)
    return events


def safe_parse_events(text: str, duration: float | None = None) -> list[TimeExpertEvent]:
    """The well-formed events of a model's answer (a malformed answer gives [], never an exception)."""
    try:
        return parse_event_string(text, duration)
    except TimeExpertFormatError:
        return []


@dataclass(frozen=True)
class TimeExpertTokenLayout:
    """Where the time and score vocabularies sit in the model's unified vocabulary: text ids `[0, text_vocab_size)`,
    then the 13 time ids, then the 13 score ids. `text_sync_id` is the text tokenizer's `<sync>` (the caption's
    closing token) and `eos_token_id` the text tokenizer's end of answer."""

    text_vocab_size: int
    text_sync_id: int
    eos_token_id: int

    @property
    def time_offset(self) -> int:
        return self.text_vocab_size

    @property
    def score_offset(self) -> int:
        return self.text_vocab_size + len(TIME_VOCABULARY)

    @property
    def vocab_size(self) -> int:
        return self.text_vocab_size + 2 * len(TIME_VOCABULARY)

    @property
    def time_sync_id(self) -> int:
        return self.time_offset + TIME_VOCABULARY.index(SYNC_TOKEN)

    @property
    def score_sync_id(self) -> int:
        return self.score_offset + TIME_VOCABULARY.index(SYNC_TOKEN)

    @property
    def sync_ids(self) -> tuple[int, int, int]:
        return (self.time_sync_id, self.score_sync_id, self.text_sync_id)

    def _spell(self, text: str, offset: int) -> list[int]:
        ids = []
        for match in re.finditer(r"<sync>|<sep>|.", text):
            token = match.group()
            if token not in TIME_VOCABULARY:
                raise TimeExpertFormatError(f"{token!r} is not in the 13-token time/score vocabulary")
            ids.append(offset + TIME_VOCABULARY.index(token))
        return ids

    def time_ids(self, text: str) -> list[int]:
        """Unified ids of a time string, e.g. `"0009.6<sep>0015.2"`."""
        return self._spell(text, self.time_offset)

    def score_ids(self, text: str) -> list[int]:
        return self._spell(text, self.score_offset)

    def timestamp_ids(self, seconds: float, duration: float | None = None) -> list[int]:
        """The 6 unified ids of one timestamp (9.56 -> the time tokens `0 0 0 9 . 6`)."""
        return self.time_ids(format_timestamp(seconds, duration))

    def encode_events(self, events, tokenizer, duration: float | None = None) -> list[int]:
        """Unified ids of an answer: each event's time tokens, time `<sync>`, score tokens, score `<sync>`, caption
        text tokens, text `<sync>`; then the end-of-answer token."""
        ids = []
        for index, event in enumerate(events):
            event.check(duration, where=f"events[{index}]")
            ids += self.time_ids("<sep>".join(format_timestamp(t) for t in event.timestamps)) + [self.time_sync_id]
            ids += self.score_ids("<sep>".join(format_score(s) for s in event.scores)) + [self.score_sync_id]
            if event.caption:
                ids += tokenizer(event.caption, add_special_tokens=False)["input_ids"]
            ids.append(self.text_sync_id)
        return ids + [self.eos_token_id]

    def head_of(self, token_id: int) -> int:
        """0 text, 1 time, 2 score."""
        if token_id < self.time_offset:
            return 0
        return 1 if token_id < self.score_offset else 2

    def decode_to_string(self, ids, tokenizer) -> str:
        """The event string of generated unified ids (stops at the end-of-answer token; other text specials are
        dropped)."""
        pieces, text = [], []

        def flush():
            if text:
                pieces.append(tokenizer.decode(text, skip_special_tokens=True))
                text.clear()

        for token in (int(i) for i in ids):
            if token == self.eos_token_id:
                break
            if token == self.text_sync_id:
                flush()
                pieces.append(SYNC_TOKEN)
            elif token >= self.score_offset:
                flush()
                pieces.append(TIME_VOCABULARY[token - self.score_offset])
            elif token >= self.time_offset:
                flush()
                pieces.append(TIME_VOCABULARY[token - self.time_offset])
            else:
                text.append(token)
        flush()
        return "".join(pieces)


class TimeExpertProcessor:
    """Builds TimeExpert's inputs: per frame its 6 timestamp tokens and `num_visual_tokens` video placeholders, then
    the prompt, then (for training) the answer in the event format, with `labels` on the answer only. `decode`
    turns generated ids back into an event string."""

    def __init__(self, tokenizer, layout: TimeExpertTokenLayout, video_token_id: int, num_visual_tokens: int):
        self.tokenizer = tokenizer
        self.layout = layout
        self.video_token_id = video_token_id
        self.num_visual_tokens = num_visual_tokens

    @classmethod
    def from_config(cls, tokenizer, config) -> TimeExpertProcessor:
        if config.video_token_id is None:
            raise ValueError("TimeExpertConfig.video_token_id is not set (from_backbones sets it)")
        return cls(tokenizer, config.token_layout, config.video_token_id, config.num_visual_tokens_per_frame)

    def frame_ids(self, frame_times, duration: float | None = None) -> list[int]:
        ids = []
        for index, t in enumerate(frame_times):
            try:
                ids += self.layout.timestamp_ids(float(t), duration)
            except TimeExpertFormatError as error:
                raise TimeExpertFormatError(f"frame_times[{index}]: {error}") from None
            ids += [self.video_token_id] * self.num_visual_tokens
        return ids

    def __call__(
        self, frame_times, prompt: str, events=None, task: str = "moment_retrieval", duration: float | None = None
    ) -> dict:
        """`{"input_ids", "labels", "task_ids"}` (lists) of one sample; `events` None gives the prompt alone (for
        `generate`). Timestamps beyond `duration` (frames' or events') are an error."""
        task_id = task_index(task)
        if not isinstance(prompt, str):
            raise TimeExpertFormatError(f"prompt must be a string, got {type(prompt).__name__}")
        ids = self.frame_ids(frame_times, duration) + self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        labels = [-100] * len(ids)
        if events is not None:
            answer = self.layout.encode_events(events, self.tokenizer, duration)
            ids, labels = ids + answer, labels + answer
        return {"input_ids": ids, "labels": labels, "task_ids": task_id}

    def decode(self, ids) -> str:
        """The event string of generated ids (the part after the prompt)."""
        return self.layout.decode_to_string(ids, self.tokenizer)
