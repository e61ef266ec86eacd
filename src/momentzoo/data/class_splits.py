"""Seen/unseen class splits of any TAL dataset (the synthetic one, a custom one), for zero-shot experiments.

`momentzoo.data.zero_shot` ships the standard THUMOS14 / ActivityNet splits; this module makes the same kind of
split for datasets that have none (`random_class_split`) and restricts a dataset to a list of classes
(`select_classes`) with exactly the filter of `apply_zero_shot_split`.
"""

from __future__ import annotations

import datasets
import numpy as np

from .zero_shot import _filter_split

__all__ = ["random_class_split", "select_classes"]


def random_class_split(
    class_names, unseen_fraction: float = 0.25, index: int = 0, seed: int = 0
) -> dict[str, list[str]]:
    """`{"seen": [...], "unseen": [...]}`: `round(unseen_fraction * K)` classes drawn at random (by `seed` and
    split `index`, so split k is the same on every machine) are unseen; both lists keep the input order."""
    names = list(class_names)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"random_class_split needs at least 2 distinct class names, got {names!r}")
    if not 0 < unseen_fraction < 1:
        raise ValueError(f"unseen_fraction must be in (0, 1), got {unseen_fraction!r}")
    for field, value in (("index", index), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{field} must be an int >= 0, got {value!r}")
    count = min(max(round(unseen_fraction * len(names)), 1), len(names) - 1)
    unseen = set(np.random.default_rng([seed, index]).permutation(len(names))[:count].tolist())
    return {
        "seen": [n for i, n in enumerate(names) if i not in unseen],
        "unseen": [n for i, n in enumerate(names) if i in unseen],
    }


def select_classes(
    dataset: datasets.Dataset | datasets.DatasetDict, classes, drop_empty: bool = True, part: str = "selected"
) -> datasets.Dataset | datasets.DatasetDict:
    """Keep only the segments of `classes` (label ids remapped to a `ClassLabel` of `classes`, in that order), and,
    with `drop_empty`, only the videos that still have one: `apply_zero_shot_split`'s filter for any class list.
    A class that is not in the dataset is an error naming it."""
    classes = list(classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct names, got {classes!r}")
    splits = dataset.items() if isinstance(dataset, datasets.DatasetDict) else [(None, dataset)]
    for split, ds in splits:
        feature = ds.features.get("labels")
        names = feature.feature.names if isinstance(getattr(feature, "feature", None), datasets.ClassLabel) else []
        missing = [c for c in classes if c not in names]
        if missing:
            raise ValueError(
                f"select_classes: {missing} are not classes of the dataset"
                f"{f' split {split!r}' if split else ''} (its classes: {names})"
            )
    if isinstance(dataset, datasets.DatasetDict):
        return datasets.DatasetDict(
            {s: _filter_split(ds, classes, part, drop_empty, f"class subset [{s}]") for s, ds in dataset.items()}
        )
    return _filter_split(dataset, classes, part, drop_empty, "class subset")
