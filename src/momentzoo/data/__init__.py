"""Dataset builders, feature and video reading, feature extraction, collators and synthetic data.

Imported lazily (names resolve on first access): `import momentzoo` registers the pipelines, whose video encoder
lives here, without importing `datasets` or PyAV.
"""

from ..lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "annotations": ["MomentZooDataWarning"],
        "builders": [
            "MomentZooBuilderConfig",
            "TemporalLocalizationBuilder",
            "TemporalGroundingBuilder",
            "Thumos14Builder",
            "ActivityNetBuilder",
            "EpicKitchensBuilder",
            "CharadesSTABuilder",
            "QVHighlightsBuilder",
            "Thumos14WeakBuilder",
        ],
        "collators": ["TemporalLocalizationCollator", "TemporalGroundingCollator", "random_truncation"],
        "export": ["save_dataset_folder", "push_dataset_folder"],
        "feature_extraction": [
            "FeatureExtractionReport",
            "VideoFeatureExtractor",
            "extract_features_to_folder",
            "feature_geometry_kwargs",
            "find_videos",
        ],
        "feature_files": ["load_feature_file", "resize_features"],
        "synthetic": [
            "SyntheticTALConfig",
            "make_synthetic_tal_dataset",
            "make_synthetic_grounding_dataset",
            "synthetic_tal_metadata",
        ],
        "synthetic_video": ["SYNTHETIC_VIDEO_CLASSES", "make_synthetic_video_dataset"],
        "video": [
            "VideoFrames",
            "VideoInfo",
            "iter_video_frames",
            "probe_video",
            "read_video_frames",
            "resolve_video_path",
        ],
        "video_collator": ["FramePreprocessor", "TemporalVideoCollator"],
        "windows": [
            "TemporalFeatureDataset",
            "SlidingWindowDataset",
            "feature_lengths",
            "merge_window_predictions",
            "sliding_windows",
        ],
        "zero_shot": ["ZERO_SHOT_BENCHMARKS", "ZERO_SHOT_RATIOS", "apply_zero_shot_split", "load_zero_shot_classes"],
    },
)
