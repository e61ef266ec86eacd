"""Synthetic temporal grounding over raw videos: queries about the moving-square mp4s of `synthetic_video`.

Each video of `make_synthetic_video_dataset` holds one or two actions of a square (moving right or left,
growing, shrinking) on a static background. Here every (video, action class present) pair becomes a grounding
row whose query describes the action in plain English ("the square moves to the right"), whose `windows` are
all instances of that class in the video, and whose `video` column points at the mp4, so video LLM training
(Invert4TVG) and the grounding pipeline run end to end on data generated offline in seconds.

The queries use verbs the lemmatizer recognises (move, slide, grow, expand, shrink, become), so the inversion tasks
(verb completion, action recognition, video description) can be built from them; the `verb` column is the
base form of the query's verb and `action` the class name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .synthetic_video import SYNTHETIC_VIDEO_CLASSES, make_synthetic_video_dataset

__all__ = ["SYNTHETIC_VIDEO_QUERIES", "make_synthetic_video_grounding_dataset"]

# Per class: (query, base form of its verb). Two phrasings per class, drawn per row.
SYNTHETIC_VIDEO_QUERIES = {
    "square_moves_right": (("the square moves to the right", "move"), ("the square slides to the right", "slide")),
    "square_moves_left": (("the square moves to the left", "move"), ("the square slides to the left", "slide")),
    "square_grows": (("the square grows bigger", "grow"), ("the square expands", "expand")),
    "square_shrinks": (("the square shrinks", "shrink"), ("the square becomes smaller", "become")),
}


def _features():
    from datasets import Features, List, Value, Video

    return Features(
        {
            "qid": Value("string"),
            "video_id": Value("string"),
            "duration": Value("float64"),
            "query": Value("string"),
            "windows": List(List(Value("float64"), length=2)),
            "verb": Value("string"),
            "action": Value("string"),
            "video": Video(decode=False),
        }
    )


def _grounding_rows(videos, seed: int) -> dict:
    classes = videos.features["labels"].feature.names
    rows = {name: [] for name in _features()}
    for index, row in enumerate(videos):
        rng = np.random.default_rng([seed, 7, index])
        segments = np.asarray(row["segments"], dtype=np.float32).reshape(-1, 2)
        labels = np.asarray(row["labels"])
        for label in sorted(set(labels.tolist())):
            name = classes[label]
            phrasings = SYNTHETIC_VIDEO_QUERIES[name]
            query, verb = phrasings[int(rng.integers(len(phrasings)))]
            rows["qid"].append(f"{row['video_id']}_{name}")
            rows["video_id"].append(row["video_id"])
            rows["duration"].append(row["duration"])
            rows["query"].append(query)
            rows["windows"].append(segments[labels == label].tolist())
            rows["verb"].append(verb)
            rows["action"].append(name)
            rows["video"].append(row["video"])
    return rows


def make_synthetic_video_grounding_dataset(
    output_dir: str | os.PathLike, num_videos: int | dict[str, int] = 6, seed: int = 0, **video_kwargs
):
    """Write synthetic mp4s into `output_dir` and return grounding rows over them.

    `num_videos` is a count (one `Dataset`) or `{split: count}` (a `DatasetDict`, each split's videos drawn
    with its own seed in `output_dir/<split>`). Other keywords go to `make_synthetic_video_dataset` (`size`,
    `fps`, durations, `classes`, ...). Columns: `qid`, `video_id`, `duration`, `query`, `windows` (seconds),
    `verb`, `action`, `video` (`Video(decode=False)`, absolute path). The same arguments give the same rows
    and byte-identical videos.
    """
    from datasets import Dataset, DatasetDict

    classes = video_kwargs.get("classes") or SYNTHETIC_VIDEO_CLASSES
    missing = [c for c in classes if c not in SYNTHETIC_VIDEO_QUERIES]
    if missing:
        raise ValueError(f"no query phrasings for synthetic classes {missing}")
    output_dir = Path(output_dir)
    if isinstance(num_videos, dict):
        if not num_videos:
            raise ValueError("num_videos must name at least one split")
        splits = {}
        for offset, (split, count) in enumerate(num_videos.items()):
            if not isinstance(split, str) or not split or "/" in split or split.startswith("."):
                raise ValueError(f"split names must be plain folder names, got {split!r}")
            split_seed = seed * 1000 + offset
            videos = make_synthetic_video_dataset(output_dir / split, num_videos=count, seed=split_seed, **video_kwargs)
            splits[split] = Dataset.from_dict(_grounding_rows(videos, split_seed), features=_features())
        return DatasetDict(splits)
    videos = make_synthetic_video_dataset(output_dir, num_videos=num_videos, seed=seed, **video_kwargs)
    return Dataset.from_dict(_grounding_rows(videos, seed), features=_features())
