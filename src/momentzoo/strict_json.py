"""JSON reading that refuses duplicate keys.

`json.load` keeps the last of two equal keys and drops the first without a word: a video listed twice in a
predictions file loses its first detections, a builder its first `database` entry. Every momentzoo reader of
user JSON goes through here, so a duplicate is an error naming the key and the file. No momentzoo imports: any
layer may use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["DuplicateKeyError", "load_json_strict", "loads_strict", "reject_duplicate_keys"]


class DuplicateKeyError(ValueError):
    """A JSON object repeats a key (a `ValueError`, so callers' bad-input handling catches it)."""


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """`object_pairs_hook` for `json.load(s)`: the object as a dict, or `DuplicateKeyError` naming the key."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate key {key!r} in a JSON object (the first value would be lost)")
            seen.add(key)
    return obj


def loads_strict(text: str | bytes, source: str | os.PathLike = "<string>") -> Any:
    """`json.loads` that refuses duplicate keys; errors (bad JSON too) name `source`."""
    try:
        return json.loads(text, object_pairs_hook=reject_duplicate_keys)
    except DuplicateKeyError as err:
        raise DuplicateKeyError(f"{os.fspath(source)}: {err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{os.fspath(source)}: not valid JSON ({err})") from None
    except RecursionError:
        raise ValueError(f"{os.fspath(source)}: JSON nested too deeply") from None


def load_json_strict(path: str | os.PathLike, what: str = "file") -> Any:
    """Read and parse a UTF-8 JSON file, refusing duplicate keys; every error names the file (`what` it is)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{os.fspath(path)}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ValueError(f"{os.fspath(path)}: cannot read the {what} ({err.strerror or err})") from None
    return loads_strict(text, path)
