"""The MLLM4WTAL recipe (and DELU's): weakly-labelled batches with MLLM descriptions, the curriculum-aware trainer,
DELU's evaluation protocol, synthetic data, and the description writer behind `momentzoo describe`."""

from .collator import COMPLETE_COLUMN, KEY_COLUMN, WeakTALCollator, check_weak_dataset
from .data import load_wtal_dataset
from .evaluation import WTAL_AVERAGES, WTAL_IOU_THRESHOLDS, drop_ambiguous, evaluate_wtal, wtal_averages
from .sampler import SimilarPairBatchSampler
from .synthetic import make_synthetic_wtal_dataset, synthetic_descriptions
from .trainer import WTALTrainer

__all__ = [
    "COMPLETE_COLUMN",
    "KEY_COLUMN",
    "WTAL_AVERAGES",
    "WTAL_IOU_THRESHOLDS",
    "SimilarPairBatchSampler",
    "WTALTrainer",
    "WeakTALCollator",
    "check_weak_dataset",
    "drop_ambiguous",
    "evaluate_wtal",
    "load_wtal_dataset",
    "make_synthetic_wtal_dataset",
    "synthetic_descriptions",
    "wtal_averages",
]
