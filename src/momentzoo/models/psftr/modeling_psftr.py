"""PSFTR: a DETR-style zero-shot temporal action localizer over CLIP frame features that fuses the class text
embeddings into every stage, the encoder (SSAE), the decoder queries (SGQG) and the classifier (SPDE).

Shapes: frames `(B, T, ·)` with a `(B, T)` bool mask (True at real steps); `K` candidate classes, whose CLIP text
embeddings `(K, D)` are shared by the whole batch; `N_q` queries. Segments are `(center, width)` normalised to the
real length `L_b` of each window: position `x` is feature step `x * L_b - 0.5` (step `i` at `(i + 0.5) / L_b`),
so nothing depends on how a window was padded. `post_process` converts them to seconds.

Equations (one SSAE layer; CA(q, k, v) is multi-head cross-attention, FFN(x) = LN(x + MLP(x))):
    F̃ = LN(Ṽ + DA(Ṽ + P))            T̃ = LN(T + SA(T))
    F_A = CA(F̃, T̃, T̃),  F̂ = FFN(LN(F_A + F̃))      T_A = CA(T̃, F̃, F̃),  T̂ = FFN(LN(T_A + T̃))
one SGQG layer, with query content q = Q[d:] and position p = Q[:d]:
    Q̄ = LN(q + SA(q + p, q + p, q))   Q_A = CA(Q̄ + p, T̂, T̂),  Q̃ = FFN(LN(Q_A + Q̄))
    Q̃_A = DA(Q̃ + p, segment, F̂),    Q̂ = FFN(LN(Q̃_A + Q̃)),   segment <- sigmoid(logit(segment) + MLP(Q̂))
and SPDE, on the input frames V and the CLIP class texts T (Eq. 5 literally: s = 1, V as given, by default):
    V̂ = softmax(s T Vᵀ) V,   Q̂_cls = Q̂ + Linear(MeanPool_K(V̂)),   logits = τ cos(W Q̂_cls, T)
At inference (§3.7.1) a detection's class comes from the CLIP features RoI-aligned over its interval, scored
against T (`interval_class_logits`), times its actionness.
"""

import math
import os
import re
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoConfig,
    AutoTokenizer,
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.utils import ModelOutput
from transformers.utils import logging as hf_logging

from ...hub import MomentzooModelCardMixin, hub_repo_id
from ...layers.deformable_attention import DeformableAttention1d, DeformableAttentionWeights, DeformableSamplingOffsets
from ...layers.losses import sigmoid_focal_loss
from ...layers.masked_conv import MaskedConv1d
from ...layers.matcher import HungarianSegmentMatcher
from ...layers.roi_align import roi_align_1d
from ...segments import batched_nms, center_width_to_start_end, feature_grid_to_seconds, start_end_to_center_width
from ..backbone_utils import clip_text_states, load_saved_tokenizer, save_tokenizer
from ..temporal_localization import dummy_feature_inputs
from ..validation import validate_feature_inputs, validate_segment_labels, window_geometry
from .configuration_psftr import CLIP_TEXT_MODEL_ID, PSFTRConfig

__all__ = [
    "PSFTROutput",
    "PSFTRPreTrainedModel",
    "PSFTRFeedForward",
    "PSFTREncoderLayer",
    "PSFTRSemanticGuidedEncoder",
    "PSFTRDecoderLayer",
    "PSFTRSemanticGuidedDecoder",
    "PSFTRPrototypeClassifier",
    "PSFTRActionnessHead",
    "PSFTRActionnessLinear",
    "PSFTRSaliencyHead",
    "PSFTRModel",
    "format_class_prompt",
    "interval_class_logits",
]

PSFTR_CITATION = """@inproceedings{psftr2026,
  title={Progressive Semantic Fusion Transformer for Zero-Shot Temporal Action Localization},
  author={Anonymous},
  booktitle={Submitted to the Fourteenth International Conference on Learning Representations (ICLR)},
  year={2026},
  url={https://openreview.net/forum?id=at3UEJzCRc}
}"""
_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
_TEXT_BATCH = 256  # prompts per text-encoder call (1,000 class names run in a few batches)
_CACHE_SIZE = 8  # class sets whose text embeddings are kept


@dataclass
class PSFTROutput(ModelOutput):
    """Output of [`PSFTRModel`]. `K` candidate classes, `N_q` queries, `N_l` decoder layers.

    Args:
        loss (`torch.FloatTensor` of shape `()`, with `labels`): the weighted sum of the losses below, the
            classification and segment terms summed over every decoder layer when `auxiliary_loss`.
        class_loss, l1_loss, iou_loss (`torch.FloatTensor` of shape `()`, with `labels`): last decoder layer's
            cross-entropy of matched queries, L1 of their `(center, width)` and `1 - tIoU`, per ground truth.
        actionness_loss (`torch.FloatTensor` of shape `()`, with `labels`): sigmoid focal loss of every query's
            actionness (matched queries are actions), per ground truth.
        saliency_loss (`torch.FloatTensor` of shape `()`, with `labels`): BCE of frame saliency (inside a ground
            truth or not), mean over real frames.
        logits (`torch.FloatTensor` of shape `(B, N_q, K)`): class logits of the last layer (softmax over `K`).
        pred_segments (`torch.FloatTensor` of shape `(B, N_q, 2)`): normalised `(center, width)`.
        actionness_logits (`torch.FloatTensor` of shape `(B, N_q)`): each query's actionness.
        roi_logits (`torch.FloatTensor` of shape `(B, N_q, K)`, in eval mode unless `inference_classification="query"`):
            §3.7.1's inference class logits, the RoI-aligned CLIP features of each predicted interval against the
            class texts (not computed in training, where nothing uses them).
        saliency_logits (`torch.FloatTensor` of shape `(B, T)`): per-frame saliency.
        intermediate_logits (`torch.FloatTensor` of shape `(N_l, B, N_q, K)`): every decoder layer's logits.
        intermediate_segments (`torch.FloatTensor` of shape `(N_l, B, N_q, 2)`): every layer's segments.
        window_lengths (`torch.LongTensor` of shape `(B,)`): real (unpadded) steps of each window.
    """

    loss: torch.FloatTensor | None = None
    class_loss: torch.FloatTensor | None = None
    l1_loss: torch.FloatTensor | None = None
    iou_loss: torch.FloatTensor | None = None
    actionness_loss: torch.FloatTensor | None = None
    saliency_loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    pred_segments: torch.FloatTensor | None = None
    actionness_logits: torch.FloatTensor | None = None
    roi_logits: torch.FloatTensor | None = None
    saliency_logits: torch.FloatTensor | None = None
    intermediate_logits: torch.FloatTensor | None = None
    intermediate_segments: torch.FloatTensor | None = None
    window_lengths: torch.LongTensor | None = None


