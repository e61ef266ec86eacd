"""A synthetic weakly-labelled feature set with synthetic MLLM descriptions, for the tests and the synthetic config.

Built on `momentzoo.data.make_synthetic_tal_dataset`: every class is a program of three phases, and the first
`num_confusable_pairs` pairs of classes share their phases in opposite order (open door / close door), so those actions
are told apart only by their complete extent (the order of all their phases), never by one snippet. Rows gain
`video_labels` (the video-level classes, all that training sees) and the two descriptions an MLLM would write:
`key_description` (the critical moment of each action shown: its middle phase) and `complete_description` (every
phase of each action, in order). Segments stay for evaluation only.
"""

import datasets

from ...data.synthetic import make_synthetic_tal_dataset, synthetic_tal_metadata

__all__ = ["make_synthetic_wtal_dataset", "synthetic_descriptions"]


def synthetic_descriptions(class_ids, metadata: dict) -> tuple[str, str]:
    """`(D_key, D_complete)` of a video showing the classes `class_ids` (each once, in order of first appearance),
    from the synthetic set's `class_phases` and `class_names`."""
    phases, names = metadata["class_phases"], metadata["class_names"]
    classes = list(dict.fromkeys(int(c) for c in class_ids))
    key = "key moments: " + "; ".join(phases[c][1] for c in classes) + "."
    complete = " ".join(
        f"{names[c]}: starts with {phases[c][0]}, then {phases[c][1]}, ends with {phases[c][2]}." for c in classes
    )
    return key, complete


def make_synthetic_wtal_dataset(**overrides) -> datasets.DatasetDict:
    """`make_synthetic_tal_dataset(**overrides)` with `video_labels`, `key_description` and `complete_description`
    columns (see the module docstring)."""
    data = make_synthetic_tal_dataset(**overrides)
    metadata = synthetic_tal_metadata(data)
    out = {}
    for split, rows in data.items():
        labels = rows["labels"]
        descriptions = [synthetic_descriptions(video, metadata) for video in labels]
        label_feature = rows.features["labels"]
        rows = rows.add_column("video_labels", [sorted(set(video)) for video in labels], feature=label_feature)
        rows = rows.add_column("key_description", [d[0] for d in descriptions])
        out[split] = rows.add_column("complete_description", [d[1] for d in descriptions])
    return datasets.DatasetDict(out)
