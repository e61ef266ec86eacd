"""The standard zero-shot action-localization class splits, and filtering a TAL dataset to them.

Zero-shot TAL papers (EffPrompt, STALE, PSFTR, ...) report the mean over 10 random seen/unseen class
splits of THUMOS14 and ActivityNet-1.3, at two ratios: 75% seen / 25% unseen and 50% / 50%. The lists
ship with momentzoo (`momentzoo/data/assets/zero_shot_splits/`): a model trains on the seen classes
(`part="seen"`) and is evaluated on the unseen ones (`part="unseen"`).
"""

from __future__ import annotations

import logging
from importlib import resources

import datasets

__all__ = [
    "ZERO_SHOT_BENCHMARKS",
    "ZERO_SHOT_RATIOS",
    "NUM_ZERO_SHOT_SPLITS",
    "load_zero_shot_classes",
    "apply_zero_shot_split",
]

logger = logging.getLogger(__name__)

ZERO_SHOT_BENCHMARKS = ("THUMOS14", "ActivityNet")
ZERO_SHOT_RATIOS = {"75_25": "train_75_test_25", "50_50": "train_50_test_50"}
NUM_ZERO_SHOT_SPLITS = 10
_PARTS = {"seen": "train", "unseen": "test"}


def _check(benchmark: str, split_ratio: str, index: int, part: str | None = None) -> None:
    if benchmark not in ZERO_SHOT_BENCHMARKS:
        raise ValueError(f"benchmark must be one of {ZERO_SHOT_BENCHMARKS}, got {benchmark!r}")
    if split_ratio not in ZERO_SHOT_RATIOS:
        raise ValueError(f"split_ratio must be one of {list(ZERO_SHOT_RATIOS)}, got {split_ratio!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_ZERO_SHOT_SPLITS:
        raise ValueError(f"index must be an int in 0..{NUM_ZERO_SHOT_SPLITS - 1}, got {index!r}")
    if part is not None and part not in _PARTS:
        raise ValueError(f"part must be 'seen' (training) or 'unseen' (evaluation), got {part!r}")


def load_zero_shot_classes(
    benchmark: str = "THUMOS14", split_ratio: str = "75_25", index: int = 0
) -> dict[str, list[str]]:
    """`{"seen": [...], "unseen": [...]}`: the class names of split `index` (0-9), in file order."""
    _check(benchmark, split_ratio, index)
    root = resources.files("momentzoo.data").joinpath(
        "assets", "zero_shot_splits", ZERO_SHOT_RATIOS[split_ratio], benchmark
    )
    out = {}
    for part, folder in _PARTS.items():
        text = root.joinpath(folder, f"split_{index}.list").read_text(encoding="utf-8")
        out[part] = [line.strip() for line in text.splitlines() if line.strip()]
    return out


def _filter_split(ds: datasets.Dataset, keep: list[str], part: str, drop_empty: bool, name: str) -> datasets.Dataset:
    label_feature = ds.features.get("labels")
    if not isinstance(label_feature, datasets.List) or not isinstance(label_feature.feature, datasets.ClassLabel):
        raise ValueError(f"{name}: needs a 'labels' column of List(ClassLabel), got {label_feature!r}")
    if "segments" not in ds.column_names:
        raise ValueError(f"{name}: needs a 'segments' column")
    old_names = label_feature.feature.names
    new_label = datasets.ClassLabel(names=keep)
    remap = {old_names.index(n): i for i, n in enumerate(keep)}
    # Other List(ClassLabel) columns over the same classes (e.g. weak supervision's video_labels) follow.
    label_columns = [
        c
        for c, f in ds.features.items()
        if c != "labels"
        and isinstance(f, datasets.List)
        and isinstance(f.feature, datasets.ClassLabel)
        and f.feature.names == old_names
    ]
    rows = ds.select_columns(["segments", "labels", *label_columns]).to_list()  # no features read
    new_cols = {c: [] for c in ["segments", "labels", *label_columns]}
    keep_rows, dropped_segments, kept_segments = [], 0, 0
    for i, row in enumerate(rows):
        pairs = [(seg, remap[lab]) for seg, lab in zip(row["segments"], row["labels"]) if lab in remap]
        dropped_segments += len(row["labels"]) - len(pairs)
        if pairs or not drop_empty:
            keep_rows.append(i)
            kept_segments += len(pairs)
        new_cols["segments"].append([seg for seg, _ in pairs])
        new_cols["labels"].append([lab for _, lab in pairs])
        for c in label_columns:
            new_cols[c].append([remap[lab] for lab in row[c] if lab in remap])
    features = ds.features.copy()
    out = ds.remove_columns(list(new_cols))
    for c, values in new_cols.items():
        feature = datasets.List(new_label) if c != "segments" else features["segments"]
        out = out.add_column(c, values, feature=feature)
    out = out.select_columns(list(features))  # original column order
    dropped_videos = len(rows) - len(keep_rows)
    if dropped_videos:
        out = out.select(keep_rows)
    logger.warning(
        "%s: zero-shot %s classes (%d): kept %d segment(s) in %d video(s); dropped %d segment(s) of the other "
        "classes and %d video(s) left with no %s-class segment%s",
        name,
        part,
        len(keep),
        kept_segments,
        len(keep_rows),
        dropped_segments,
        dropped_videos,
        part,
        "" if drop_empty else " (kept: drop_empty=False)",
    )
    return out


def apply_zero_shot_split(
    dataset: datasets.Dataset | datasets.DatasetDict,
    benchmark: str = "THUMOS14",
    split_ratio: str = "75_25",
    index: int = 0,
    part: str = "seen",
    drop_empty: bool = True,
) -> datasets.Dataset | datasets.DatasetDict:
    """Restrict a TAL dataset to the `seen` (training) or `unseen` (evaluation) classes of split `index`.

    Segments of the other classes are removed with their labels; label ids are remapped to a new
    `ClassLabel` whose names are the kept classes in the split file's order. With `drop_empty=True`
    (the protocol of zero-shot TAL code) videos left with no segment are removed too: a seen-part
    video holding only unseen actions would teach them as background, and an unseen-part video with
    no unseen action has nothing to evaluate. Counts of everything removed are logged.

    The dataset's class names must be exactly the split's seen + unseen classes: a name missing on
    either side is an error that lists it.
    """
    _check(benchmark, split_ratio, index, part)
    classes = load_zero_shot_classes(benchmark, split_ratio, index)
    splits = dataset.items() if isinstance(dataset, datasets.DatasetDict) else [(None, dataset)]
    for split, ds in splits:
        names = ds.features["labels"].feature.names if "labels" in ds.features else []
        listed = classes["seen"] + classes["unseen"]
        not_in_dataset = [n for n in listed if n not in names]
        not_in_lists = [n for n in names if n not in listed]
        if not_in_dataset or not_in_lists:
            raise ValueError(
                f"class names of the dataset{f' split {split!r}' if split else ''} do not match the {benchmark} "
                f"zero-shot split {split_ratio}/{index}: in the split lists but not the dataset: {not_in_dataset}; "
                f"in the dataset but not the split lists: {not_in_lists}"
            )
    tag = f"{benchmark} {split_ratio} split {index}"
    if isinstance(dataset, datasets.DatasetDict):
        return datasets.DatasetDict(
            {s: _filter_split(ds, classes[part], part, drop_empty, f"{tag} [{s}]") for s, ds in dataset.items()}
        )
    return _filter_split(dataset, classes[part], part, drop_empty, tag)
