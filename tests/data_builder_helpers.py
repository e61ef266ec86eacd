"""Shared helpers of the dataset-builder tests: fixture paths, building into tmp caches, writing
feature files and a small weakly-supervised numpy layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "data"
THUMOS_MINI = FIXTURES / "thumos14" / "thumos14_mini.json"
ANET_MINI = FIXTURES / "activitynet" / "activitynet_mini.json"
EPIC = FIXTURES / "epic_kitchens"
CHARADES = FIXTURES / "charades_sta"
QVH = FIXTURES / "qvhighlights"


def build(builder_cls, tmp_path: Path, **kwargs):
    builder = builder_cls(cache_dir=str(tmp_path / "cache"), **kwargs)
    builder.download_and_prepare()
    return builder.as_dataset()


def steps(duration: float, fps: float, feature_stride: int) -> int:
    """How many feature steps a video of `duration` seconds has at this geometry (the builders check the files)."""
    return max(1, round(duration * fps / feature_stride))


def write_features(
    folder: Path, lengths: dict[str, int], dim: int = 8, ext: str = ".npy", prefix: str = "", seed: int = 0
) -> dict[str, np.ndarray]:
    """One random (T, dim) float32 file per video; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for vid, length in lengths.items():
        feats = rng.standard_normal((length, dim)).astype(np.float32)
        path = folder / f"{prefix}{vid}{ext}"
        if ext == ".npy":
            np.save(path, feats)
        elif ext == ".npz":
            np.savez(path, feats=feats)
        else:
            import torch

            torch.save(torch.from_numpy(feats), path)
        out[vid] = feats
    return out


def _object_array(items) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        arr[i] = item
    return arr


WEAK_VIDEOS = {
    # name: (subset, duration, segments, labels, labels_all)
    "video_validation_0000001": (b"validation", 40.0, [[1.0, 5.0], [10.0, 12.5]], ["Diving", "Diving"], ["Diving"]),
    "video_validation_0000002": (b"validation", 30.0, [[2.0, 4.0]], ["HighJump"], ["HighJump", "LongJump"]),
    "video_test_0000001": (b"test", 50.0, [[0.5, 3.0], [20.0, 55.0]], ["LongJump", "Diving"], ["LongJump", "Diving"]),
}
WEAK_CLASSES = [b"Diving", b"HighJump", b"LongJump"]


def write_weak_layout(folder: Path, videos: dict = WEAK_VIDEOS, classes: list = WEAK_CLASSES) -> Path:
    """The W-TALC numpy layout (object arrays saved with pickles, as the real files are) for `videos`."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(videos)
    np.save(folder / "videoname.npy", np.array([n.encode() for n in names]))
    np.save(folder / "subset.npy", np.array([videos[n][0] for n in names]))
    np.save(folder / "duration.npy", np.array([[videos[n][1]] for n in names]))
    np.save(folder / "segments.npy", _object_array([videos[n][2] for n in names]), allow_pickle=True)
    np.save(folder / "labels.npy", _object_array([videos[n][3] for n in names]), allow_pickle=True)
    np.save(folder / "labels_all.npy", _object_array([videos[n][4] for n in names]), allow_pickle=True)
    np.save(folder / "classlist.npy", np.array(classes))
    np.save(folder / "original_fps.npy", np.full(len(names), 30.0))
    (folder / "Ambiguous_test.txt").write_bytes(b"video_test_0000001  30.0 31.5\r\n")
    return folder
