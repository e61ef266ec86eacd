"""Dataset builders, feature and video reading, feature extraction, collators and synthetic data."""

from .feature_extraction import FeatureExtractionReport, VideoFeatureExtractor, extract_features_to_folder, find_videos
from .synthetic_video import SYNTHETIC_VIDEO_CLASSES, make_synthetic_video_dataset
from .video import VideoFrames, VideoInfo, iter_video_frames, probe_video, read_video_frames, resolve_video_path

__all__ = [
    "FeatureExtractionReport",
    "VideoFeatureExtractor",
    "extract_features_to_folder",
    "find_videos",
    "SYNTHETIC_VIDEO_CLASSES",
    "make_synthetic_video_dataset",
    "VideoFrames",
    "VideoInfo",
    "iter_video_frames",
    "probe_video",
    "read_video_frames",
    "resolve_video_path",
]
