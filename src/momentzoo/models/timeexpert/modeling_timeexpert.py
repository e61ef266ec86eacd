"""TimeExpert ("TimeExpert: An Expert-Guided Video LLM for Video Temporal Grounding"): a video LLM whose decoder FFNs
are mixture-of-experts layers with task-aware dynamic gating, experts added and removed during training, and
timestamp and score tokens with their own encoders and heads (TRACE's causal event modelling).

The MoE FFN:

    s(x) = cos(x, W_g)                      z(x) = (s(x) + α·A_t) / (1 + α)
    g(x) = sign(σ(z(x)) − σ(G))             (straight-through: the gradient of σ(z) − σ(G))
    E(x) = {e : g_e(x) > 0}; an empty E takes the least-utilised expert
    y    = (1/|E|) Σ_{e∈E} g_e(x)·E_e(x) + shared(x)

Experts are stored as ARIA's grouped tensors (`gate_up_proj` (E, H, 2I), `down_proj` (E, I, H)), so ARIA's MoE
weights load as they are. Dispatch sorts the (token, expert) pairs by expert and runs one matmul per expert over its
tokens (a loop over experts, never over tokens).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationMixin,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache
from transformers.generation import LogitsProcessor, LogitsProcessorList
from transformers.utils import ModelOutput

from ...hub import MomentzooModelCardMixin
from ..backbone_utils import load_causal_lm, load_saved_tokenizer, save_tokenizer, saved_preprocessor_dict
from .configuration_timeexpert import TimeExpertConfig
from .processing_timeexpert import SYNC_TOKEN, TASK_TYPES, TIME_VOCABULARY, VIDEO_PLACEHOLDER, TimeExpertTokenLayout

__all__ = [
    "TIMEEXPERT_CITATION",
    "TimeExpertDynamicGate",
    "TimeExpertExperts",
    "TimeExpertHeadSwitchLogitsProcessor",
    "TimeExpertMoE",
    "TimeExpertMoELayer",
    "TimeExpertOutput",
    "TimeExpertPreTrainedModel",
    "TimeExpertRouting",
    "TimeExpertSharedExperts",
    "TimeExpertVisionProjector",
    "balance_loss",
    "dynamic_gate_logits",
    "least_utilised_assignment",
    "router_z_loss",
    "straight_through_sign_gate",
]

TIMEEXPERT_CITATION = """@misc{timeexpert,
  title={TimeExpert: An Expert-Guided Video LLM for Video Temporal Grounding},
  note={arXiv preprint}
}"""


def dynamic_gate_logits(x: torch.Tensor, gate_weight: torch.Tensor, task_rates: torch.Tensor, alpha: float):
    """z(x) = (cos(x, W_g) + α·A_t) / (1 + α) for tokens `x` (N, H), gate rows `W_g` (E, H) and the activation
    rates of each token's task `task_rates` (N, E)."""
    similarity = F.normalize(x.float(), dim=-1) @ F.normalize(gate_weight.float(), dim=-1).T
    return (similarity + alpha * task_rates.float()) / (1.0 + alpha)


def straight_through_sign_gate(logits: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """g = sign(σ(z) − σ(G)) in the forward pass, with the gradient of σ(z) − σ(G) (straight-through)."""
    margin = torch.sigmoid(logits) - torch.sigmoid(threshold.float())
    return margin + (torch.sign(margin) - margin).detach()


def least_utilised_assignment(counts: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """The experts `num_tokens` tokens with an empty active set go to, one after the other, each to the expert with
    the fewest tokens so far (ties: the lowest index), counting the ones placed before it. Vectorised: expert e's
    j-th extra token arrives when its count is counts[e] + j, so the order is the sort of all (counts[e] + j, e)."""
    if num_tokens == 0:
        return counts.new_zeros(0, dtype=torch.long)
    experts = counts.numel()
    slots = counts.long()[:, None] + torch.arange(num_tokens, device=counts.device)[None, :]  # (E, n)
    key = slots * experts + torch.arange(experts, device=counts.device)[:, None]
    order = torch.argsort(key.flatten())[:num_tokens]
    return order // num_tokens


def router_z_loss(logits: torch.Tensor) -> torch.Tensor:
    """ST-MoE's router z-loss: mean over tokens of logsumexp_e(z_e)²."""
    if logits.numel() == 0:
        return logits.new_zeros(())
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


def balance_loss(soft_activation: torch.Tensor, routed_counts: torch.Tensor) -> torch.Tensor:
    """Σ_e (A_e/ΣA − N_e/ΣN)²: A_e the soft activation mass Σ_x σ(z_e(x)) (differentiable), N_e the tokens routed
    to e."""
    a = soft_activation / soft_activation.sum().clamp_min(1e-9)
    n = routed_counts.float() / routed_counts.float().sum().clamp_min(1.0)
    return (a - n).pow(2).sum()


@dataclass
class TimeExpertRouting:
    """What the model hands every MoE layer for one forward pass: each token's task type and whether it is real
    (not padding), and snapshots of each layer's activation rates and utilisation counts. The snapshots make the
    routing a function of the inputs, so activation checkpointing recomputes exactly what the forward computed."""

    token_tasks: torch.Tensor  # (N,) long
    token_mask: torch.Tensor  # (N,) bool
    rates: list  # per layer (num_tasks, E)
    counts: list  # per layer (E,) long


class TimeExpertDynamicGate(nn.Module):
    """Gate rows W_g, learnable thresholds G, and the routing statistics of one layer (buffers: the activation rate
    A_t of every expert per task type, the number of tokens each expert got, and the sum and count of the tokens
    that no expert took, for adding experts)."""

    def __init__(self, hidden_size: int, num_experts: int, num_tasks: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_experts, hidden_size))
        self.threshold = nn.Parameter(torch.zeros(num_experts))
        self.register_buffer("activation_rate", torch.zeros(num_tasks, num_experts))
        self.register_buffer("expert_counts", torch.zeros(num_experts, dtype=torch.long))
        self.register_buffer("unrouted_sum", torch.zeros(hidden_size, dtype=torch.float32))
        self.register_buffer("unrouted_count", torch.zeros((), dtype=torch.long))

    @property
    def num_experts(self) -> int:
        return self.weight.shape[0]


class TimeExpertExperts(nn.Module):
    """E SiLU-gated FFN experts in ARIA's grouped layout."""

    def __init__(self, hidden_size: int, intermediate_size: int, num_experts: int):
        super().__init__()
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, hidden_size, 2 * intermediate_size))
        self.down_proj = nn.Parameter(torch.empty(num_experts, intermediate_size, hidden_size))

    def forward(self, x: torch.Tensor, token_index: torch.Tensor, expert_index: torch.Tensor, weight: torch.Tensor):
        """Σ over the (token, expert, weight) pairs of weight·E_expert(x_token), as an (N, H) tensor."""
        out = torch.zeros_like(x)
        order = torch.argsort(expert_index, stable=True)
        token_index, expert_index, weight = token_index[order], expert_index[order], weight[order]
        sizes = torch.bincount(expert_index, minlength=self.gate_up_proj.shape[0]).tolist()
        start = 0
        for expert, size in enumerate(sizes):  # one grouped matmul per expert over all its tokens
            if size == 0:
                continue
            tokens = token_index[start : start + size]
            gate, up = (x.index_select(0, tokens) @ self.gate_up_proj[expert]).chunk(2, dim=-1)
            hidden = (F.silu(gate) * up) @ self.down_proj[expert]
            out.index_add_(0, tokens, (hidden * weight[start : start + size, None]).to(out.dtype))
            start += size
        return out


