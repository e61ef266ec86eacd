"""Dataset builders, feature and video reading, feature extraction, collators and synthetic data."""

from .annotations import MomentZooDataWarning
from .builders import (
    ActivityNetBuilder,
    CharadesSTABuilder,
    EpicKitchensBuilder,
    MomentZooBuilderConfig,
    QVHighlightsBuilder,
    TemporalGroundingBuilder,
    TemporalLocalizationBuilder,
    Thumos14Builder,
    Thumos14WeakBuilder,
)
from .collators import TemporalGroundingCollator, TemporalLocalizationCollator, random_truncation
from .export import push_dataset_folder, save_dataset_folder
from .feature_extraction import (
    FeatureExtractionReport,
    VideoFeatureExtractor,
    extract_features_to_folder,
    feature_geometry_kwargs,
    find_videos,
)
from .feature_files import load_feature_file, resize_features
from .synthetic import (
    SyntheticTALConfig,
    make_synthetic_grounding_dataset,
    make_synthetic_tal_dataset,
    synthetic_tal_metadata,
)
from .synthetic_video import SYNTHETIC_VIDEO_CLASSES, make_synthetic_video_dataset
from .video import VideoFrames, VideoInfo, iter_video_frames, probe_video, read_video_frames, resolve_video_path
from .video_collator import FramePreprocessor, TemporalVideoCollator
from .windows import (
    SlidingWindowDataset,
    TemporalFeatureDataset,
    feature_lengths,
    merge_window_predictions,
    sliding_windows,
)
from .zero_shot import ZERO_SHOT_BENCHMARKS, ZERO_SHOT_RATIOS, apply_zero_shot_split, load_zero_shot_classes

__all__ = [
    "MomentZooDataWarning",
    "MomentZooBuilderConfig",
    "TemporalLocalizationBuilder",
    "TemporalGroundingBuilder",
    "Thumos14Builder",
    "ActivityNetBuilder",
    "EpicKitchensBuilder",
    "CharadesSTABuilder",
    "QVHighlightsBuilder",
    "Thumos14WeakBuilder",
    "save_dataset_folder",
    "push_dataset_folder",
    "load_feature_file",
    "resize_features",
    "ZERO_SHOT_BENCHMARKS",
    "ZERO_SHOT_RATIOS",
    "apply_zero_shot_split",
    "load_zero_shot_classes",
    "FeatureExtractionReport",
    "VideoFeatureExtractor",
    "extract_features_to_folder",
    "feature_geometry_kwargs",
    "find_videos",
    "SYNTHETIC_VIDEO_CLASSES",
    "make_synthetic_video_dataset",
    "TemporalLocalizationCollator",
    "TemporalGroundingCollator",
    "TemporalVideoCollator",
    "FramePreprocessor",
    "random_truncation",
    "SyntheticTALConfig",
    "make_synthetic_tal_dataset",
    "make_synthetic_grounding_dataset",
    "synthetic_tal_metadata",
    "TemporalFeatureDataset",
    "SlidingWindowDataset",
    "feature_lengths",
    "sliding_windows",
    "merge_window_predictions",
    "VideoFrames",
    "VideoInfo",
    "iter_video_frames",
    "probe_video",
    "read_video_frames",
    "resolve_video_path",
]
