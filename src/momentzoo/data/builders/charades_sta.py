"""Charades-STA temporal grounding: one row per (video, sentence) query.

Two source formats (configs): `jsonl` (`{"qid", "query", "duration", "vid", "relevant_windows"}` per
line, seconds; the format of the moment-retrieval codebases) and `txt`, the original release
(`VID START END##sentence` per line) with durations from the Charades CSVs (`id`, `length`) given as
`durations_file`. Splits come from `data_files`, e.g. `{"train": ..., "test": ...}`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import datasets

from ...strict_json import DuplicateKeyError, reject_duplicate_keys
from ..annotations import format_problems
from .base import MomentZooBuilderConfig, QueryAnnotation, TemporalGroundingBuilder

__all__ = ["CharadesSTAConfig", "CharadesSTABuilder", "read_jsonl"]


def read_jsonl(path: str) -> list[tuple[int, dict]]:
    """`(line number, object)` for each non-empty line; a line that is not a JSON object is an error."""
    rows, errors = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line, object_pairs_hook=reject_duplicate_keys)
                except json.JSONDecodeError as err:
                    errors.append(f"line {lineno}: invalid JSON ({err.msg})")
                    continue
                except (DuplicateKeyError, RecursionError) as err:
                    errors.append(f"line {lineno}: {err if isinstance(err, ValueError) else 'JSON nested too deeply'}")
                    continue
                if not isinstance(obj, dict):
                    errors.append(f"line {lineno}: expected a JSON object, got {type(obj).__name__}")
                    continue
                rows.append((lineno, obj))
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err})") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if errors:
        raise ValueError(f"{path}: {len(errors)} malformed line(s):\n{format_problems(errors)}")
    return rows


def query_from_json(path: str, lineno: int, obj: dict, required: tuple[str, ...], errors: list[str]):
    """The common fields of a moment-retrieval jsonl line, or None (with an error naming the line)."""
    missing = [k for k in required if k not in obj]
    if missing:
        errors.append(f"line {lineno}: missing key(s) {missing}")
        return None
    for key in ("qid", "vid"):  # str(None) would make a video called "None"; str(1.5) a qid "1.5"
        if not isinstance(obj[key], (str, int)) or isinstance(obj[key], bool):
            errors.append(f"line {lineno}: {key!r} must be a string or an integer, got {obj[key]!r}")
            return None
    windows = obj.get("relevant_windows")
    if windows is not None and not isinstance(windows, list):
        errors.append(f"line {lineno}: relevant_windows must be a list of [start, end], got {windows!r}")
        return None
    return QueryAnnotation(
        qid=str(obj["qid"]),
        video_id=str(obj["vid"]),
        duration=obj["duration"],
        query=obj["query"],
        windows=windows,
        source=path,
        where=f"line {lineno}",
    )


@dataclass
class CharadesSTAConfig(MomentZooBuilderConfig):
    """`annotation_format`: `jsonl` or `txt`; `durations_file`: Charades CSV(s) with `id` and `length`
    (needed by `txt`). Feature geometry must be given (`fps`, `feature_stride`, `num_frames`) when
    `features_dir` is used: Charades-STA features come from many extractors."""

    annotation_format: str = "jsonl"
    durations_file: str | tuple[str, ...] | None = None

    def validate(self) -> None:
        super().validate()
        if self.annotation_format not in ("jsonl", "txt"):
            raise ValueError(f"annotation_format must be 'jsonl' or 'txt', got {self.annotation_format!r}")
        if self.annotation_format == "txt":
            files = (self.durations_file,) if isinstance(self.durations_file, str) else (self.durations_file or ())
            if not files or not all(Path(f).is_file() for f in files):
                raise ValueError(
                    "the txt format needs durations_file: the Charades CSV(s) (Charades_v1_train.csv, "
                    f"Charades_v1_test.csv) with columns id and length; got {self.durations_file!r}"
                )


class CharadesSTABuilder(TemporalGroundingBuilder):
    """Charades-STA: sentences grounded in indoor Charades videos (12,404 train / 3,720 test queries)."""

    BUILDER_CONFIG_CLASS = CharadesSTAConfig
    BUILDER_CONFIGS = [
        CharadesSTAConfig(name="jsonl", annotation_format="jsonl", version=datasets.Version("1.0.0")),
        CharadesSTAConfig(name="txt", annotation_format="txt", version=datasets.Version("1.0.0")),
    ]
    DEFAULT_CONFIG_NAME = "jsonl"
    HOMEPAGE = "https://github.com/jiyanggao/TALL"
    LICENSE = "other"  # Charades videos: the Allen Institute's non-commercial research license
    CITATION = (
        "@inproceedings{gao2017tall, title={TALL: Temporal Activity Localization via Language Query}, "
        "author={Gao, Jiyang and Sun, Chen and Yang, Zhenheng and Nevatia, Ram}, booktitle={ICCV}, year={2017}}"
    )

    @cached_property
    def _durations(self) -> dict[str, float]:
        files = (
            (self.config.durations_file,) if isinstance(self.config.durations_file, str) else self.config.durations_file
        )
        out, errors = {}, []
        for path in files:
            try:
                with open(path, newline="", encoding="utf-8") as f:
                    reader = csv.DictReader(f)
                    if not {"id", "length"} <= set(reader.fieldnames or []):
                        raise ValueError(f"{path}: needs columns 'id' and 'length', found {reader.fieldnames}")
                    for line, row in enumerate(reader, start=2):
                        try:  # a short row has None for its missing cells
                            out[row["id"]] = float(row["length"])
                        except (ValueError, TypeError):
                            errors.append(f"{path}: line {line}: bad length {row['length']!r}")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        if errors:
            raise ValueError(f"{len(errors)} problem(s) in the durations CSV:\n{format_problems(errors)}")
        return out

    def _read_txt(self, path: str) -> list[QueryAnnotation]:
        durations = self._durations
        out, errors = [], []
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        for index, line in enumerate(lines):
            if not line.strip():
                continue
            head, sep, sentence = line.partition("##")
            parts = head.split()
            if not sep or len(parts) != 3:
                errors.append(f"line {index + 1}: expected 'VID START END##sentence', got {line!r}")
                continue
            vid = parts[0]
            try:
                window = [float(parts[1]), float(parts[2])]
            except ValueError:
                errors.append(f"line {index + 1}: bad times in {line!r}")
                continue
            if vid not in durations:
                errors.append(f"line {index + 1}: video {vid!r} has no duration in durations_file")
                continue
            # The txt format has no query id: the 0-based line index within its file serves as one.
            out.append(
                QueryAnnotation(str(index), vid, durations[vid], sentence.strip(), [window], path, f"line {index + 1}")
            )
        if errors:
            raise ValueError(f"{path}: {len(errors)} problem(s):\n{format_problems(errors)}")
        return out

    def _read_queries(self) -> dict[str, list[QueryAnnotation]]:
        out = {}
        for split, files in self._split_files().items():
            queries = []
            for path in files:
                if self.config.annotation_format == "txt":
                    queries.extend(self._read_txt(path))
                    continue
                errors = []
                for lineno, obj in read_jsonl(path):
                    q = query_from_json(
                        path, lineno, obj, ("qid", "query", "duration", "vid", "relevant_windows"), errors
                    )
                    if q is not None:
                        queries.append(q)
                if errors:
                    raise ValueError(f"{path}: {len(errors)} problem(s):\n{format_problems(errors)}")
            out[split] = queries
        return out
