"""Per-video feature files: finding them, loading them safely, checking them, resizing them.

A feature file holds one (T, D) float array per video: `.npy`, `.npz` (key `feats`, as ActionFormer's
EPIC-Kitchens features) or `.pt` (a tensor, or a dict with key `feats`, loaded with `weights_only=True`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .annotations import MomentZooDataWarning, format_problems, safe_join

__all__ = [
    "check_feature_length",
    "FEATURE_EXTENSIONS",
    "locate_feature_files",
    "report_missing",
    "load_feature_file",
    "check_feature_array",
    "peek_feature_dim",
    "resize_features",
    "resized_feature_geometry",
]

FEATURE_EXTENSIONS = (".npy", ".npz", ".pt")
NPZ_KEY = "feats"


def _check_ext(ext: str | None) -> None:
    if ext is not None and ext not in FEATURE_EXTENSIONS:
        raise ValueError(f"feature_ext must be one of {FEATURE_EXTENSIONS} or None (auto), got {ext!r}")


def locate_feature_files(
    video_ids: Iterable[str], features_dir: str | os.PathLike, prefix: str = "", ext: str | None = None
) -> tuple[dict[str, Path], list[str]]:
    """Map each video id to `<features_dir>/<prefix><video_id><ext>`; `ext=None` tries `.npy`, `.npz`,
    `.pt` in that order. Returns `(found, missing)`; an id that would escape `features_dir` raises."""
    _check_ext(ext)
    if not Path(features_dir).is_dir():
        raise ValueError(f"features_dir {str(features_dir)!r} is not a directory")
    found, missing = {}, []
    for vid in dict.fromkeys(video_ids):
        for candidate in (ext,) if ext else FEATURE_EXTENSIONS:
            path = safe_join(features_dir, f"{prefix}{vid}{candidate}", what=f"feature file of video {vid!r}")
            if path.is_file():
                found[vid] = path
                break
        else:
            missing.append(vid)
    return found, missing


def report_missing(missing: list[str], skip_missing: bool, what: str, where: str) -> None:
    """Raise on missing files (all named at once) or, with `skip_missing`, warn with the full list."""
    if not missing:
        return
    listing = format_problems(sorted(missing))
    if not skip_missing:
        raise ValueError(
            f"{len(missing)} video(s) have no {what} in {where}:\n{listing}\n"
            "Pass skip_missing=True to leave these videos out (they are listed in a warning)."
        )
    warnings.warn(
        f"skip_missing=True: left out {len(missing)} video(s) with no {what} in {where}:\n{listing}",
        MomentZooDataWarning,
        stacklevel=3,
    )


def _load_raw(path: Path):
    suffix = path.suffix
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            if NPZ_KEY not in archive.files:
                raise ValueError(f"{path}: .npz feature file has no key {NPZ_KEY!r} (keys: {archive.files})")
            return archive[NPZ_KEY]
    if suffix == ".pt":
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            if NPZ_KEY not in obj:
                raise ValueError(f"{path}: .pt feature dict has no key {NPZ_KEY!r} (keys: {sorted(obj)})")
            obj = obj[NPZ_KEY]
        if not isinstance(obj, torch.Tensor):
            raise ValueError(f"{path}: .pt feature file holds a {type(obj).__name__}, expected a tensor")
        return obj.detach().float().numpy()
    raise ValueError(f"{path}: unsupported feature file extension {suffix!r}; expected one of {FEATURE_EXTENSIONS}")


def load_feature_file(path: str | os.PathLike, feature_dim: int | None = None) -> np.ndarray:
    """Load a (T, D) feature array as float32, refusing other ranks, empty arrays, a wrong D and NaN/Inf."""
    path = Path(path)
    try:
        feats = _load_raw(path)
    except Exception as err:  # corrupt file: name it (our own errors already do)
        if isinstance(err, ValueError) and str(err).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read feature file ({type(err).__name__}: {err})") from err
    return check_feature_array(feats, str(path), feature_dim)


def check_feature_array(feats, name: str, feature_dim: int | None = None) -> np.ndarray:
    """A (T, D) float32 array, or a ValueError naming `name`: wrong rank, empty, wrong D, NaN/Inf."""
    feats = np.asarray(feats)
    if feats.ndim != 2 or feats.shape[0] == 0 or feats.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty (T, D) feature array, got shape {feats.shape}")
    if feats.dtype.kind not in "biuf":  # complex would lose its imaginary part in the float32 cast
        raise ValueError(f"{name}: feature array has non-real dtype {feats.dtype}")
    if feature_dim is not None and feats.shape[1] != feature_dim:
        raise ValueError(f"{name}: feature dimension {feats.shape[1]} differs from the dataset's {feature_dim}")
    feats = feats.astype(np.float32, copy=False)
    finite = np.isfinite(feats)
    if not finite.all():
        bad_steps = np.flatnonzero(~finite.all(axis=1))
        raise ValueError(
            f"{name}: {int((~finite).sum())} NaN/Inf value(s) in {len(bad_steps)} feature step(s), "
            f"first at step {int(bad_steps[0])}"
        )
    return feats


def check_feature_length(
    num_steps: int, duration: float, fps: float, feature_stride: int, num_frames: int, name: str
) -> None:
    """The features must cover about `duration` seconds at this geometry: a length off by more than a quarter (plus
    one clip) means a wrong fps/stride or another video's file, and every segment would land elsewhere."""
    expected = duration * fps / feature_stride
    if abs(num_steps - expected) > 0.25 * expected + num_frames / feature_stride + 2:
        raise ValueError(
            f"{name}: {num_steps} feature steps but duration {duration:g} s at fps {fps:g} / "
            f"feature_stride {feature_stride} implies about {expected:.0f}: wrong geometry or features "
            "of another video"
        )


