"""Checks shared by every dataset builder: segments against the video's duration, labels against the
class list, paths from annotations against their data root.

Every check collects *all* problems of a file before raising, so one run tells the user everything
that is wrong; nothing is dropped without a warning that counts it.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "MomentZooDataWarning",
    "INVALID_SEGMENT_POLICIES",
    "SegmentCheck",
    "check_segments",
    "safe_join",
    "format_problems",
    "segment_pair",
    "segment_pairs",
    "integer_labels",
]

INVALID_SEGMENT_POLICIES = ("error", "drop")

# Lists of problems longer than this are cut in error messages (the count is always exact).
_MAX_LISTED = 200


class MomentZooDataWarning(UserWarning):
    """Raised (as a warning) when data is changed or left out while building a dataset: always counted."""


def format_problems(problems: Sequence[str], limit: int = _MAX_LISTED) -> str:
    lines = [f"  - {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)


@dataclass
class SegmentCheck:
    """What `check_segments` did to one file's segments; `raise_or_warn` reports it."""

    source: str
    errors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    clipped: list[str] = field(default_factory=list)

    def raise_or_warn(self, policy: str) -> None:
        if self.errors:
            hint = (
                " Pass invalid_segments='drop' to drop segments that start at or after the video's end "
                "(they are listed in a warning)."
                if policy == "error"
                else ""
            )
            raise ValueError(
                f"{self.source}: {len(self.errors)} invalid segment(s):\n{format_problems(self.errors)}\n{hint}".rstrip()
            )
        if self.dropped:
            warnings.warn(
                f"{self.source}: dropped {len(self.dropped)} segment(s) that start at or after the video's end "
                f"(invalid_segments='drop'):\n{format_problems(self.dropped)}",
                MomentZooDataWarning,
                stacklevel=3,
            )
        if self.clipped:
            warnings.warn(
                f"{self.source}: clipped {len(self.clipped)} segment(s) that run past the video's end to its "
                f"duration:\n{format_problems(self.clipped)}",
                MomentZooDataWarning,
                stacklevel=3,
            )


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def segment_pair(seg) -> tuple[float, float]:
    """`(start, end)` of one `[start, end]` segment, or a `ValueError` saying what it is instead. Two real numbers
    only: a string ("12" is not [1, 2]), a bool, a dict or three numbers are refused, never coerced."""
    if isinstance(seg, np.ndarray):
        seg = seg.tolist()
    elif hasattr(seg, "tolist") and not isinstance(seg, (str, bytes)):  # a torch tensor
        seg = seg.tolist()
    if not isinstance(seg, (list, tuple)) or len(seg) != 2 or not all(_is_real(v) for v in seg):
        raise ValueError(f"expected [start, end] as two numbers, got {seg!r}")
    return float(seg[0]), float(seg[1])


def segment_pairs(segments) -> np.ndarray:
    """A list of `[start, end]` segments (or an (n, 2) real array) as an (n, 2) float64 array. A flat list of
    numbers, strings, bools, dicts or complex values are a `ValueError` naming the first bad entry."""
    if hasattr(segments, "numpy") and not isinstance(segments, np.ndarray):  # a torch tensor
        segments = segments.detach().cpu().numpy()
    if isinstance(segments, np.ndarray) and segments.dtype != object:
        if segments.dtype.kind not in "iuf":
            raise ValueError(f"expected real [start, end] pairs, got an array of dtype {segments.dtype}")
        if segments.size == 0:
            return np.zeros((0, 2))
        if segments.ndim != 2 or segments.shape[1] != 2:
            raise ValueError(f"expected an (n, 2) array of [start, end] pairs, got shape {segments.shape}")
        return segments.astype(np.float64)
    if isinstance(segments, (str, bytes, dict)) or not isinstance(segments, (list, tuple, np.ndarray)):
        raise ValueError(f"expected a list of [start, end] pairs, got {segments!r}")
    out = np.zeros((len(segments), 2))
    for i, seg in enumerate(segments):
        try:
            out[i] = segment_pair(seg)
        except ValueError as err:
            raise ValueError(f"segment {i}: {err}") from None
    return out