def format_class_prompt(name: str, template: str, split_camel_case: bool = True) -> str:
    """The text the encoder reads for a class: `template` with `{label}` replaced by the class name, written as
    words when `split_camel_case` ("CleanAndJerk" -> "clean and jerk", "pick_up" -> "pick up")."""
    text = name
    if split_camel_case:
        text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text.replace("_", " ")).lower()
    return template.format(label=" ".join(text.split()))


def _inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def sine_position_embedding(mask: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised sine embedding in 1-D: step `i` of a window of real length `L` is at `2 pi (i + 0.5) / L`,
    interleaved sin / cos at `dim / 2` frequencies. `(B, T)` mask -> `(B, T, dim)`."""
    lengths = mask.sum(1, keepdim=True).clamp(min=1).float()
    position = (torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32)[None] + 0.5) / lengths
    position = position * 2 * math.pi
    frequencies = temperature ** (2 * (torch.arange(dim, device=mask.device) // 2) / dim)
    angles = position[..., None] / frequencies
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)


class PSFTRFeedForward(nn.Module):
    """`FFN(x) = LN(x + Dropout(W_2 Dropout(act(W_1 x))))` (the Deformable DETR form)."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, config.hidden_size)
        self.activation = _ACTIVATIONS[config.activation_function]()
        self.dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(self.fc2(self.dropout(self.activation(self.fc1(x))))))


def _attention(config: PSFTRConfig) -> nn.MultiheadAttention:
    return nn.MultiheadAttention(
        config.hidden_size, config.num_attention_heads, dropout=config.dropout, batch_first=True
    )


class PSFTREncoderLayer(nn.Module):
    """One SSAE layer: intra-modal attention (deformable on frames, dense on class texts), then cross-modal
    attention both ways (see the module docstring for the equations)."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        hidden = config.hidden_size
        self.visual_self_attn = DeformableAttention1d(hidden, config.num_attention_heads, config.encoder_num_points)
        self.visual_self_norm = nn.LayerNorm(hidden)
        self.text_self_attn = _attention(config)
        self.text_self_norm = nn.LayerNorm(hidden)
        # Frames attend to class texts (text -> vision) and texts to frames (vision -> text); each can be ablated.
        self.visual_cross_attn = _attention(config) if config.text_to_vision else None
        self.visual_cross_norm = nn.LayerNorm(hidden) if config.text_to_vision else None
        self.visual_ffn = PSFTRFeedForward(config)
        self.text_cross_attn = _attention(config) if config.vision_to_text else None
        self.text_cross_norm = nn.LayerNorm(hidden) if config.vision_to_text else None
        self.text_ffn = PSFTRFeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        visual: torch.Tensor,
        text: torch.Tensor,
        position: torch.Tensor,
        reference: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`visual` Ṽ `(B, T, d)`, `text` T `(B, K, d)`, `position` `(B, T, d)`, `reference` `(B, T, 1)`,
        `mask` `(B, T)` -> `(F̂, T̂)`."""
        f_tilde = self.visual_self_norm(
            visual + self.dropout(self.visual_self_attn(visual + position, reference, visual, mask))
        )
        t_tilde = self.text_self_norm(text + self.dropout(self.text_self_attn(text, text, text, need_weights=False)[0]))
        if self.visual_cross_attn is not None:
            f_a = self.visual_cross_attn(f_tilde, t_tilde, t_tilde, need_weights=False)[0]
            f_hat = self.visual_ffn(self.visual_cross_norm(self.dropout(f_a) + f_tilde))
        else:  # ablation: no text -> vision fusion
            f_hat = self.visual_ffn(f_tilde)
        if self.text_cross_attn is not None:
            t_a = self.text_cross_attn(t_tilde, f_tilde, f_tilde, key_padding_mask=~mask, need_weights=False)[0]
            t_hat = self.text_ffn(self.text_cross_norm(self.dropout(t_a) + t_tilde))
        else:  # ablation: no vision -> text fusion
            t_hat = self.text_ffn(t_tilde)
        return f_hat, t_hat