class TimeExpertSharedExperts(nn.Module):
    """The always-on experts: one gated MLP of width `num_shared * intermediate_size` (ARIA's shared experts)."""

    def __init__(self, hidden_size: int, intermediate_size: int, hidden_act: str, bias: bool = False):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)
        self.act_fn = ACT2FN[hidden_act]

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class TimeExpertMoELayer(nn.Module):
    """The FFN of one decoder layer. The model sets `routing` (a `TimeExpertRouting`) before each forward; the
    layer leaves its losses in `losses` and, in training, the statistics to commit in `pending_statistics`."""

    def __init__(self, config, layer_index: int, num_experts: int):
        super().__init__()
        text = config.text_config
        self.layer_index = layer_index
        self.alpha = config.gate_alpha
        self.gate = TimeExpertDynamicGate(text.hidden_size, num_experts, len(config.task_types))
        self.experts = TimeExpertExperts(text.hidden_size, config.expert_intermediate_size, num_experts)
        self.shared_experts = (
            TimeExpertSharedExperts(
                text.hidden_size,
                config.num_shared_experts * config.expert_intermediate_size,
                text.hidden_act,
                bias=getattr(text, "mlp_bias", False),
            )
            if config.num_shared_experts
            else None
        )
        self.routing: TimeExpertRouting | None = None
        self.losses: dict | None = None
        self.pending_statistics: dict | None = None
        self.active_experts: torch.Tensor | None = None

    @property
    def num_experts(self) -> int:
        return self.gate.num_experts

    def route(
        self,
        x: torch.Tensor,
        token_tasks: torch.Tensor,
        token_mask: torch.Tensor,
        rates: torch.Tensor,
        counts: torch.Tensor,
    ):
        """(gates (N, E) in {-1, 0, 1} with straight-through gradient, active (N, E) bool after the fallback,
        logits z (N, E), fallback (N,) bool: tokens whose active set was empty)."""
        logits = dynamic_gate_logits(x, self.gate.weight, rates[token_tasks], self.alpha)
        gates = straight_through_sign_gate(logits, self.gate.threshold)
        active = gates.detach() > 0
        empty = ~active.any(dim=-1)
        fallback = empty.nonzero().flatten()
        if fallback.numel():
            if self.training:  # each empty token updates the counts the next one sees
                real = token_mask[fallback]
                experts = torch.zeros_like(fallback)
                experts[real] = least_utilised_assignment(counts, int(real.sum()))
                experts[~real] = int(torch.argmin(counts))
            else:  # inference: the same expert for every empty token, independent of the rest of the batch
                experts = torch.full_like(fallback, int(torch.argmin(counts)))
            active[fallback, experts] = True
            # The fallback expert's gate is 1 (sign of a forced activation); it carries no gradient.
            gates = torch.where(active & (gates.detach() <= 0), torch.ones_like(gates), gates)
        return gates, active, logits, empty

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.routing is None:
            raise RuntimeError("TimeExpertMoELayer needs its routing context: call it through TimeExpertMoE")
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        routing = self.routing
        mask = routing.token_mask
        rates, counts = routing.rates[self.layer_index], routing.counts[self.layer_index]
        gates, active, logits, empty = self.route(x, routing.token_tasks, mask, rates, counts)

        token_index, expert_index = active.nonzero(as_tuple=True)
        size = active.sum(dim=-1).clamp_min(1)
        weight = gates[token_index, expert_index] / size[token_index]
        out = self.experts(x, token_index, expert_index, weight.to(x.dtype))
        if self.shared_experts is not None:
            out = out + self.shared_experts(x)
        self.active_experts = active.sum(dim=-1).view(shape[:-1])

        real_logits = logits[mask]
        routed = active[mask]
        soft = torch.sigmoid(real_logits).sum(dim=0)
        self.losses = {
            "z_loss": router_z_loss(real_logits),
            "balance_loss": balance_loss(soft, routed.sum(dim=0)),
            "gate_norm_loss": self.gate.weight.float().norm(dim=-1).sum(),
        }
        if self.training:
            with torch.no_grad():
                tasks = routing.token_tasks[mask]
                num_tasks = self.gate.activation_rate.shape[0]
                per_task = torch.zeros(num_tasks, self.num_experts, device=x.device).index_add_(
                    0, tasks, routed.float()
                )
                tokens = torch.bincount(tasks, minlength=num_tasks)
                unrouted = empty & mask
                self.pending_statistics = {
                    "task_rate": per_task / tokens.clamp_min(1)[:, None].float(),
                    "task_present": tokens > 0,
                    "counts": routed.sum(dim=0).long(),
                    "unrouted_sum": x[unrouted].float().sum(dim=0),
                    "unrouted_count": unrouted.sum(),
                }
        return out.view(shape)

    @torch.no_grad()
    def commit_statistics(self, momentum: float) -> None:
        """Fold the last training forward's statistics into the buffers (A_t as an exponential moving average)."""
        stats, self.pending_statistics = self.pending_statistics, None
        if stats is None:
            return
        gate = self.gate
        present = stats["task_present"]
        rate = gate.activation_rate
        rate[present] = momentum * rate[present] + (1 - momentum) * stats["task_rate"][present].to(rate.dtype)
        gate.expert_counts += stats["counts"]
        gate.unrouted_sum += stats["unrouted_sum"]
        gate.unrouted_count += stats["unrouted_count"]

    # ------------------------------------------------------------------------------ expert lifecycle
    @torch.no_grad()
    def resize_experts(self, keep: torch.Tensor, new_gate_rows: torch.Tensor) -> dict:
        """Keep experts `keep` (indices, in order) and append one expert per row of `new_gate_rows` (unit gate
        rows W_g,new, threshold G_new = 0, FFN weights the mean of the kept experts). Returns
        `{old parameter: (new parameter, index)}`: row r of the new parameter came from row index[r] of the old one
        (−1 for a new row), for moving optimizer state."""
        keep = keep.to(self.gate.weight.device, torch.long)
        added = new_gate_rows.shape[0]
        if keep.numel() + added == 0:
            raise ValueError(f"layer {self.layer_index}: an MoE layer needs at least one expert")
        index = torch.cat([keep, keep.new_full((added,), -1)])
        changes = {}

        def rebuild(module, name, new_rows):
            old = getattr(module, name)
            value = torch.cat([old.data[keep], new_rows.to(old.dtype)], dim=0)
            new = nn.Parameter(value, requires_grad=old.requires_grad)
            setattr(module, name, new)
            changes[old] = (new, index)

        gate = self.gate
        rebuild(gate, "weight", F.normalize(new_gate_rows.float(), dim=-1))
        rebuild(gate, "threshold", torch.zeros(added))
        mean = (
            (lambda p: p.data[keep].mean(dim=0, keepdim=True).expand(added, *p.shape[1:]))
            if keep.numel()
            else (lambda p: p.data.mean(dim=0, keepdim=True).expand(added, *p.shape[1:]))
        )
        rebuild(self.experts, "gate_up_proj", mean(self.experts.gate_up_proj))
        rebuild(self.experts, "down_proj", mean(self.experts.down_proj))
        gate.activation_rate = torch.cat(
            [gate.activation_rate[:, keep], gate.activation_rate.new_zeros(gate.activation_rate.shape[0], added)], dim=1
        )
        # A new expert starts at the least count of the kept ones, so it is not flooded by every empty set.
        base = gate.expert_counts[keep].min() if keep.numel() else gate.expert_counts.new_zeros(())
        gate.expert_counts = torch.cat([gate.expert_counts[keep], base.expand(added).clone()])
        gate.unrouted_sum.zero_()
        gate.unrouted_count.zero_()
        return changes


