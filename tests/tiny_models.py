"""Two small models defined in the tests (not in the package) to prove momentzoo's registration and hub mechanism
independently of the real model families: a 1-D convolutional action detector (temporal localization) and a
query-conditioned window scorer (temporal grounding). Both follow the transformers 5.x rules a momentzoo model
follows: `config_class`, `post_init()`, `ModelOutput`s, `dummy_inputs`, and the model card mixin."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

import momentzoo
from momentzoo.hub import MomentzooModelCardMixin

__all__ = [
    "TinyDetectorConfig",
    "TinyDetectorForTemporalLocalization",
    "TinyGrounderConfig",
    "TinyGrounderForTemporalGrounding",
    "register_tiny_models",
]


class TinyDetectorConfig(PreTrainedConfig):
    model_type = "tiny_detector"

    def __init__(self, feature_dim: int = 6, hidden_size: int = 8, kernel_size: int = 3, **kwargs):
        for name, value in (("feature_dim", feature_dim), ("hidden_size", hidden_size), ("kernel_size", kernel_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same-length convolution), got {kernel_size}")
        self.feature_dim, self.hidden_size, self.kernel_size = feature_dim, hidden_size, kernel_size
        super().__init__(**kwargs)


@dataclass
class TinyDetectorOutput(ModelOutput):
    """`logits` (B, T, num_labels) per-step class scores; `offsets` (B, T, 2) distances to segment start/end."""

    logits: torch.FloatTensor | None = None
    offsets: torch.FloatTensor | None = None


class TinyDetectorForTemporalLocalization(MomentzooModelCardMixin, PreTrainedModel):
    config_class = TinyDetectorConfig
    main_input_name = "input_features"

    def __init__(self, config: TinyDetectorConfig):
        super().__init__(config)
        self.encoder = nn.Conv1d(
            config.feature_dim, config.hidden_size, config.kernel_size, padding=config.kernel_size // 2
        )
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.regressor = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @property
    def dummy_inputs(self):
        generator = torch.Generator().manual_seed(0)
        features = torch.randn(2, 7, self.config.feature_dim, generator=generator)
        mask = torch.ones(2, 7, dtype=torch.long)
        mask[1, 5:] = 0
        return {"input_features": features, "attention_mask": mask}

    def forward(self, input_features, attention_mask=None):
        mask = (
            torch.ones(input_features.shape[:2], device=input_features.device)
            if attention_mask is None
            else attention_mask.to(input_features.dtype)
        )
        hidden = torch.relu(self.encoder((input_features * mask[..., None]).transpose(1, 2))).transpose(1, 2)
        return TinyDetectorOutput(
            logits=self.classifier(hidden), offsets=nn.functional.softplus(self.regressor(hidden))
        )


class TinyGrounderConfig(PreTrainedConfig):
    model_type = "tiny_grounder"

    def __init__(self, feature_dim: int = 6, query_dim: int = 5, hidden_size: int = 8, **kwargs):
        for name, value in (("feature_dim", feature_dim), ("query_dim", query_dim), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.feature_dim, self.query_dim, self.hidden_size = feature_dim, query_dim, hidden_size
        super().__init__(**kwargs)


@dataclass
class TinyGrounderOutput(ModelOutput):
    """`start_logits`, `end_logits` (B, T): how likely each step starts / ends the queried window."""

    start_logits: torch.FloatTensor | None = None
    end_logits: torch.FloatTensor | None = None


class TinyGrounderForTemporalGrounding(MomentzooModelCardMixin, PreTrainedModel):
    config_class = TinyGrounderConfig
    main_input_name = "input_features"

    def __init__(self, config: TinyGrounderConfig):
        super().__init__(config)
        self.video_proj = nn.Linear(config.feature_dim, config.hidden_size)
        self.query_proj = nn.Linear(config.query_dim, config.hidden_size)
        self.boundary = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @property
    def dummy_inputs(self):
        generator = torch.Generator().manual_seed(0)
        return {
            "input_features": torch.randn(2, 9, self.config.feature_dim, generator=generator),
            "query_features": torch.randn(2, 4, self.config.query_dim, generator=generator),
        }

    def forward(self, input_features, query_features):
        video = self.video_proj(input_features)  # (B, T, H)
        query = self.query_proj(query_features).mean(dim=1, keepdim=True)  # (B, 1, H)
        start, end = self.boundary(torch.tanh(video * query)).unbind(-1)
        return TinyGrounderOutput(start_logits=start, end_logits=end)


def register_tiny_models() -> None:
    """Register both with AutoConfig, AutoModel and their task auto class (idempotent)."""
    momentzoo.register_model(TinyDetectorConfig, TinyDetectorForTemporalLocalization, task="temporal-localization")
    momentzoo.register_model(TinyGrounderConfig, TinyGrounderForTemporalGrounding, task="temporal-grounding")