class PSFTRSemanticGuidedEncoder(nn.Module):
    """SSAE: `num_encoder_layers` [`PSFTREncoderLayer`]s."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        self.layers = nn.ModuleList(PSFTREncoderLayer(config) for _ in range(config.num_encoder_layers))

    def forward(self, visual, text, mask):
        position = sine_position_embedding(mask, visual.shape[-1]).to(visual.dtype)
        lengths = mask.sum(1, keepdim=True).to(visual.dtype)
        steps = torch.arange(visual.shape[1], device=visual.device, dtype=visual.dtype)[None]
        reference = ((steps + 0.5) / lengths)[..., None]
        for layer in self.layers:
            visual, text = layer(visual, text, position, reference, mask)
        return visual, text


class PSFTRDecoderLayer(nn.Module):
    """One SGQG layer: semantic prompt infusion (query self-attention, then cross-attention to the encoded class
    texts) and contextual visual anchoring (deformable cross-attention to the frames around the query's segment)."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        hidden = config.hidden_size
        self.self_attn = _attention(config)
        self.self_norm = nn.LayerNorm(hidden)
        self.text_cross_attn = _attention(config) if config.text_to_query else None  # text -> query (ablatable)
        self.text_cross_norm = nn.LayerNorm(hidden) if config.text_to_query else None
        self.text_ffn = PSFTRFeedForward(config) if config.text_to_query else None
        self.visual_cross_attn = DeformableAttention1d(hidden, config.num_attention_heads, config.decoder_num_points)
        self.visual_cross_norm = nn.LayerNorm(hidden)
        self.visual_ffn = PSFTRFeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, query, position, segments, visual, text, mask):
        """`query` content `(B, N_q, d)`, `position` `(B, N_q, d)`, `segments` `(B, N_q, 2)` normalised
        `(center, width)`, `visual` F̂ `(B, T, d)`, `text` T̂ `(B, K, d)` -> Q̂ `(B, N_q, d)`."""
        q = query + position
        q_bar = self.self_norm(query + self.dropout(self.self_attn(q, q, query, need_weights=False)[0]))
        if self.text_cross_attn is not None:
            q_a = self.text_cross_attn(q_bar + position, text, text, need_weights=False)[0]
            q_tilde = self.text_ffn(self.text_cross_norm(self.dropout(q_a) + q_bar))
        else:  # ablation: no text -> query fusion
            q_tilde = q_bar
        q_tilde_a = self.visual_cross_attn(q_tilde + position, segments, visual, mask)
        return self.visual_ffn(self.visual_cross_norm(self.dropout(q_tilde_a) + q_tilde))


class _ScalarLinear(nn.Linear):
    """`nn.Linear(in, 1)` computed as a product and a sum. A one-column matmul takes a vector kernel whose result
    depends on how the weight happens to be aligned in memory (a reloaded checkpoint's is not where the original
    was), so the same weights could give outputs one ulp apart; the reduction does not."""

    def __init__(self, in_features: int):
        super().__init__(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weight[0]).sum(-1, keepdim=True) + self.bias


class PSFTRSegmentDelta(nn.Linear):
    """The last layer of a decoder segment head: the `(center, width)` refinement in logit space. It starts near
    zero (weights ~ N(0, 1e-3), zero bias), so each decoder layer first keeps its reference segment."""


class PSFTRActionnessLinear(_ScalarLinear):
    """The query actionness layer; its bias starts at the focal-loss prior, -log((1 - 0.01) / 0.01), as the base code's."""

    prior_probability = 0.01


class PSFTRSaliencyHead(nn.Module):
    """Frame saliency from the encoded frames: the base code's Conv1d(d, d, 3) -> LeakyReLU(0.2) -> Conv1d(d, 1, 1)
    (`saliency_head="conv"`, padded steps read as zeros), or one linear layer (`"linear"`)."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        if config.saliency_head == "conv":
            self.conv = MaskedConv1d(config.hidden_size, config.hidden_size, 3)
            self.out = MaskedConv1d(config.hidden_size, 1, 1)
            self.linear = None
        else:
            self.conv = self.out = None
            self.linear = _ScalarLinear(config.hidden_size)

    def forward(self, visual: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`visual` `(B, T, d)`, `mask` `(B, T)` -> saliency logits `(B, T)`."""
        if self.linear is not None:
            return self.linear(visual).squeeze(-1)
        hidden, _ = self.conv(visual, mask)
        return self.out(F.leaky_relu(hidden, 0.2), mask)[0].squeeze(-1)


