"""TimeExpert's expert lifecycle (Algorithm 1 of the paper's supplementary): every T_update optimizer steps, remove
the experts whose activation rate A_e stays below τ_min and add one expert per layer for the tokens that no expert
took, with W_g,new = R_S/‖R_S‖ (R_S the mean of those tokens) and G_new = 0. The model records the live expert set
in its config (so checkpoints reload grown or pruned); the optimizer's state follows the rows that were kept.

Single process only: DistributedDataParallel registers the parameters it synchronises when it wraps the model (new
expert tensors would silently train per process) and DeepSpeed ZeRO keeps them in flat buffers that cannot be
resized, so the callback refuses both with a clear error. Multi-GPU stages run with `expert_lifecycle: false`.
"""

from __future__ import annotations

import torch
from transformers import TrainerCallback

__all__ = ["TimeExpertLifecycleCallback", "apply_expert_update", "plan_expert_update", "remap_optimizer_state"]


@torch.no_grad()
def plan_expert_update(model) -> tuple[dict[int, list[int]], dict[int, torch.Tensor]]:
    """(remove, add): per layer the experts whose activation rate is below τ_min for every task type (at least one
    expert stays: the most active), and the new gate row R_S/‖R_S‖ for layers with at least `min_unrouted_tokens`
    tokens routed nowhere since the last update (and room under `max_experts_per_layer`)."""
    config = model.config
    remove, add = {}, {}
    for index, layer in enumerate(model.moe_layers):
        gate = layer.gate
        rate = gate.activation_rate.float().max(dim=0).values  # an expert any task type uses stays
        weak = (rate < config.min_activation_rate).nonzero().flatten().tolist()
        if len(weak) == layer.num_experts:
            weak.remove(int(rate.argmax()))
        if weak:
            remove[index] = weak
        count = int(gate.unrouted_count)
        if count >= config.min_unrouted_tokens and layer.num_experts - len(weak) < config.max_experts_per_layer:
            mean = gate.unrouted_sum.float() / count
            if mean.norm() > 0:
                add[index] = (mean / mean.norm())[None]
    return remove, add


def _inner_optimizer(optimizer):
    from accelerate.optimizer import AcceleratedOptimizer

    if type(optimizer).__module__.startswith("deepspeed"):
        raise ValueError(
            "the TimeExpert expert lifecycle cannot resize parameters under DeepSpeed ZeRO; run the "
            "MoE stages with expert_update_interval larger than the run or without DeepSpeed"
        )
    return optimizer.optimizer if isinstance(optimizer, AcceleratedOptimizer) else optimizer


@torch.no_grad()
def remap_optimizer_state(optimizer, changes: dict) -> None:
    """Swap each old parameter for its new one in the optimizer's groups and move its state: rows kept keep their
    moments, new rows start at zero (AdamW's `exp_avg`/`exp_avg_sq` and any state shaped like the parameter)."""
    optimizer = _inner_optimizer(optimizer)
    for group in optimizer.param_groups:
        group["params"] = [changes[p][0] if p in changes else p for p in group["params"]]
    for old, (new, index) in changes.items():
        state = optimizer.state.pop(old, None)
        if state is None:
            continue
        kept = (index >= 0).nonzero().flatten()
        moved = {}
        for key, value in state.items():
            if torch.is_tensor(value) and value.shape == old.shape:
                fresh = value.new_zeros(new.shape)
                fresh[kept] = value[index[kept].to(value.device)]
                moved[key] = fresh
            else:
                moved[key] = value
        optimizer.state[new] = moved


def apply_expert_update(model, optimizer=None) -> dict:
    """Plan and apply one lifecycle update; returns `{"removed": {layer: n}, "added": {layer: n}}`."""
    remove, add = plan_expert_update(model)
    if not remove and not add:
        return {"removed": {}, "added": {}}
    changes = model.update_experts(remove, add)
    if optimizer is not None:
        remap_optimizer_state(optimizer, changes)
    return {"removed": {k: len(v) for k, v in remove.items()}, "added": {k: len(v) for k, v in add.items()}}


class TimeExpertLifecycleCallback(TrainerCallback):
    """Runs `apply_expert_update` every `config.expert_update_interval` optimizer steps (or `update_interval`) and
    logs the live expert counts."""

    def __init__(self, update_interval: int | None = None):
        if update_interval is not None and (not isinstance(update_interval, int) or update_interval < 1):
            raise ValueError(f"update_interval must be a positive integer, got {update_interval!r}")
        self.update_interval = update_interval
        self.history: list[dict] = []

    def on_train_begin(self, args, state, control, **kwargs):
        if args.world_size > 1:
            raise ValueError(
                f"TimeExpertLifecycleCallback runs in a single process (the experts' parameters change "
                f"shape, which DDP/DeepSpeed cannot follow); this run has {args.world_size} processes: "
                "turn the expert lifecycle off for multi-process stages"
            )

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
        interval = self.update_interval or model.config.expert_update_interval
        if state.global_step == 0 or state.global_step % interval:
            return
        change = apply_expert_update(model, optimizer)
        if change["removed"] or change["added"]:
            change = {"step": state.global_step, **change, "experts": model.config.experts_per_layer}
            self.history.append(change)