def peek_feature_dim(path: str | os.PathLike) -> int:
    """D of a feature file, reading only the header where the format allows it."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except Exception as err:
            raise ValueError(f"{path}: cannot read feature file ({type(err).__name__}: {err})") from err
        if len(shape) != 2:
            raise ValueError(f"{path}: expected a (T, D) feature array, got shape {shape}")
        return int(shape[1])
    return int(load_feature_file(path).shape[1])


def resize_features(feats: np.ndarray, length: int) -> np.ndarray:
    """Resize (T, D) features to (length, D) by linear interpolation along time (`align_corners=False`,
    as ActionFormer's `force_upsampling` on ActivityNet)."""
    import torch
    import torch.nn.functional as F

    if length <= 0:
        raise ValueError(f"resize length must be positive, got {length}")
    x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)).T[None]  # (1, D, T)
    return F.interpolate(x, size=length, mode="linear", align_corners=False)[0].T.contiguous().numpy()


def resized_feature_geometry(
    num_steps: int, length: int, fps: float | None, feature_stride: int, num_frames: int, duration: float
) -> float:
    """The `fps` to record for features resized from `num_steps` to `length` steps, with
    `feature_stride = num_frames = 1`.

    The original steps cover `(num_steps - 1) * feature_stride + num_frames` video frames; after
    resizing each of the `length` steps covers an equal share, so step i is centred on
    `(i + 0.5) * covered / length` frames. With `feature_stride = num_frames = 1` the row's mapping
    `(t * fps' - 0.5) / 1` equals ActionFormer's `(t * fps - 0.5 * stride') / stride'` with
    `stride' = covered / length` exactly when `fps' = fps * length / covered`. Without a known fps the
    features are taken to span the whole video (`fps' = length / duration`), as ActionFormer does when
    `feat_stride <= 0`.
    """
    if fps is None or fps <= 0:
        return length / duration
    covered = (num_steps - 1) * feature_stride + num_frames
    return fps * length / covered