class _MLP(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int, output_layer=None):
        super().__init__()
        dims = list(zip([input_dim] + [hidden_dim] * (num_layers - 1), [hidden_dim] * (num_layers - 1) + [output_dim]))
        self.layers = nn.ModuleList(
            output_layer(i, o)
            if output_layer is not None and k == num_layers - 1
            else _ScalarLinear(i)
            if o == 1
            else nn.Linear(i, o)
            for k, (i, o) in enumerate(dims)
        )

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class PSFTRSemanticGuidedDecoder(nn.Module):
    """SGQG: learned queries `Q` `(N_q, 2d)` (position `Q[:d]`, content `Q[d:]`), an initial segment from the
    position, and `num_decoder_layers` [`PSFTRDecoderLayer`]s, each refining the `(center, width)` of every query
    in logit space; the refined segment (detached) steers the next layer's deformable attention."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        self.hidden_size = config.hidden_size
        self.query_embed = nn.Embedding(config.num_queries, 2 * config.hidden_size)
        self.reference_points = nn.Linear(config.hidden_size, 2)
        self.layers = nn.ModuleList(PSFTRDecoderLayer(config) for _ in range(config.num_decoder_layers))
        self.segment_heads = nn.ModuleList(
            _MLP(config.hidden_size, config.hidden_size, 2, 3, output_layer=PSFTRSegmentDelta)
            for _ in range(config.num_decoder_layers)
        )

    def forward(self, visual, text, mask):
        batch = visual.shape[0]
        position, query = self.query_embed.weight.to(visual.dtype).split(self.hidden_size, dim=-1)
        position, query = position.expand(batch, -1, -1), query.expand(batch, -1, -1)
        segments = self.reference_points(position).sigmoid()
        hidden_states, all_segments = [], []
        for layer, head in zip(self.layers, self.segment_heads):
            query = layer(query, position, segments, visual, text, mask)
            refined = (_inverse_sigmoid(segments) + head(query)).sigmoid()
            hidden_states.append(query)
            all_segments.append(refined)
            segments = refined.detach()
        return torch.stack(hidden_states), torch.stack(all_segments)


class PSFTRPrototypeClassifier(nn.Module):
    """SPDE: textual semantic prototypes `V̂ = softmax(s T Vᵀ) V` (per class, the frames that look like it in CLIP's
    space), mean-pooled over classes into the queries, `Q̂_cls = Q̂ + Linear(MeanPool(V̂))`; class logits are the
    scaled cosine similarity of `Q̂_cls` (projected to CLIP's space) with the class text embeddings."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        self.prototype_scale = config.prototype_logit_scale
        self.prototype_normalize = config.prototype_normalize
        # spde="none" (ablation): the queries are compared with the class texts without prototype enhancement.
        self.prototype_proj = nn.Linear(config.input_dim, config.hidden_size) if config.spde == "prototype" else None
        self.query_proj = nn.Linear(config.hidden_size, config.text_embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(config.class_logit_scale_init)))

    def prototypes(self, frames: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Eq. 5, `V̂ = softmax(T Vᵀ) V` `(B, K, D)`, from the frame features V `(B, T, D)`, the class texts T
        `(K, D)` and the `(B, T)` mask (padded frames get no weight): literally by default; with
        `prototype_normalize` V is L2-normalised first, and the scores are multiplied by `prototype_logit_scale`."""
        if self.prototype_normalize:
            frames = F.normalize(frames, dim=-1)
        frames = frames * mask[..., None]
        scores = self.prototype_scale * torch.einsum("kd,btd->bkt", text, frames)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        return torch.bmm(scores.softmax(-1), frames)

    def forward(self, queries: torch.Tensor, frames: torch.Tensor, text: torch.Tensor, mask: torch.Tensor):
        """`queries` Q̂ `(..., B, N_q, d)` -> class logits `(..., B, N_q, K)`."""
        enhanced = queries
        if self.prototype_proj is not None:
            context = self.prototype_proj(self.prototypes(frames, text, mask).mean(dim=1))  # (B, d)
            enhanced = queries + context[:, None, :]
        projected = F.normalize(self.query_proj(enhanced), dim=-1)
        scale = self.logit_scale.exp().clamp(max=100.0)
        return scale * torch.matmul(projected, text.t())


class PSFTRActionnessHead(nn.Module):
    """Query actionness. `actionness_head="query"` (the paper's base): a linear layer on the decoder query.
    `"roi"`: an MLP on the RoI-aligned encoder features of its predicted segment (TadTR's 1-D RoI align,
    `roi_size` bins) added to the query's own features, so that duplicate queries can be told apart."""

    def __init__(self, config: PSFTRConfig):
        super().__init__()
        self.roi_size, self.sampling_ratio = config.roi_size, config.roi_sampling_ratio
        if config.actionness_head == "query":
            self.linear = PSFTRActionnessLinear(config.hidden_size)
            self.roi_proj = self.mlp = None
        else:
            self.linear = None
            self.roi_proj = nn.Linear(config.roi_size * config.hidden_size, config.hidden_size)
            self.mlp = _MLP(config.hidden_size, config.hidden_size, 1, 2)

    def forward(self, queries, segments, visual, lengths):
        """`queries` `(B, N_q, d)`, `segments` normalised `(B, N_q, 2)`, `visual` `(B, T, d)`, `lengths` `(B,)`."""
        if self.linear is not None:
            return self.linear(queries).squeeze(-1)
        batch, num_queries, _ = queries.shape
        pooled = roi_align_1d(
            visual, segment_rois(segments, lengths), self.roi_size, self.sampling_ratio, lengths=lengths
        )
        pooled = pooled.reshape(batch, num_queries, -1).to(queries.dtype)
        return self.mlp(F.relu(self.roi_proj(pooled)) + queries).squeeze(-1)


def segment_rois(segments: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`(B N_q, 3)` RoIs `(batch index, start, end)` in feature steps of the (detached) normalised `(center, width)`
    segments `(B, N_q, 2)` of windows of real length `lengths` `(B,)`."""
    batch, num_queries, _ = segments.shape
    bounds = center_width_to_start_end(segments.detach().float()) * lengths[:, None, None] - 0.5
    index = torch.arange(batch, device=segments.device).repeat_interleave(num_queries)
    return torch.cat((index[:, None].float(), bounds.reshape(-1, 2)), dim=1)


def interval_class_logits(
    features: torch.Tensor,
    segments: torch.Tensor,
    lengths: torch.Tensor,
    text: torch.Tensor,
    roi_size: int,
    sampling_ratio: int,
    logit_scale: float,
) -> torch.Tensor:
    """§3.7.1's inference classification: the CLIP frame features `(B, T, D)` RoI-aligned over each predicted
    interval (normalised `(center, width)` `(B, N_q, 2)` of windows of real length `lengths` `(B,)`), mean-pooled,
    L2-normalised and compared with the unit class texts `(K, D)`: `logit_scale * cos` `(B, N_q, K)`."""
    batch, num_queries, _ = segments.shape
    frames = F.normalize(features.float(), dim=-1)
    pooled = roi_align_1d(frames, segment_rois(segments, lengths), roi_size, sampling_ratio, lengths=lengths).mean(
        dim=1
    )
    pooled = F.normalize(pooled.reshape(batch, num_queries, -1), dim=-1)
    return logit_scale * torch.matmul(pooled, text.float().t())


class PSFTRPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = PSFTRConfig
    config: PSFTRConfig
    base_model_prefix = "psftr"
    main_input_name = "input_features"
    _no_split_modules = ["PSFTREncoderLayer", "PSFTRDecoderLayer", "CLIPEncoderLayer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # By module class; subclasses of nn.Linear first. (transformers skips modules without parameters of their
        # own, so a rule has to name the layer that holds the weights.)
        if isinstance(module, DeformableSamplingOffsets):  # Deformable DETR's grid
            init.zeros_(module.weight)
            init.copy_(module.bias, module.initial_bias())
        elif isinstance(module, DeformableAttentionWeights):  # uniform weights over the sampling points
            init.zeros_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, PSFTRActionnessLinear):  # the focal-loss prior, as the base code's
            init.xavier_uniform_(module.weight)
            p = module.prior_probability
            init.constant_(module.bias, -math.log((1 - p) / p))
        elif isinstance(module, PSFTRSegmentDelta):  # start near the reference segment: almost no refinement
            init.normal_(module.weight, std=1e-3)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Conv1d):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=1.0)
        elif isinstance(module, nn.MultiheadAttention):
            init.xavier_uniform_(module.in_proj_weight)
            init.zeros_(module.in_proj_bias)
        elif isinstance(module, PSFTRPrototypeClassifier):
            init.constant_(module.logit_scale, math.log(self.config.class_logit_scale_init))


def _load_clip_text_model(name_or_path: str, **kwargs) -> CLIPTextModelWithProjection:
    """CLIP's text tower with its projection, from a full CLIP checkpoint or a text-only one. A full checkpoint's
    `projection_dim` lives on the outer config, so it is copied into the text config before loading."""
    config = AutoConfig.from_pretrained(name_or_path, **kwargs)
    if isinstance(config, CLIPConfig):
        text_config = CLIPTextConfig.from_dict(config.text_config.to_dict())
        text_config.projection_dim = config.projection_dim
    elif isinstance(config, CLIPTextConfig):
        text_config = config
    else:
        raise ValueError(
            f"{name_or_path} is a {type(config).__name__} checkpoint; PSFTR's text encoder must be CLIP "
            "(a CLIPModel or CLIPTextModelWithProjection checkpoint)"
        )
    # A full CLIP checkpoint also holds the vision tower, which the loader would report key by key as unexpected.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return CLIPTextModelWithProjection.from_pretrained(name_or_path, config=text_config, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)


class PSFTRModel(PSFTRPreTrainedModel):
    """PSFTR for zero-shot temporal action localization (the full task model).

    `forward(input_features, attention_mask, labels, class_names=None, text_embeds=None)`: CLIP frame features
    `(B, T, input_dim)` of windows, and the candidate classes as names (embedded by the CLIP text encoder through
    `config.prompt_template`, cached per class set) or as precomputed CLIP text embeddings `(K, D)`; by default the
    training classes `config.id2label`. `labels` (training) follow momentzoo's collated TAL batch: `B` dicts
    `{"class_labels": (n,) ids into the candidate classes, "segments": (n, 2) feature steps from the window start}`.
    `post_process(outputs, metadata, class_names=...)` returns detections in seconds.

    The text tokenizer travels with the model: `from_backbones` sets it, `save_pretrained` writes it next to the
    weights and `from_pretrained` reads it back.
    """

    # The losses are normalised by the number of ground-truth segments here, not by Trainer.
    accepts_loss_kwargs = False

    def __init__(self, config: PSFTRConfig):
        super().__init__(config)
        self.text_model = CLIPTextModelWithProjection(config.text_config)
        self.input_proj = MaskedConv1d(config.input_dim, config.hidden_size, config.input_conv_kernel_size)
        self.input_norm = nn.LayerNorm(config.hidden_size)
        self.text_proj = nn.Linear(config.text_embed_dim, config.hidden_size)
        self.text_norm = nn.LayerNorm(config.hidden_size)
        self.encoder = PSFTRSemanticGuidedEncoder(config)
        self.decoder = PSFTRSemanticGuidedDecoder(config)
        self.classifier = PSFTRPrototypeClassifier(config)
        self.actionness_head = PSFTRActionnessHead(config)
        self.saliency_head = PSFTRSaliencyHead(config)
        self.matcher = HungarianSegmentMatcher(
            config.matcher_class_cost,
            config.matcher_l1_cost,
            config.matcher_iou_cost,
            config.matcher_class_cost_type,
            config.focal_alpha,
            config.focal_gamma,
        )
        self.text_tokenizer = None
        self._text_cache: OrderedDict = OrderedDict()
        self._candidate_names = None
        self.post_init()
        if config.freeze_text_encoder:
            self.text_model.requires_grad_(False)

    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """Two short windows, the second padded, and random text embeddings of the training classes."""
        generator = torch.Generator().manual_seed(0)
        inputs = dummy_feature_inputs(self, 12, 8, generator)
        text = torch.randn(self.config.num_classes, self.config.text_embed_dim, generator=generator)
        return {**inputs, "text_embeds": text.to(self.device, self.dtype)}

    # ------------------------------------------------------------------------------------------ backbones
    @classmethod
    def from_backbones(cls, text_model=None, tokenizer=None, **config_kwargs) -> "PSFTRModel":
        """A new PSFTR whose text encoder is a pretrained CLIP text tower.

        Args:
            text_model: hub id or local path of a CLIP checkpoint (full `CLIPModel` or text-only), a loaded
                `CLIPModel` or `CLIPTextModelWithProjection`; default `config_kwargs["text_model_name_or_path"]`,
                else "openai/clip-vit-base-patch16".
            tokenizer: its tokenizer (or where to load it from); default: loaded from `text_model` when that is a
                path or hub id.
            config_kwargs: any other `PSFTRConfig` field (`input_dim` defaults to CLIP's projection size).
        """
        name = None
        if text_model is None:
            text_model = config_kwargs.get("text_model_name_or_path", CLIP_TEXT_MODEL_ID)
        if isinstance(text_model, (str, os.PathLike)):
            name = str(text_model)
            text_model = _load_clip_text_model(name)
            if tokenizer is None:
                tokenizer = name
        elif isinstance(text_model, CLIPModel):
            text_config = CLIPTextConfig.from_dict(text_model.config.text_config.to_dict())
            text_config.projection_dim = text_model.config.projection_dim
            tower = CLIPTextModelWithProjection(text_config)
            state = {
                k: v for k, v in text_model.state_dict().items() if k.startswith(("text_model.", "text_projection."))
            }
            tower.load_state_dict(state)
            text_model = tower
        elif not isinstance(text_model, CLIPTextModelWithProjection):
            raise ValueError(
                f"text_model must be a hub id, a path, a CLIPModel or a CLIPTextModelWithProjection, "
                f"got {type(text_model).__name__}"
            )
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        text_config = text_model.config.to_dict()
        config_kwargs.setdefault("input_dim", text_config["projection_dim"])
        # A model object's origin is unknown (None), unless its config remembers the checkpoint it came from.
        config_kwargs.setdefault("text_model_name_or_path", name or text_model.config.name_or_path or None)
        model = cls(PSFTRConfig(text_config=text_config, **config_kwargs))
        model.text_model.load_state_dict(text_model.state_dict())
        model.set_text_tokenizer(tokenizer)
        return model

    @classmethod
    def card_kwargs_from_config(cls, config) -> dict:
        """The card names the CLIP text encoder as the base model (when it is a Hub id) and the prompt."""
        name = hub_repo_id(config.text_model_name_or_path)
        return {
            "base_model": [name] if name else None,
            "prompt_template": config.prompt_template,
            "citation": PSFTR_CITATION,
        }

    def set_text_tokenizer(self, tokenizer) -> None:
        """The tokenizer of the text encoder (needed to embed class names; saved with the model)."""
        self.text_tokenizer = tokenizer
        self._text_cache.clear()

    def save_pretrained(self, save_directory, *args, **kwargs):
        save_tokenizer(self.text_tokenizer, save_directory, args, kwargs)
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        tokenizer = load_saved_tokenizer(pretrained_model_name_or_path, kwargs)
        if tokenizer is not None:
            model.set_text_tokenizer(tokenizer)
        return model

    # ---------------------------------------------------------------------------------------- text side
    def format_prompt(self, name: str) -> str:
        return format_class_prompt(name, self.config.prompt_template, self.config.split_camel_case)

    def _text_weights_version(self) -> tuple:
        # In-place updates (optimizer steps, load_state_dict) bump a tensor's version counter, so a changed text
        # encoder never serves stale embeddings from the cache.
        return tuple((p.data_ptr(), p._version) for p in self.text_model.parameters())

    def _tokenize(self, prompts: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
        tokenizer, limit = self.text_tokenizer, self.config.text_max_length
        rows = tokenizer(prompts, truncation=True, max_length=limit)["input_ids"]
        eos = tokenizer.eos_token_id
        if eos is not None:
            # CLIP pools the hidden state at the end-of-text token; tokenizers that do not add it get it here.
            rows = [row if row and row[-1] == eos else row[: limit - 1] + [eos] for row in rows]
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0)
        width = max(len(row) for row in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return ids.to(device), mask.to(device)

    def encode_prompt_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """CLIP text embeddings `(K, D)` (unnormalised) of tokenized prompts that end with the end-of-text token:
        the state at that token (`clip_text_states`), projected to the joint space."""
        _, pooled = clip_text_states(self.text_model.text_model, input_ids, attention_mask)
        return self.text_model.text_projection(pooled)

    def embed_class_names(self, class_names) -> torch.Tensor:
        """CLIP text embeddings `(K, D)`, L2-normalised, of the prompted class names. Cached per class set while
        the text encoder's weights do not change (and always, unless it is being trained)."""
        names = _check_class_names(class_names)
        if self.text_tokenizer is None:
            raise ValueError(
                "this PSFTRModel has no text tokenizer, so it cannot embed class names: build it with "
                "PSFTRModel.from_backbones(...), call model.set_text_tokenizer(tokenizer), or pass "
                "text_embeds"
            )
        device, dtype = self.text_proj.weight.device, self.text_proj.weight.dtype
        trainable = torch.is_grad_enabled() and any(p.requires_grad for p in self.text_model.parameters())
        key = (
            tuple(names),
            self.config.prompt_template,
            self.config.split_camel_case,
            str(device),
            dtype,
            self._text_weights_version(),
        )
        if not trainable and key in self._text_cache:
            self._text_cache.move_to_end(key)
            return self._text_cache[key]
        prompts = [self.format_prompt(name) for name in names]
        chunks = []
        with torch.set_grad_enabled(trainable):
            for start in range(0, len(prompts), _TEXT_BATCH):
                ids, mask = self._tokenize(prompts[start : start + _TEXT_BATCH], device)
                chunks.append(self.encode_prompt_tokens(ids, mask))
        embeds = F.normalize(torch.cat(chunks).float(), dim=-1).to(dtype)
        if not trainable:
            self._text_cache[key] = embeds
            while len(self._text_cache) > _CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return embeds

    def class_text_embeddings(self, class_names=None, text_embeds=None) -> torch.Tensor:
        """The `(K, D)` normalised text embeddings of the candidate classes: `text_embeds` if given, else the
        embeddings of `class_names`, else of the training classes `config.id2label`."""
        if text_embeds is not None:
            if class_names is not None:
                raise ValueError("pass class_names or text_embeds, not both")
            text_embeds = torch.as_tensor(text_embeds)
            if text_embeds.ndim != 2 or text_embeds.shape[-1] != self.config.text_embed_dim or not len(text_embeds):
                raise ValueError(
                    f"text_embeds must be (K, {self.config.text_embed_dim}) with K >= 1, got {tuple(text_embeds.shape)}"
                )
            if not torch.isfinite(text_embeds).all():
                raise ValueError("text_embeds has NaN or infinite values")
            return F.normalize(text_embeds.to(self.text_proj.weight).float(), dim=-1).to(self.text_proj.weight.dtype)
        return self.embed_class_names(self.default_class_names() if class_names is None else class_names)

    def default_class_names(self) -> list[str]:
        """The candidate classes when none are passed: those of `candidate_classes(...)`, else `config.id2label`."""
        return list(self._candidate_names) if self._candidate_names is not None else self.config.class_names

    @contextmanager
    def candidate_classes(self, class_names):
        """Within the block, `forward` and `post_process` score `class_names` by default instead of the training
        classes, so loops that call them without class names (`momentzoo.training.predict_tal`, `Trainer`)
        evaluate an open vocabulary: `with model.candidate_classes(unseen): predict_tal(model, data)`."""
        previous, self._candidate_names = self._candidate_names, _check_class_names(class_names)
        try:
            yield self
        finally:
            self._candidate_names = previous

    # -------------------------------------------------------------------------------------------- forward
    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: list[dict] | None = None,
        class_names: list[str] | None = None,
        text_embeds: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> PSFTROutput | tuple:
        r"""
        Args:
            input_features (`torch.FloatTensor` of shape `(B, T, input_dim)`): CLIP frame features of windows.
            attention_mask (`torch.LongTensor` of shape `(B, T)`, optional): 1 for real steps, 0 for padding.
            labels (`list` of `B` dicts, optional): `{"class_labels": (n,), "segments": (n, 2)}`; class ids index
                the candidate classes, segments are in feature steps from the window start.
            class_names (`list[str]`, optional): the candidate classes (default: those of `candidate_classes(...)`,
                else the training classes `config.id2label`).
            text_embeds (`torch.FloatTensor` of shape `(K, D)`, optional): their CLIP text embeddings instead.
        """
        mask = validate_feature_inputs(input_features, attention_mask, self.config.input_dim)
        text = self.class_text_embeddings(class_names, text_embeds).to(input_features.dtype)
        batch, num_classes = input_features.shape[0], text.shape[0]
        lengths = mask.sum(1)

        visual, _ = self.input_proj(input_features, mask)
        visual = self.input_norm(visual)
        text_tokens = self.text_norm(self.text_proj(text)).expand(batch, -1, -1)
        visual, text_tokens = self.encoder(visual, text_tokens, mask)
        hidden_states, segments = self.decoder(visual, text_tokens, mask)

        logits = self.classifier(hidden_states, input_features, text, mask)  # (N_l, B, N_q, K)
        actionness = self.actionness_head(hidden_states[-1], segments[-1], visual, lengths)
        saliency = self.saliency_head(visual, mask)
        roi_logits = None
        if self.config.inference_classification != "query" and not self.training:  # §3.7.1: inference only
            roi_logits = interval_class_logits(
                input_features * mask[..., None],
                segments[-1],
                lengths,
                text,
                self.config.roi_size,
                self.config.roi_sampling_ratio,
                self.config.roi_class_logit_scale,
            ).to(logits.dtype)

        losses = {}
        if labels is not None:
            losses = self.compute_loss(logits, segments, actionness, saliency, mask, labels, num_classes)
        output = PSFTROutput(
            logits=logits[-1],
            pred_segments=segments[-1],
            actionness_logits=actionness,
            roi_logits=roi_logits,
            saliency_logits=saliency,
            intermediate_logits=logits,
            intermediate_segments=segments,
            window_lengths=lengths,
            **losses,
        )
        return output if return_dict is not False else output.to_tuple()

    # --------------------------------------------------------------------------------------------- losses
    def normalised_targets(self, labels: list[dict], lengths: torch.Tensor, num_classes: int) -> list[dict]:
        """Validated targets with `segments` as normalised `(center, width)` of each window (clipped to it)."""
        pairs = validate_segment_labels(
            labels, len(lengths), num_classes, lengths.device, classes=f"ids of the {num_classes} candidate classes"
        )
        targets = []
        for (seg, cls), length in zip(pairs, lengths.tolist()):
            normalised = ((seg + 0.5) / length).clamp(0.0, 1.0)
            targets.append({"class_labels": cls, "segments": start_end_to_center_width(normalised), "steps": seg})
        return targets

    def compute_loss(self, logits, segments, actionness, saliency, mask, labels, num_classes) -> dict:
        """The PSFTR losses (see [`PSFTROutput`]) from the stacked per-layer `logits` `(N_l, B, N_q, K)` and
        `segments` `(N_l, B, N_q, 2)`, the actionness `(B, N_q)` and saliency `(B, T)` logits."""
        config = self.config
        lengths = mask.sum(1)
        targets = self.normalised_targets(labels, lengths, num_classes)
        num_targets = max(sum(len(t["class_labels"]) for t in targets), 1)
        layers = range(len(logits)) if config.auxiliary_loss else [len(logits) - 1]
        total, last = 0.0, {}
        for layer in layers:
            layer_logits, layer_segments = logits[layer].float(), segments[layer].float()
            probs = layer_logits.sigmoid() if config.matcher_class_cost_type == "focal" else layer_logits.softmax(-1)
            matches = self.matcher(probs, layer_segments, targets)
            batch_index = torch.cat([torch.full_like(q, b) for b, (q, _) in enumerate(matches)]).to(mask.device)
            query_index = torch.cat([q for q, _ in matches]).to(mask.device)
            target_classes = torch.cat([t["class_labels"][j.to(mask.device)] for t, (_, j) in zip(targets, matches)])
            target_segments = torch.cat([t["segments"][j.to(mask.device)] for t, (_, j) in zip(targets, matches)])
            matched_logits = layer_logits[batch_index, query_index]
            matched_segments = layer_segments[batch_index, query_index]
            class_loss = F.cross_entropy(matched_logits, target_classes, reduction="sum") / num_targets
            l1_loss = (matched_segments - target_segments).abs().sum() / num_targets
            iou = _paired_iou(center_width_to_start_end(matched_segments), center_width_to_start_end(target_segments))
            iou_loss = (1.0 - iou).sum() / num_targets
            total = total + (
                config.class_loss_coefficient * class_loss
                + config.l1_loss_coefficient * l1_loss
                + config.iou_loss_coefficient * iou_loss
            )
            last = {
                "class_loss": class_loss,
                "l1_loss": l1_loss,
                "iou_loss": iou_loss,
                "matched": (batch_index, query_index),
            }

        # Actionness: the last layer's matched queries are actions, every other query is not.
        batch_index, query_index = last.pop("matched")
        actionness_targets = torch.zeros_like(actionness, dtype=torch.float32)
        actionness_targets[batch_index, query_index] = 1.0
        actionness_loss = (
            sigmoid_focal_loss(
                actionness.float(), actionness_targets, config.focal_alpha, config.focal_gamma, reduction="sum"
            )
            / num_targets
        )
        # Saliency: a frame is salient when its step lies inside a ground-truth segment.
        steps = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32)
        saliency_targets = torch.zeros_like(saliency, dtype=torch.float32)
        for b, target in enumerate(targets):
            seg = target["steps"]
            if len(seg):
                inside = (steps[None, :] >= seg[:, :1]) & (steps[None, :] <= seg[:, 1:])
                saliency_targets[b] = inside.any(0).float()
        if config.saliency_loss == "bce":
            saliency_loss = F.binary_cross_entropy_with_logits(saliency.float()[mask], saliency_targets[mask])
        else:  # the base code's: focal-modulated BCE, mean over each window's steps, summed, per ground truth
            per_step = (
                sigmoid_focal_loss(
                    saliency.float(), saliency_targets, config.focal_alpha, config.focal_gamma, reduction="none"
                )
                * mask
            )
            saliency_loss = per_step.mean(1).sum() / num_targets
        total = (
            total
            + config.actionness_loss_coefficient * actionness_loss
            + config.saliency_loss_coefficient * saliency_loss
        )
        return {"loss": total, **last, "actionness_loss": actionness_loss, "saliency_loss": saliency_loss}

    # ------------------------------------------------------------------------------------ post-processing
    @torch.no_grad()
    def post_process(
        self, outputs, metadata: list[dict], class_names: list[str] | None = None, label_names: bool = False
    ) -> list[list[dict]]:
        """Decode a batch of outputs into detections in seconds, one list per window of `metadata`.

        Per window, every (query, class) pair scores `p(class) * sigmoid(actionness)`, `p` as
        `config.inference_classification` says (§3.7.1's RoI-text softmax by default, `roi_logits`); the top
        `max_segments_per_window` above `min_score` are converted to seconds of the whole video (the window's
        `window_start` added), clipped to `[0, duration]`, and passed through per-class NMS (`nms_method`).
        Merge the windows of a video with `momentzoo.data.merge_window_predictions(predictions, metadata,
        nms_kwargs=model.config.window_merge_nms_kwargs())`.

        Args:
            outputs: a [`PSFTROutput`] (or a dict with `logits`, `pred_segments`, `actionness_logits`,
                `window_lengths`).
            metadata (`list` of `B` dicts): `duration` (seconds, required), `fps`, `feature_stride`, `num_frames`
                (default to the config's), `window_start` (feature steps, default 0).
            class_names (`list[str]`, optional): the candidate classes `forward` scored (default: those of
                `candidate_classes(...)`, else `config.id2label`); as many as the logits' classes.
            label_names (`bool`): labels as class names instead of ids into the candidate classes.

        Returns per window a list of `{"segment": [start, end], "score": float, "label": int | str}`, best first.
        """
        config = self.config
        logits, segments, actionness, lengths = (
            outputs[k] for k in ("logits", "pred_segments", "actionness_logits", "window_lengths")
        )
        roi_logits = outputs.get("roi_logits") if isinstance(outputs, dict) else getattr(outputs, "roi_logits", None)
        names = self.default_class_names() if class_names is None else _check_class_names(class_names)
        if len(names) != logits.shape[-1]:
            raise ValueError(
                f"the outputs score {logits.shape[-1]} classes but {len(names)} class names were given "
                "(pass post_process the class_names that forward used)"
            )
        if len(metadata) != logits.shape[0]:
            raise ValueError(f"metadata has {len(metadata)} entries but the outputs hold {logits.shape[0]} windows")
        num_classes = logits.shape[-1]
        mode = config.inference_classification
        if mode != "query" and roi_logits is None:
            raise ValueError(
                f"inference_classification={mode!r} needs the outputs' roi_logits (run forward with this config)"
            )
        if mode == "roi":
            probs = roi_logits.float().softmax(-1)
        elif mode == "query":
            probs = logits.float().softmax(-1)
        else:  # the mean of the two class distributions
            probs = 0.5 * (roi_logits.float().softmax(-1) + logits.float().softmax(-1))
        scores = probs * actionness.float().sigmoid()[..., None]
        results = []
        for index, meta in enumerate(metadata):
            duration, fps, feature_stride, num_frames, window_start = window_geometry(meta, index, config)

            flat = scores[index].flatten().cpu()
            top, order = flat.topk(min(config.max_segments_per_window, flat.numel()))
            keep = top >= config.min_score
            top, order = top[keep], order[keep]
            query, label = order // num_classes, order % num_classes
            bounds = center_width_to_start_end(segments[index].float().cpu()[query])
            steps = bounds * float(lengths[index]) - 0.5 + window_start
            seconds = feature_grid_to_seconds(steps, fps, feature_stride, num_frames).clamp(0.0, duration)
            valid = seconds[:, 1] > seconds[:, 0]
            seconds, top, label = seconds[valid], top[valid], label[valid]
            if config.nms_method != "none" and len(top):
                seconds, top, label = batched_nms(
                    seconds,
                    top,
                    label,
                    method=config.nms_method,
                    iou_threshold=config.nms_iou_threshold,
                    sigma=config.nms_sigma,
                    min_score=config.min_score,
                    max_segments=config.max_segments,
                )
            results.append(
                [
                    {"segment": [float(s), float(e)], "score": float(c), "label": names[k] if label_names else int(k)}
                    for (s, e), c, k in zip(seconds.tolist(), top.tolist(), label.tolist())
                ]
            )
        return results


def _paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    inter = (torch.minimum(a[:, 1], b[:, 1]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    union = (a[:, 1] - a[:, 0]) + (b[:, 1] - b[:, 0]) - inter
    return inter / union.clamp(min=1e-6)


def _check_class_names(class_names) -> list[str]:
    if isinstance(class_names, str) or not isinstance(class_names, (list, tuple)) or not class_names:
        raise ValueError(f"class_names must be a non-empty list of strings, got {class_names!r}")
    for i, name in enumerate(class_names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"class_names[{i}] must be a non-empty string, got {name!r}")
    if len(set(class_names)) != len(class_names):
        duplicates = sorted({name for name in class_names if class_names.count(name) > 1})
        raise ValueError(f"class_names has duplicates: {duplicates}")
    return list(class_names)
