"""JSON reading that refuses duplicate keys.

`json.load` keeps the last of two equal keys and drops the first without a word: a video listed twice in a
predictions file loses its first detections, a builder its first `database` entry. Every momentzoo reader of
user JSON goes through here, so a duplicate is an error naming the key and the file. No momentzoo imports: any
layer may use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DuplicateKeyError", "iter_object_member", "load_json_strict", "loads_strict", "reject_duplicate_keys"]


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


class _JSONStream:
    """A JSON text read in chunks, decoded one value at a time with `json.JSONDecoder.raw_decode`: only the value
    being decoded is in memory, never the whole document."""

    _WHITESPACE = " \t\n\r"

    def __init__(self, handle, source: str, chunk: int = 1 << 20):
        self.handle, self.source, self.chunk = handle, source, chunk
        self.buffer, self.pos, self.consumed, self.eof = "", 0, 0, False
        self.decoder = json.JSONDecoder(object_pairs_hook=reject_duplicate_keys)

    def _fill(self, size: int) -> None:
        try:
            data = self.handle.read(size)
        except UnicodeDecodeError as err:
            raise ValueError(f"{self.source}: not UTF-8 text ({err.reason})") from None
        self.consumed += self.pos
        self.buffer, self.pos = self.buffer[self.pos :] + data, 0
        self.eof = not data

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the text)."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in self._WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer) or self.eof:
                return self.buffer[self.pos : self.pos + 1]
            self._fill(self.chunk)

    def expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise ValueError(
                f"{self.source}: not valid JSON (expected {char!r} at character "
                f"{self.consumed + self.pos}, found {found or 'the end of the file'!r})"
            )
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        size = self.chunk
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as err:
                if self.eof:
                    raise ValueError(
                        f"{self.source}: not valid JSON ({err.msg} at character {self.consumed + err.pos})"
                    ) from None
            except DuplicateKeyError as err:
                raise DuplicateKeyError(f"{self.source}: {err}") from None
            except RecursionError:
                raise ValueError(f"{self.source}: JSON nested too deeply") from None
            else:
                if end < len(self.buffer) or self.eof:  # a number at the end of the buffer may continue
                    self.pos = end
                    return value
            self._fill(size)
            size *= 2  # a value longer than the buffer: read geometrically more, not chunk by chunk


def iter_object_member(path: str | os.PathLike, member: str) -> Iterator[tuple[str, Any]]:
    """The `(key, value)` pairs of the object `member` of the JSON object in `path`, decoded one pair at a time (a
    70 MB detections file is never held as Python objects at once). Duplicate keys anywhere are an error naming
    the key and the file; so are a top level that is not an object and a missing `member`."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            yield from _members(_JSONStream(handle, source), source, member)
    except OSError as err:
        raise ValueError(f"{source}: cannot read the file ({err.strerror or err})") from None


def _keys(stream: _JSONStream, source: str) -> Iterator[str]:
    """The keys of the object at the stream's position, each once (its value is next: the caller decodes it)."""
    stream.expect("{")
    seen = set()
    while stream.peek() != "}":
        if seen:
            stream.expect(",")
        key = stream.value()
        if not isinstance(key, str):
            raise ValueError(f"{source}: not valid JSON (an object key must be a string, got {key!r})")
        if key in seen:
            raise DuplicateKeyError(f"{source}: duplicate key {key!r} in a JSON object (the first value would be lost)")
        seen.add(key)
        stream.expect(":")
        yield key
    stream.expect("}")


def _members(stream: _JSONStream, source: str, member: str) -> Iterator[tuple[str, Any]]:
    """`iter_object_member` on an open stream."""
    if stream.peek() != "{":
        raise ValueError(f'{source}: expected a JSON object with a "{member}" object')
    found = False
    for key in _keys(stream, source):
        if key != member:
            stream.value()  # another top-level field: decoded (checked) and dropped
            continue
        found = True
        if stream.peek() != "{":
            raise ValueError(f'{source}: "{member}" must be an object mapping ids to entries')
        for name in _keys(stream, source):
            yield name, stream.value()
    if stream.peek():
        raise ValueError(f"{source}: not valid JSON (extra data after the top-level object)")
    if not found:
        raise ValueError(f'{source}: expected a JSON object with a "{member}" object')
