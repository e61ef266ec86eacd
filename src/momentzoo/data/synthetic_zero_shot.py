"""Synthetic TAL features in a shared image-text space, for zero-shot experiments without real CLIP features.

The CLIP image embedding of a frame showing an action lies near the CLIP text embedding of the action's name:
that alignment is what a zero-shot localizer (PSFTR, ...) carries from the seen classes to unseen ones. The
features of `make_synthetic_tal_dataset` have no such alignment (their phase prototypes are random directions),
so there an unseen class would share nothing with the seen ones but "being an action".
`make_synthetic_zero_shot_dataset` adds it: every step of an action also carries the unit text embedding of its
class name (from any text encoder, e.g. a model's `embed_class_names`), scaled to a per-dimension RMS of
`semantic_strength`. Frames then hold their class's visual phase program *and* its name's direction in the text
space, as CLIP features do; with a real CLIP text tower the directions of related names are related too.
"""

from __future__ import annotations

import datasets
import numpy as np

from .synthetic import SyntheticTALConfig, _resolve, make_synthetic_tal_dataset

__all__ = ["make_synthetic_zero_shot_dataset"]


def _action_steps(segments_seconds, fps: float, feature_stride: int, num_frames: int, length: int):
    """The generator writes an action over steps `s .. e-1` as the grid segment `[s - 0.5, e - 0.5]`; invert it."""
    grid = (np.asarray(segments_seconds, dtype=np.float64).reshape(-1, 2) * fps - 0.5 * num_frames) / feature_stride
    steps = np.rint(grid + 0.5).astype(np.int64)
    return np.clip(steps, 0, length)


def make_synthetic_zero_shot_dataset(
    class_embeddings,
    config: SyntheticTALConfig | None = None,
    semantic_strength: float = 1.0,
    **overrides,
) -> datasets.DatasetDict:
    """`make_synthetic_tal_dataset(config, **overrides)` with each action's steps shifted along its class's text
    embedding (see the module docstring).

    Args:
        class_embeddings: `(K, D)` text embeddings of `config.class_names` (in that order), or a callable mapping
            the list of class names to them. `D` becomes the feature size (`feature_dim` must agree if given).
        semantic_strength: per-dimension RMS of the added vector (`signal_strength` is that of the phases).
    """
    if not isinstance(semantic_strength, (int, float)) or not np.isfinite(semantic_strength) or semantic_strength < 0:
        raise ValueError(f"semantic_strength must be a finite number >= 0, got {semantic_strength!r}")
    names = _resolve(config, overrides).class_names
    embeddings = class_embeddings(names) if callable(class_embeddings) else class_embeddings
    if hasattr(embeddings, "detach"):  # a torch tensor
        embeddings = embeddings.detach().float().cpu().numpy()
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(names):
        raise ValueError(
            f"class_embeddings must be ({len(names)}, D) for the classes {names}, got shape {embeddings.shape}"
        )
    norms = np.linalg.norm(embeddings, axis=1)
    if not np.isfinite(embeddings).all() or (norms == 0).any():
        raise ValueError("class_embeddings must be finite and non-zero")
    dim = embeddings.shape[1]
    if "feature_dim" in overrides and overrides["feature_dim"] != dim:
        raise ValueError(f"feature_dim={overrides['feature_dim']} but the class embeddings have {dim} dimensions")
    if config is not None and "feature_dim" not in overrides and config.feature_dim != dim:
        raise ValueError(f"config.feature_dim={config.feature_dim} but the class embeddings have {dim} dimensions")
    config = _resolve(config, dict(overrides, feature_dim=dim))
    directions = (embeddings / norms[:, None] * np.sqrt(dim) * semantic_strength).astype(np.float32)

    def add_semantics(row):
        features = np.array(row["features"], dtype=np.float32)
        steps = _action_steps(row["segments"], row["fps"], row["feature_stride"], row["num_frames"], len(features))
        for (start, end), label in zip(steps, row["labels"]):
            features[start:end] += directions[label]
        return {"features": features}

    dataset = make_synthetic_tal_dataset(config)
    return datasets.DatasetDict(
        {
            split: ds.map(add_semantics, features=ds.features, desc=f"class semantics [{split}]")
            for split, ds in dataset.items()
        }
    )