# ======================================================================================== the video LLM
@dataclass
class TimeExpertOutput(ModelOutput):
    """Output of [`TimeExpertMoE`].

    Args:
        loss (`()`, with `labels`): the three heads' language-modelling loss + router z-loss + L_aux.
        logits (`(B, L, V + 26)`): scores over the unified vocabulary (text ids from the text head, then the 13
            time ids from the time head, then the 13 score ids from the score head).
        cache (`Cache`): the decoder's key/value cache (with `use_cache`).
        lm_loss, router_z_loss, aux_loss (`()`, with `labels`): the parts of `loss` (the MoE terms averaged over
            layers, before their coefficients for `router_z_loss`; `aux_loss` is λ1·balance + λ2·gate norm).
        active_experts (`(B, L)`): the mean number of routed experts per token over the MoE layers.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    cache: Cache | None = None
    lm_loss: torch.Tensor | None = None
    router_z_loss: torch.Tensor | None = None
    aux_loss: torch.Tensor | None = None
    active_experts: torch.Tensor | None = None


class TimeExpertVisionProjector(nn.Module):
    """Compresses a frame's patch tokens to `num_tokens` (average pooling over patches) and projects them into the
    LM (two linear layers with GELU, LLaVA's projector)."""

    def __init__(self, vision_dim: int, hidden_size: int, num_tokens: int):
        super().__init__()
        self.num_tokens = num_tokens
        self.linear_1 = nn.Linear(vision_dim, hidden_size)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(hidden_size, hidden_size)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(frames, patches, D) -> (frames, num_tokens, hidden)."""
        pooled = F.adaptive_avg_pool1d(patches.transpose(1, 2), self.num_tokens).transpose(1, 2)
        return self.linear_2(self.act(self.linear_1(pooled)))


class TimeExpertHeadSwitchLogitsProcessor(LogitsProcessor):
    """TRACE's head switching for `generate`: the generated part cycles time tokens -> `<sync>` -> score tokens ->
    `<sync>` -> caption -> `<sync>`; the number of `<sync>` tokens generated so far picks the head whose ids stay
    allowed (the end of the answer is allowed where a new event would start)."""

    def __init__(self, layout: TimeExpertTokenLayout, prompt_length: int, excluded_text_ids=()):
        self.layout = layout
        self.prompt_length = prompt_length
        self.excluded_text_ids = list(excluded_text_ids)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        layout = self.layout
        generated = input_ids[:, self.prompt_length :]
        syncs = torch.isin(generated, torch.tensor(layout.sync_ids, device=generated.device)).sum(dim=-1)
        phase = syncs % 3  # 0 time, 1 score, 2 caption
        vocab = torch.arange(scores.shape[-1], device=scores.device)
        is_text = vocab < layout.time_offset
        is_time = (vocab >= layout.time_offset) & (vocab < layout.score_offset)
        is_score = (vocab >= layout.score_offset) & (vocab < layout.vocab_size)
        text_allowed = is_text.clone()
        text_allowed[layout.eos_token_id] = False
        if self.excluded_text_ids:
            text_allowed[self.excluded_text_ids] = False
        time_allowed = is_time.clone()
        time_allowed[layout.eos_token_id] = True
        allowed = torch.stack([time_allowed, is_score, text_allowed])[phase]  # (B, V)
        return scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)


class TimeExpertPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = TimeExpertConfig
    config: TimeExpertConfig
    base_model_prefix = "timeexpert"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["TimeExpertMoELayer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # The LM and the vision encoder initialise their own modules; this covers TimeExpert's.
        std = getattr(self.config.text_config, "initializer_range", 0.02)
        if isinstance(module, TimeExpertDynamicGate):
            init.normal_(module.weight, mean=0.0, std=std)
            init.zeros_(module.threshold)
            init.zeros_(module.activation_rate)
            init.zeros_(module.expert_counts)
            init.zeros_(module.unrouted_sum)
            init.zeros_(module.unrouted_count)
        elif isinstance(module, TimeExpertExperts):
            init.normal_(module.gate_up_proj, mean=0.0, std=std)
            init.normal_(module.down_proj, mean=0.0, std=std)
        elif isinstance(module, (TimeExpertVisionProjector, TimeExpertSharedExperts)):
            for child in module.children():
                if isinstance(child, nn.Linear):
                    init.normal_(child.weight, mean=0.0, std=std)
                    if child.bias is not None:
                        init.zeros_(child.bias)
        elif isinstance(module, TimeExpertMoE):
            init.normal_(module.time_encoder.weight, mean=0.0, std=std)
            init.normal_(module.score_encoder.weight, mean=0.0, std=std)
            init.normal_(module.time_head.weight, mean=0.0, std=std)
            init.normal_(module.score_head.weight, mean=0.0, std=std)

    def initialize_weights(self):
        super().initialize_weights()
        # The MoE layers live inside the LM, whose own `_init_weights` does not know them: initialise them here
        # (`transformers.initialization` skips tensors already loaded from a checkpoint).
        for module in self.modules():
            if isinstance(module, (TimeExpertDynamicGate, TimeExpertExperts, TimeExpertSharedExperts)):
                self._init_weights(module)


@torch.no_grad()
def _upcycle_dense_ffn(moe: TimeExpertMoELayer, dense: nn.Module) -> None:
    """Sparse upcycling: every routed expert becomes a copy of the dense gated FFN; the shared experts' output
    projection starts at zero, so y = (1/|E|) Σ g_e·FFN(x) = FFN(x) at the start."""
    for name in ("gate_proj", "up_proj", "down_proj"):
        if not isinstance(getattr(dense, name, None), nn.Linear):
            raise ValueError(
                f"sparse upcycling needs a gated FFN with gate_proj/up_proj/down_proj, got {type(dense).__name__}"
            )
    if (
        dense.down_proj.weight.shape[0] != moe.experts.down_proj.shape[2]
        or dense.gate_proj.weight.shape[0] != moe.experts.down_proj.shape[1]
    ):
        raise ValueError("expert_intermediate_size must equal the dense FFN's intermediate size for upcycling")
    gate_up = torch.cat([dense.gate_proj.weight.T, dense.up_proj.weight.T], dim=-1)
    moe.experts.gate_up_proj.copy_(gate_up.expand_as(moe.experts.gate_up_proj))
    moe.experts.down_proj.copy_(dense.down_proj.weight.T.expand_as(moe.experts.down_proj))
    if moe.shared_experts is not None:
        moe.shared_experts.down_proj.weight.zero_()


@torch.no_grad()
def _load_aria_ffn(moe: TimeExpertMoELayer, aria: nn.Module) -> None:
    """ARIA's MoE layer into TimeExpert's: router rows -> W_g (cosine gating uses their directions), grouped experts
    and shared experts as they are."""
    moe.gate.weight.copy_(aria.router.weight)
    moe.experts.gate_up_proj.copy_(aria.experts.gate_up_proj)
    moe.experts.down_proj.copy_(aria.experts.down_proj)
    if moe.shared_experts is not None:
        moe.shared_experts.load_state_dict(aria.shared_experts.state_dict())


def _decoder_layers(language_model: PreTrainedModel) -> nn.ModuleList:
    layers = language_model.get_decoder().layers
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"{type(language_model).__name__}: its decoder has no `layers` list to put MoE FFNs in")
    return layers


class TimeExpertMoE(TimeExpertPreTrainedModel, GenerationMixin):
    """TimeExpert: frames (each as 6 timestamp tokens + `num_visual_tokens_per_frame` visual tokens), a prompt and
    an answer in TRACE's event format, through a decoder LM whose FFNs are task-aware dynamic MoE layers; text, time
    and score heads. `generate()` switches heads at each `<sync>`.

    Inputs: `input_ids` over the unified vocabulary (`config.token_layout`; `TimeExpertProcessor` builds them),
    `attention_mask`, `frame_features` (B, T, P, vision_feature_dim) or `pixel_values` (B, T, C, H, W) with
    `frame_mask` (B, T) for videos with fewer frames, `task_ids` (B,) indices into `TASK_TYPES`, `labels`.

    Build from real backbones with `from_backbones(language_model=..., vision_model=..., tokenizer=...)`: a dense
    causal LM is sparsely upcycled, an ARIA LM gives its MoE weights.
    """

    accepts_loss_kwargs = False

    def __init__(
        self,
        config: TimeExpertConfig,
        language_model: PreTrainedModel | None = None,
        vision_model: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        self.vision_model = None
        if config.vision_config is not None:
            self.vision_model = (
                vision_model if vision_model is not None else AutoModel.from_config(config.vision_config)
            )
        elif vision_model is not None:
            raise ValueError("a vision_model was given but config.vision_config is None")
        self.language_model = (
            language_model if language_model is not None else AutoModelForCausalLM.from_config(config.text_config)
        )
        hidden = config.text_config.hidden_size
        layers = _decoder_layers(self.language_model)
        for index, (layer, experts) in enumerate(zip(layers, config.experts_per_layer)):
            layer.mlp = TimeExpertMoELayer(config, index, experts)
        self.projector = TimeExpertVisionProjector(
            config.vision_feature_dim, hidden, config.num_visual_tokens_per_frame
        )
        self.time_encoder = nn.Embedding(len(TIME_VOCABULARY), hidden)
        self.score_encoder = nn.Embedding(len(TIME_VOCABULARY), hidden)
        self.time_head = nn.Linear(hidden, len(TIME_VOCABULARY), bias=False)
        self.score_head = nn.Linear(hidden, len(TIME_VOCABULARY), bias=False)
        self.tokenizer = None  # attached by from_backbones / from_pretrained; saved beside the weights
        self.post_init()
        self._set_trainable()

    def _set_trainable(self) -> None:
        if self.vision_model is not None and self.config.freeze_vision:
            self.vision_model.requires_grad_(False)

    @property
    def moe_layers(self) -> list[TimeExpertMoELayer]:
        return [layer.mlp for layer in _decoder_layers(self.language_model)]

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    # ------------------------------------------------------------------------------------- inputs
    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """Two videos (3 and 2 frames) with a short prompt and answer, the second right-padded."""
        config = self.config
        layout = config.token_layout
        generator = torch.Generator().manual_seed(0)
        k = config.num_visual_tokens_per_frame
        rows = []
        for frames in (3, 2):
            ids = []
            for f in range(frames):
                ids += layout.timestamp_ids(float(f)) + [config.video_token_id] * k
            ids += (
                [1, 2, 3]
                + layout.time_ids("0001.0<sep>0002.0")
                + [layout.time_sync_id, layout.score_sync_id, layout.text_sync_id, layout.eos_token_id]
            )
            rows.append(ids)
        length = max(map(len, rows))
        input_ids = torch.full((2, length), config.text_config.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros(2, length, dtype=torch.long)
        for i, ids in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            mask[i, : len(ids)] = 1
        inputs = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "task_ids": torch.tensor([2, 0], device=self.device),
        }
        frame_mask = torch.tensor([[1, 1, 1], [1, 1, 0]], device=self.device)
        if self.vision_model is None:
            features = torch.randn(2, 3, 4, config.vision_feature_dim, generator=generator)
            inputs["frame_features"] = features.to(self.device, self.dtype)
        else:
            vision = config.vision_config
            pixels = torch.randn(2, 3, vision.num_channels, vision.image_size, vision.image_size, generator=generator)
            inputs["pixel_values"] = pixels.to(self.device, self.dtype)
        inputs["frame_mask"] = frame_mask
        return inputs

    def encode_frames(self, frame_features=None, pixel_values=None, frame_mask=None) -> torch.Tensor:
        """The projected visual tokens of the real frames, (num_real_frames * K, hidden), in batch-major order."""
        if (frame_features is None) == (pixel_values is None):
            raise ValueError("pass exactly one of frame_features (pre-extracted patches) and pixel_values (frames)")
        if pixel_values is not None:
            if self.vision_model is None:
                raise ValueError("pixel_values needs a vision encoder (config.vision_config); pass frame_features")
            if pixel_values.ndim != 5:
                raise ValueError(
                    f"pixel_values must be (batch, frames, channels, height, width), got {tuple(pixel_values.shape)}"
                )
            batch, frames = pixel_values.shape[:2]
            flat = pixel_values.flatten(0, 1)
        else:
            if frame_features.ndim != 4 or frame_features.shape[-1] != self.config.vision_feature_dim:
                raise ValueError(
                    f"frame_features must be (batch, frames, patches, {self.config.vision_feature_dim}), "
                    f"got {tuple(frame_features.shape)}"
                )
            batch, frames = frame_features.shape[:2]
            flat = frame_features.flatten(0, 1)
        if frame_mask is None:
            frame_mask = torch.ones(batch, frames, dtype=torch.bool, device=flat.device)
        elif frame_mask.shape != (batch, frames):
            raise ValueError(f"frame_mask must be (batch, frames) = {(batch, frames)}, got {tuple(frame_mask.shape)}")
        real = frame_mask.to(device=flat.device, dtype=torch.bool).flatten()
        flat = flat[real]
        if pixel_values is not None:
            flat = self.vision_model(pixel_values=flat.to(self.vision_model.dtype)).last_hidden_state
        if not torch.isfinite(flat).all():
            raise ValueError("the frame features hold NaN or infinite values")
        return self.projector(flat.to(self.projector.linear_1.weight.dtype)).flatten(0, 1)

    def embed(self, input_ids: torch.Tensor, visual_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings of unified ids: text ids by the LM's table, time and score ids by their encoders, video
        placeholders replaced in order by `visual_tokens`."""
        layout_offset = self.config.text_config.vocab_size
        n = len(TIME_VOCABULARY)
        if (input_ids < 0).any() or (input_ids >= layout_offset + 2 * n).any():
            raise ValueError(f"input_ids must lie in [0, {layout_offset + 2 * n}) (text, time and score ids)")
        is_time = (input_ids >= layout_offset) & (input_ids < layout_offset + n)
        is_score = input_ids >= layout_offset + n
        text_ids = input_ids.masked_fill(is_time | is_score, 0)
        embeds = self.get_input_embeddings()(text_ids)
        embeds = torch.where(
            is_time[..., None], self.time_encoder((input_ids - layout_offset).clamp(0, n - 1)).to(embeds.dtype), embeds
        )
        embeds = torch.where(
            is_score[..., None],
            self.score_encoder((input_ids - layout_offset - n).clamp(0, n - 1)).to(embeds.dtype),
            embeds,
        )
        if self.config.video_token_id is None:
            if visual_tokens is not None:
                raise ValueError("TimeExpertConfig.video_token_id is not set: frames cannot be placed in input_ids")
            return embeds
        placeholders = input_ids == self.config.video_token_id
        count = int(placeholders.sum())
        if visual_tokens is None:
            if count:
                raise ValueError(f"input_ids hold {count} video placeholder tokens but no frames were given")
            return embeds
        if count != visual_tokens.shape[0]:
            k = self.config.num_visual_tokens_per_frame
            raise ValueError(
                f"input_ids hold {count} video placeholder tokens but the frames give "
                f"{visual_tokens.shape[0]} ({visual_tokens.shape[0] // k} frames x {k} tokens)"
            )
        return embeds.masked_scatter(placeholders[..., None], visual_tokens.to(embeds.dtype))

    def _routing(self, input_ids, attention_mask, task_ids) -> TimeExpertRouting:
        batch, length = input_ids.shape
        device = input_ids.device
        if task_ids is None:
            task_ids = torch.zeros(batch, dtype=torch.long, device=device)
        task_ids = torch.as_tensor(task_ids, device=device).long().reshape(-1)
        if task_ids.shape[0] != batch:
            raise ValueError(f"task_ids must hold one task type per sample ({batch}), got {task_ids.shape[0]}")
        if ((task_ids < 0) | (task_ids >= len(TASK_TYPES))).any():
            raise ValueError(f"task_ids must be indices into {list(TASK_TYPES)}, got {task_ids.tolist()}")
        mask = (
            torch.ones(batch, length, dtype=torch.bool, device=device)
            if attention_mask is None
            else attention_mask[:, -length:].to(device=device, dtype=torch.bool)
        )
        layers = self.moe_layers
        return TimeExpertRouting(
            token_tasks=task_ids[:, None].expand(batch, length).reshape(-1),
            token_mask=mask.reshape(-1),
            rates=[layer.gate.activation_rate.clone() for layer in layers],
            counts=[layer.gate.expert_counts.clone() for layer in layers],
        )

    # ------------------------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        frame_features: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        cache: Cache | None = None,
        position_ids: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> TimeExpertOutput:
        visual = None
        if frame_features is not None or pixel_values is not None:
            visual = self.encode_frames(frame_features, pixel_values, frame_mask)
        embeds = self.embed(input_ids, visual)
        routing = self._routing(input_ids, attention_mask, task_ids)
        layers = self.moe_layers
        for layer in layers:
            layer.routing = routing
        outputs = self.language_model.get_decoder()(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            **kwargs,
        )
        if self.training:
            for layer in layers:
                layer.commit_statistics(self.config.activation_rate_momentum)
        hidden = outputs.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = torch.cat(
            [
                self.language_model.get_output_embeddings()(hidden).float(),
                self.time_head(hidden).float(),
                self.score_head(hidden).float(),
            ],
            dim=-1,
        )
        active = torch.stack([layer.active_experts for layer in layers]).float().mean(dim=0)
        moe_losses = [layer.losses for layer in layers]
        for layer in layers:  # no autograd graph stays on the modules (they deep-copy and pickle)
            layer.losses = layer.active_experts = None

        loss = lm_loss = z_loss = aux = None
        if labels is not None:
            lm_loss = self.head_losses(logits, labels)
            config = self.config
            z_loss = torch.stack([losses["z_loss"] for losses in moe_losses]).mean()
            balance = torch.stack([losses["balance_loss"] for losses in moe_losses]).mean()
            norm = torch.stack([losses["gate_norm_loss"] for losses in moe_losses]).mean()
            aux = config.balance_loss_coef * balance + config.gate_norm_loss_coef * norm
            loss = lm_loss + config.router_z_loss_coef * z_loss + aux
        return TimeExpertOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache if use_cache else None,
            lm_loss=lm_loss,
            router_z_loss=z_loss,
            aux_loss=aux,
            active_experts=active,
        )

    def head_losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy where each target is scored by its own head only (text over the text
        vocabulary, time over the 13 time ids, score over the 13 score ids), weighted per head, mean over targets."""
        config = self.config
        offset, n = config.text_config.vocab_size, len(TIME_VOCABULARY)
        logits, targets = logits[:, :-1], labels[:, 1:].to(logits.device)
        valid = targets != -100
        if not valid.any():
            return logits.sum() * 0.0
        logits, targets = logits[valid], targets[valid]
        if (targets < 0).any() or (targets >= offset + 2 * n).any():
            raise ValueError(f"labels must be -100 or ids in [0, {offset + 2 * n})")
        head = (targets >= offset).long() + (targets >= offset + n).long()
        bounds = torch.tensor([[0, offset], [offset, offset + n], [offset + n, offset + 2 * n]], device=logits.device)
        low, high = bounds[head, 0], bounds[head, 1]
        vocab = torch.arange(logits.shape[-1], device=logits.device)
        inside = (vocab[None] >= low[:, None]) & (vocab[None] < high[:, None])
        per_token = F.cross_entropy(logits.masked_fill(~inside, float("-inf")), targets, reduction="none")
        weights = torch.tensor(
            [config.text_loss_weight, config.time_loss_weight, config.score_loss_weight], device=logits.device
        )[head]
        return (per_token * weights).mean()

    # --------------------------------------------------------------------------------- generation
    def prepare_inputs_for_generation(self, input_ids, is_first_iteration: bool | None = False, **kwargs):
        frames = {k: kwargs.pop(k, None) for k in ("frame_features", "pixel_values", "frame_mask")}
        model_inputs = super().prepare_inputs_for_generation(input_ids, is_first_iteration=is_first_iteration, **kwargs)
        if is_first_iteration or not kwargs.get("use_cache", True):
            model_inputs.update({k: v for k, v in frames.items() if v is not None})
        return model_inputs

    def generate(self, input_ids=None, logits_processor=None, **kwargs):
        """`GenerationMixin.generate` with TRACE's head switching (`TimeExpertHeadSwitchLogitsProcessor`): the
        answer is decoded event by event, each head predicting only its own ids. Pass `task_ids`, frames and the
        prompt's `input_ids`; decode the new ids with `TimeExpertProcessor.decode`."""
        if input_ids is None:
            raise ValueError("TimeExpertMoE.generate needs input_ids (the prompt with its frame tokens)")
        processors = LogitsProcessorList(logits_processor or [])
        excluded = [i for i in (self.config.video_token_id,) if i is not None]
        processors.append(TimeExpertHeadSwitchLogitsProcessor(self.config.token_layout, input_ids.shape[1], excluded))
        kwargs.setdefault("eos_token_id", self.config.token_layout.eos_token_id)
        kwargs.setdefault("pad_token_id", self.config.text_config.pad_token_id)
        return super().generate(input_ids=input_ids, logits_processor=processors, **kwargs)

    # ------------------------------------------------------------------------------ expert lifecycle
    @torch.no_grad()
    def update_experts(
        self, remove: dict[int, list[int]] | None = None, add: dict[int, torch.Tensor] | None = None
    ) -> dict:
        """Remove experts (`{layer: [expert indices]}`) and add experts (`{layer: (n, hidden) gate rows}`), record
        the live expert set in `config.layer_num_experts` and return `{old parameter: (new parameter, row index)}`
        for the optimizer (see `TimeExpertMoELayer.resize_experts`)."""
        remove, add = remove or {}, add or {}
        changes = {}
        counts = self.config.experts_per_layer
        for index, layer in enumerate(self.moe_layers):
            drop = {int(e) for e in remove.get(index, ())}
            new_rows = add.get(index)
            if not drop and (new_rows is None or len(new_rows) == 0):
                continue
            if any(e < 0 or e >= layer.num_experts for e in drop):
                raise ValueError(f"layer {index}: cannot remove experts {sorted(drop)} of {layer.num_experts}")
            keep = torch.tensor([e for e in range(layer.num_experts) if e not in drop], dtype=torch.long)
            new_rows = layer.gate.weight.new_zeros(0, layer.gate.weight.shape[1]) if new_rows is None else new_rows
            total = keep.numel() + len(new_rows)
            if total > self.config.max_experts_per_layer:
                raise ValueError(
                    f"layer {index}: {total} experts exceed max_experts_per_layer = {self.config.max_experts_per_layer}"
                )
            changes.update(layer.resize_experts(keep, new_rows.to(layer.gate.weight.device)))
            counts[index] = layer.num_experts
        self.config.layer_num_experts = counts
        return changes

    # -------------------------------------------------------------------------------------- loading
    @classmethod
    def from_backbones(
        cls, language_model, vision_model=None, tokenizer=None, *, dtype: torch.dtype | None = None, **config_kwargs
    ) -> TimeExpertMoE:
        """TimeExpert on real backbones. `language_model` (hub id, path or instance): a dense causal LM is sparsely
        upcycled (its FFN copied into every routed expert; the shared experts start with a zero output projection,
        so the upcycled model computes the dense LM's function), an ARIA text model (`aria_text`) gives its router,
        routed and shared experts as they are. `vision_model` (hub id, path or instance of any vision `AutoModel`,
        or None for pre-extracted `frame_features`). `tokenizer` (default: the LM's) gets `<sync>` and a video
        placeholder added. `config_kwargs` go to `TimeExpertConfig`."""
        load = {"dtype": dtype} if dtype is not None else {}
        # A vision-language checkpoint (e.g. rhymes-ai/Aria) gives its text model.
        lm = load_causal_lm(language_model, dtype=dtype)
        if tokenizer is None:
            if not isinstance(language_model, (str, os.PathLike)):
                raise ValueError("pass tokenizer= when language_model is a model instance")
            tokenizer = language_model
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        tokenizer.add_tokens([SYNC_TOKEN, VIDEO_PLACEHOLDER], special_tokens=True)
        sync_id, video_id = tokenizer.convert_tokens_to_ids([SYNC_TOKEN, VIDEO_PLACEHOLDER])
        if max(sync_id, video_id) >= lm.get_input_embeddings().weight.shape[0]:
            lm.resize_token_embeddings(max(sync_id, video_id) + 1, mean_resizing=True)
        vm = None
        if isinstance(vision_model, PreTrainedModel):
            vm = vision_model
        elif vision_model is not None:
            # A CLIP/SigLIP checkpoint holds a text tower too: load its vision tower alone.
            vision_config = AutoConfig.from_pretrained(vision_model)
            if "vision_config" in vision_config.sub_configs:
                vision_config = vision_config.vision_config
            vm = AutoModel.from_pretrained(vision_model, config=vision_config, **load)
            # the frame statistics the encoder was trained with, for the pipeline's raw-video path
            stats = saved_preprocessor_dict(str(vision_model)) or {}
            for key in ("image_mean", "image_std"):
                if stats.get(key) is not None:
                    config_kwargs.setdefault(key, list(stats[key]))
        is_aria = lm.config.model_type == "aria_text"
        if is_aria:  # ARIA's MoE geometry, unless overridden
            config_kwargs.setdefault("num_experts", lm.config.moe_num_experts)
            config_kwargs.setdefault("expert_intermediate_size", lm.config.intermediate_size)
            config_kwargs.setdefault("num_shared_experts", lm.config.moe_num_shared_experts)
        else:
            config_kwargs.setdefault("expert_intermediate_size", lm.config.intermediate_size)
        dense_ffns = [layer.mlp for layer in _decoder_layers(lm)]
        attention = {id(m): m.config._attn_implementation for m in (lm, vm) if m is not None}
        config = TimeExpertConfig(
            text_config=lm.config,
            vision_config=vm.config if vm is not None else None,
            video_token_id=video_id,
            sync_token_id=sync_id,
            **config_kwargs,
        )
        for m in (lm, vm):
            if m is not None:
                m.config._attn_implementation = attention[id(m)]
        model = cls(config, language_model=lm, vision_model=vm)
        for moe, dense in zip(model.moe_layers, dense_ffns):
            (_load_aria_ffn if is_aria else _upcycle_dense_ffn)(moe, dense)
        model.tokenizer = tokenizer
        return model

    def save_pretrained(self, save_directory, *args, **kwargs):
        save_tokenizer(self.tokenizer, save_directory, args, kwargs)
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model._set_trainable()
        model.tokenizer = load_saved_tokenizer(pretrained_model_name_or_path, kwargs)
        return model

    @classmethod
    def card_kwargs_from_config(cls, config) -> dict:
        names = [
            c._name_or_path
            for c in (config.vision_config, config.text_config)
            if c is not None
            and re.fullmatch(r"[\w.-]+/[\w.-]+", getattr(c, "_name_or_path", "") or "")
            and not os.path.exists(c._name_or_path)
        ]
        return {
            "base_model": names or None,
            "citation": TIMEEXPERT_CITATION,
            "experts_per_layer": config.experts_per_layer,
            "num_shared_experts": config.num_shared_experts,
        }
