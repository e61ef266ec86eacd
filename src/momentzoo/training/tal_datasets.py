"""Load the TAL dataset an example script or config names: the synthetic set, a momentzoo builder run on the
user's annotation and feature files, or a dataset saved to disk / exported by `dataset_scripts/` / on the Hub.

    load_tal_dataset("synthetic", {"num_classes": 8, "seed": 0})
    load_tal_dataset("thumos14", {"annotation_file": "thumos14.json", "features_dir": "i3d_features/"})
    load_tal_dataset("out/thumos14")          # a folder written by dataset_scripts/thumos14.py or save_to_disk
"""

from __future__ import annotations

from pathlib import Path

import datasets

__all__ = ["TAL_BUILDERS", "load_tal_dataset"]

# Builder name -> class name in momentzoo.data.builders (TAL builders only).
TAL_BUILDERS = {
    "thumos14": "Thumos14Builder",
    "activitynet": "ActivityNetBuilder",
    "epic_kitchens": "EpicKitchensBuilder",
}


def _synthetic_video_splits(output_dir: str, num_videos: dict | None = None, seed: int = 0, **kwargs):
    """The synthetic mp4s of `make_synthetic_video_dataset`, one folder and seed per split."""
    from ..data.synthetic_video import make_synthetic_video_dataset

    num_videos = dict(num_videos or {"train": 8, "test": 4})
    return datasets.DatasetDict({
        split: make_synthetic_video_dataset(Path(output_dir) / split, num_videos=count, seed=seed + i, **kwargs)
        for i, (split, count) in enumerate(num_videos.items())
    })


def load_tal_dataset(name: str, kwargs: dict | None = None, cache_dir: str | None = None) -> datasets.DatasetDict:
    """A `DatasetDict` of TAL rows.

    Args:
        name: `"synthetic"` (`momentzoo.data.make_synthetic_tal_dataset`, `kwargs` are `SyntheticTALConfig`
            fields), `"synthetic_video"` (the mp4s of `make_synthetic_video_dataset` written under
            `kwargs["output_dir"]`, `num_videos` per split), a builder name in `TAL_BUILDERS` (`kwargs` are its config fields: `annotation_file`,
            `features_dir`, ...), a folder saved with `save_to_disk`, or a folder / Hub id `datasets.load_dataset`
            reads (the Parquet folders of `dataset_scripts/`; `kwargs` go to `load_dataset`).
        cache_dir: where builders and `load_dataset` cache their Arrow files.
    """
    kwargs = dict(kwargs or {})
    if not isinstance(name, str) or not name:
        raise ValueError(f"dataset must be 'synthetic', one of {sorted(TAL_BUILDERS)}, or a path / Hub id; got {name!r}")
    if name == "synthetic":
        from ..data.synthetic import make_synthetic_tal_dataset

        return make_synthetic_tal_dataset(**kwargs)
    if name == "synthetic_video":
        return _synthetic_video_splits(**kwargs)
    if name in TAL_BUILDERS:
        from ..data import builders

        builder = getattr(builders, TAL_BUILDERS[name])(cache_dir=cache_dir, **kwargs)
        builder.download_and_prepare()
        return builder.as_dataset()
    path = Path(name)
    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.Dataset):
            raise ValueError(f"{path} holds a single split; save a DatasetDict (split name -> Dataset)")
        return loaded
    if kwargs.get("split") is not None:
        raise ValueError("dataset_kwargs must not set 'split': the script picks its splits by name")
    return datasets.load_dataset(name, cache_dir=cache_dir, **kwargs)