def integer_labels(labels) -> np.ndarray:
    """Class ids as an int64 array; 1.7, True or "3" are a `ValueError`, never truncated or cast."""
    if hasattr(labels, "numpy") and not isinstance(labels, np.ndarray):
        labels = labels.detach().cpu().numpy()
    values = labels.reshape(-1).tolist() if isinstance(labels, np.ndarray) else labels
    if values is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, (list, tuple)):
        raise ValueError(f"expected a list of class ids, got {labels!r}")
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            if not (isinstance(v, float) and v.is_integer()):
                raise ValueError(f"label {i}: expected an integer class id, got {v!r}")
    return np.asarray(values, dtype=np.int64).reshape(-1)


def check_segments(
    segments: Iterable[Sequence[float]],
    duration: float,
    video_id: str,
    report: SegmentCheck,
    policy: str = "error",
    where: str = "",
) -> list[tuple[int, list[float]]]:
    """Validate one video's `[start, end]` segments (seconds) against its `duration`.

    Returns `(index, [start, end])` for the segments kept, in input order, so callers can keep the
    matching labels. A non-finite value, `end <= start`, or `start < 0` is always an error; a segment
    starting at or after `duration` is an error (`policy="error"`) or dropped (`policy="drop"`); one
    that ends after `duration` is clipped to it. Problems are recorded in `report` (named by video,
    segment and `where`, e.g. a line number), which the caller raises or warns once per file.
    """
    if policy not in INVALID_SEGMENT_POLICIES:
        raise ValueError(f"invalid_segments must be one of {INVALID_SEGMENT_POLICIES}, got {policy!r}")
    at = f" ({where})" if where else ""
    kept = []
    if isinstance(segments, (str, bytes, dict)) or not isinstance(segments, (list, tuple, np.ndarray)):
        report.errors.append(f"video {video_id!r}{at}: expected a list of [start, end] segments, got {segments!r}")
        return kept
    for i, seg in enumerate(segments):
        name = f"video {video_id!r}{at}, segment {i}"
        try:
            start, end = segment_pair(seg)
        except ValueError:
            report.errors.append(f"{name}: expected [start, end] seconds, got {seg!r}")
            continue
        if not (math.isfinite(start) and math.isfinite(end)):
            report.errors.append(f"{name}: non-finite value in [{start}, {end}]")
        elif end <= start:
            report.errors.append(f"{name}: end <= start in [{start}, {end}]")
        elif start < 0:
            report.errors.append(f"{name}: negative start in [{start}, {end}]")
        elif start >= duration:
            message = f"{name}: [{start}, {end}] starts at or after the video's end ({duration:.3f} s)"
            (report.errors if policy == "error" else report.dropped).append(message)
        else:
            if end > duration:
                report.clipped.append(f"{name}: [{start}, {end}] -> [{start}, {duration:.3f}]")
                end = duration
            kept.append((i, [start, end]))
    return kept


def safe_join(root: str | os.PathLike, name: str, what: str = "path") -> Path:
    """`root / name`, refusing names from annotations that would leave `root` (absolute paths, `..`,
    drive letters, NUL bytes). Lexical: a symlink the user placed inside `root` is theirs to follow."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"{what} {name!r} is not a valid relative path inside {str(root)!r}")
    root_norm = os.path.normpath(os.path.abspath(root))
    joined = os.path.normpath(os.path.join(root_norm, name))
    if os.path.isabs(name) or os.path.splitdrive(name)[0] or os.path.commonpath([root_norm, joined]) != root_norm:
        raise ValueError(f"{what} {name!r} escapes the data root {str(root)!r}")
    if joined == root_norm:
        raise ValueError(f"{what} {name!r} names the data root {str(root)!r} itself, not a file in it")
    return Path(joined)
