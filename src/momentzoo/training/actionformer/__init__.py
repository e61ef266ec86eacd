"""ActionFormer's training recipe: the official optimizer groups (`ActionFormerTrainer`) and weight EMA."""

from ..ema import ModelEMACallback
from .trainer import ActionFormerTrainer, official_decay_parameter_names

__all__ = ["ActionFormerTrainer", "ModelEMACallback", "official_decay_parameter_names"]
