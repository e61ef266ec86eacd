"""`transformers.Trainer` with ActionFormer's official weight-decay groups (`make_optimizer` of the official code)."""

from __future__ import annotations

from torch import nn

from ..trainer import TemporalLocalizationTrainer

__all__ = ["ActionFormerTrainer", "official_decay_parameter_names"]


def official_decay_parameter_names(model: nn.Module) -> list[str]:
    """The parameters the official ActionFormer optimizer decays: the weights of linear and convolution layers only.
    Biases, LayerNorm weights, the regression heads' per-level `ActionFormerScale`s and the blocks' LayerScale
    (`ActionFormerAffineDropPath`) parameters are not decayed (Trainer's default would decay the last two)."""
    return [
        f"{module_name}.{name}" if module_name else name
        for module_name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv1d))
        for name, _ in module.named_parameters(recurse=False)
        if name == "weight"
    ]


class ActionFormerTrainer(TemporalLocalizationTrainer):
    """A `Trainer` whose AdamW groups follow the official code (see `official_decay_parameter_names`)."""

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        return official_decay_parameter_names(model)
