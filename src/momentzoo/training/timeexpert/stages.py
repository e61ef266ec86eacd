"""TimeExpert's three training stages (the paper's supplementary): what each one trains.

- `task_modules`: task-module pretraining: the projector, the time and score encoders and heads; the LM is frozen.
- `moe`: MoE pretraining: the task modules plus every MoE layer (gates, thresholds, routed and shared experts).
- `sft`: supervised fine-tuning: the whole LLM and the projector (Table 1: ViT frozen, LLM and projector trained).

The vision encoder stays frozen in every stage unless `config.freeze_vision` is False.
"""

from __future__ import annotations

__all__ = ["TIMEEXPERT_STAGES", "set_stage_trainable"]

TIMEEXPERT_STAGES = ("task_modules", "moe", "sft")
_TASK_MODULES = ("projector", "time_encoder", "score_encoder", "time_head", "score_head")


def set_stage_trainable(model, stage: str) -> dict[str, int]:
    """Set `requires_grad` for `stage`; returns the number of trainable and frozen parameters."""
    if stage not in TIMEEXPERT_STAGES:
        raise ValueError(f"unknown TimeExpert stage {stage!r}; known: {list(TIMEEXPERT_STAGES)}")
    model.requires_grad_(False)
    for name in _TASK_MODULES:
        getattr(model, name).requires_grad_(True)
    if stage == "moe":
        for layer in model.moe_layers:
            layer.requires_grad_(True)
    elif stage == "sft":
        model.language_model.requires_grad_(True)
    if model.vision_model is not None and not model.config.freeze_vision:
        model.vision_model.requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "frozen": sum(p.numel() for p in model.parameters()) - trainable}
