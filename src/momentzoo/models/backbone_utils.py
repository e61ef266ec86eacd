"""Helpers for loading pretrained backbones into momentzoo models (shared by models and the feature extractor)."""

from __future__ import annotations

__all__ = ["saved_preprocessor_dict"]


def saved_preprocessor_dict(name_or_path: str) -> dict | None:
    """The checkpoint's saved `preprocessor_config.json` as a dict, read as JSON (no processor is built); None when
    it has none."""
    from transformers.image_processing_utils import ImageProcessingMixin

    try:
        config, _ = ImageProcessingMixin.get_image_processor_dict(name_or_path)
    except OSError:
        return None
    return config
