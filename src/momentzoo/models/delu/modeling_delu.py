"""DELU ("Dual-Evidential Learning for Weakly-supervised Temporal Action Localization", Chen et al., ECCV 2022):
weakly-supervised TAL from video-level labels. Per stream (RGB, flow) a cross-modal attention filters the features and
scores foreground; a classifier over C + 1 classes gives the class activation sequence (CAS); training combines top-k
MIL, evidential learning with an uncertainty-guided curriculum, co-activity similarity, mutual attention and the
attention norm / guide losses; inference thresholds the attention at many levels and scores each proposal by
outer-inner contrast, then soft-NMS. Follows the public code (MengyuanChen21/ECCV2022-DELU)."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ...hub import MomentzooModelCardMixin
from ...layers.masked_conv import MaskedConv1d, apply_mask
from ...segments import batched_nms, feature_grid_to_seconds
from ..validation import validate_feature_inputs, window_geometry
from .configuration_delu import DELUConfig
from .losses_delu import (
    co_activity_loss,
    edl_loss,
    guide_terms,
    masked_mean,
    mil_loss,
    mutual_loss,
    suppress_background,
    topk_mean,
    uncertainty_guide_loss,
)

__all__ = ["DELUCrossModalAttention", "DELUModel", "DELUOutput", "DELUPreTrainedModel", "video_labels_tensor"]


@dataclass
class DELUOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`): the weighted DELU loss, when labels are given.
    cas (`torch.FloatTensor` of shape `(B, T, C + 1)`): class activation logits, the last column background.
    attention (`torch.FloatTensor` of shape `(B, T)`): foreground attention, the mean of the two streams'.
    rgb_attention, flow_attention (`torch.FloatTensor` of shape `(B, T)`): each stream's attention.
    features (`torch.FloatTensor` of shape `(B, T, input_dim)`): the fused, filtered snippet features.
    mask (`torch.BoolTensor` of shape `(B, T)`): True at real snippets.
    loss_terms (`torch.FloatTensor` of shape `(8,)`): unweighted edl, uncertainty guide, MIL, suppressed MIL,
        co-activity, mutual, norm and guide losses (`DELUModel.loss_names`), when labels are given.
    """

    loss: torch.FloatTensor | None = None
    cas: torch.FloatTensor | None = None
    attention: torch.FloatTensor | None = None
    rgb_attention: torch.FloatTensor | None = None
    flow_attention: torch.FloatTensor | None = None
    features: torch.FloatTensor | None = None
    mask: torch.BoolTensor | None = None
    loss_terms: torch.FloatTensor | None = None


def video_labels_tensor(labels, num_classes: int, batch_size: int, device) -> torch.Tensor:
    """Video-level labels as a `(B, C)` float multi-hot tensor, from a `(B, C)` tensor or the TAL collator's list
    of `{"class_labels": ...}` dicts. Every video needs at least one positive class."""
    if isinstance(labels, torch.Tensor):
        if labels.shape != (batch_size, num_classes):
            raise ValueError(
                f"labels must be a (batch, num_classes) = {(batch_size, num_classes)} multi-hot tensor, "
                f"got {tuple(labels.shape)}"
            )
        target = labels.to(device=device, dtype=torch.float32)
        if not bool(((target == 0) | (target == 1)).all()):
            raise ValueError("labels must hold only 0 and 1 (multi-hot video-level labels)")
    else:
        if len(labels) != batch_size:
            raise ValueError(f"labels has {len(labels)} entries for a batch of {batch_size} videos")
        target = torch.zeros(batch_size, num_classes, device=device)
        for index, entry in enumerate(labels):
            classes = torch.as_tensor(entry["class_labels"] if isinstance(entry, dict) else entry).long().flatten()
            if classes.numel() and (classes.min() < 0 or classes.max() >= num_classes):
                raise ValueError(f"labels[{index}] holds class ids outside [0, {num_classes})")
            target[index, classes.to(device)] = 1.0
    empty = (target.sum(dim=1) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"labels: the video(s) at batch index {empty} have no video-level label; weakly-supervised "
            "training needs at least one action class per video"
        )
    return target


class DELUPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = DELUConfig
    config: DELUConfig
    base_model_prefix = "delu"
    main_input_name = "input_features"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # DELU's `weights_init`: Kaiming-uniform (gain for ReLU, a=0) weights and zero biases for every conv / linear.
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            init.kaiming_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)


class DELUCrossModalAttention(nn.Module):
    """DELU's `BWA_fusion_dropout_feat_v2` for one stream: the other stream gates this one channel by channel
    (`sigmoid(conv(other) * linear(mean(this))) * this`), and a small conv net scores foreground attention.

    DELU applies a 3-wide convolution to the time-averaged feature, a length-1 sequence where only the centre tap
    ever sees data: it is the `Linear` here (same function, no parameters that can never be trained)."""

    def __init__(self, stream_dim: int, other_dim: int, config: DELUConfig):
        super().__init__()
        self.channel_linear = nn.Linear(stream_dim, stream_dim)
        self.bit_wise_conv = MaskedConv1d(other_dim, stream_dim, 3)
        self.conv1 = MaskedConv1d(stream_dim, config.attention_hidden_size, 3)
        self.conv2 = MaskedConv1d(config.attention_hidden_size, config.attention_hidden_size, 3)
        self.scorer = MaskedConv1d(config.attention_hidden_size, 1, 1)
        self.activation = nn.LeakyReLU(0.2)
        self.dropout = nn.Dropout(config.attention_dropout)

    def forward(self, stream, other, mask):
        lengths = mask.sum(dim=1, keepdim=True).to(stream.dtype)
        channel_mean = apply_mask(stream, mask).sum(dim=1) / lengths  # (B, C) over real steps only
        channel = self.dropout(self.activation(self.channel_linear(channel_mean)))[:, None, :]
        bit_wise = self.dropout(self.activation(self.bit_wise_conv(other, mask)[0]))
        filtered = apply_mask(torch.sigmoid(bit_wise * channel) * stream, mask)
        hidden = self.dropout(self.activation(self.conv1(filtered, mask)[0]))
        hidden = self.activation(self.conv2(hidden, mask)[0])
        attention = torch.sigmoid(self.dropout(self.scorer(hidden, mask)[0])).squeeze(-1)
        return attention * mask, filtered


class DELUModel(DELUPreTrainedModel):
    """DELU: cross-modal attention per stream, a fused C + 1 class classifier, DELU's losses and proposals."""

    accepts_loss_kwargs = False
    loss_names = ("edl", "uncertainty_guide", "mil", "mil_suppressed", "co_activity", "mutual", "norm", "guide")

    def __init__(self, config: DELUConfig):
        super().__init__(config)
        self.rgb_attention = DELUCrossModalAttention(config.rgb_dim, config.flow_dim, config)
        self.flow_attention = DELUCrossModalAttention(config.flow_dim, config.rgb_dim, config)
        self.fusion = MaskedConv1d(config.input_dim, config.input_dim, 1)
        self.classifier_conv = MaskedConv1d(config.input_dim, config.classifier_hidden_size, 3)
        self.classifier_out = MaskedConv1d(config.classifier_hidden_size, config.num_classes + 1, 1)
        self.activation = nn.LeakyReLU(0.2)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier_dropout = nn.Dropout(config.classifier_dropout)
        self.post_init()

    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """Two short videos, the second padded."""
        generator = torch.Generator().manual_seed(0)
        features = torch.randn(2, 16, self.config.input_dim, generator=generator)
        mask = torch.ones(2, 16, dtype=torch.long)
        mask[1, 11:] = 0
        return {"input_features": features.to(self.device, self.dtype), "attention_mask": mask.to(self.device)}

    def encode(self, input_features, attention_mask=None):
        """`(cas, attention, rgb_attention, flow_attention, features, mask)` of a batch of snippet features."""
        config = self.config
        mask = validate_feature_inputs(input_features, attention_mask, config.input_dim)
        features = apply_mask(input_features, mask)
        rgb, flow = features[..., : config.rgb_dim], features[..., config.rgb_dim :]
        rgb_attention, rgb_filtered = self.rgb_attention(rgb, flow, mask)
        flow_attention, flow_filtered = self.flow_attention(flow, rgb, mask)
        attention = (rgb_attention + flow_attention) / 2
        fused = self.dropout(self.activation(self.fusion(torch.cat((rgb_filtered, flow_filtered), -1), mask)[0]))
        hidden = self.activation(self.classifier_conv(self.dropout(fused), mask)[0])
        cas = self.classifier_out(self.classifier_dropout(hidden), mask)[0]
        return cas, attention, rgb_attention, flow_attention, fused, mask

    def compute_loss(self, outputs: DELUOutput, labels: torch.Tensor, training_progress: float | None = None):
        """`(loss, loss_terms)`: DELU's weighted total and its 8 unweighted terms (see `loss_names`).
        `labels`: `(B, C)` multi-hot. `training_progress`: step / total steps for the curriculum (None: flat)."""
        config = self.config
        cas, attention, mask = outputs.cas.float(), outputs.attention.float(), outputs.mask
        rgb, flow, features = outputs.rgb_attention.float(), outputs.flow_attention.float(), outputs.features.float()
        suppressed = suppress_background(cas, attention)
        attentions = (attention, rgb, flow)
        terms = torch.stack(
            [
                edl_loss(suppressed, attention, labels, mask, config.edl_topk_ratio, config.evidence_clamp),
                uncertainty_guide_loss(
                    cas,
                    suppressed,
                    attentions,
                    mask,
                    training_progress,
                    config.curriculum_amplitude,
                    config.evidence_clamp,
                ),
                mil_loss(cas, labels, mask, config.mil_topk_ratio, background=True),
                mil_loss(suppressed, labels, mask, config.mil_topk_ratio, background=False),
                co_activity_loss(
                    features, suppressed, labels, mask, config.num_similar_pairs, config.contrastive_margin
                ),
                mutual_loss(rgb, flow, mask),
                sum(masked_mean(a, mask) for a in attentions) / 3,
                masked_mean(guide_terms(cas, attentions), mask),
            ]
        )
        weights = torch.tensor(
            [
                config.edl_loss_weight,
                config.uncertainty_guide_loss_weight,
                config.mil_loss_weight,
                config.mil_suppressed_loss_weight,
                config.contrastive_loss_weight,
                config.mutual_loss_weight,
                config.norm_loss_weight,
                config.guide_loss_weight,
            ],
            device=terms.device,
        )
        return (weights * terms).sum(), terms

    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels=None,
        training_progress: float | None = None,
        return_dict: bool | None = None,
    ) -> DELUOutput | tuple:
        r"""
        Args:
            input_features (`torch.FloatTensor` of shape `(B, T, input_dim)`): RGB then flow snippet features.
            attention_mask (`torch.LongTensor` of shape `(B, T)`, optional): 1 for real snippets, 0 for padding.
            labels (`(B, C)` multi-hot tensor or a list of `B` dicts with `class_labels`, optional): video-level
                labels; when given, the loss is computed. Segment annotations, if present, are ignored.
            training_progress (`float` in [0, 1], optional): training step / total steps, for the uncertainty
                curriculum (the training recipe passes it); None weighs every snippet 1.
        """
        cas, attention, rgb_attention, flow_attention, features, mask = self.encode(input_features, attention_mask)
        output = DELUOutput(
            cas=cas,
            attention=attention,
            rgb_attention=rgb_attention,
            flow_attention=flow_attention,
            features=features,
            mask=mask,
        )
        if labels is not None:
            target = video_labels_tensor(labels, self.config.num_classes, cas.shape[0], cas.device)
            output.loss, output.loss_terms = self.compute_loss(output, target, training_progress)
        return output if return_dict is not False else output.to_tuple()

    # ------------------------------------------------------------------------------------ post-processing
    @torch.no_grad()
    def video_proposals(self, cas: torch.Tensor, attention: torch.Tensor):
        """DELU's `multiple_threshold_hamnet` on one video's real snippets: `cas` `(T, C + 1)`, `attention` `(T,)`.
        Returns `(segments (N, 2) in snippets [start, end), scores (N,), classes (N,))` before NMS."""
        config = self.config
        length = cas.shape[0]
        all_weighted = cas.float() * attention.float()[:, None]  # CAS x attention (DELU: elem * element_atn)
        weighted = all_weighted[:, :-1]
        real = torch.ones(1, length, dtype=torch.bool, device=cas.device)
        video_scores = topk_mean(all_weighted[None], real, config.video_score_topk_ratio)[0].softmax(dim=-1)[:-1]
        classes = (video_scores >= config.class_threshold).nonzero().flatten()
        if classes.numel() == 0:
            classes = video_scores.argmax().reshape(1)
        prefix = torch.cat((weighted.new_zeros(1, weighted.shape[1]), weighted.cumsum(dim=0)))  # (T + 1, C)
        segments, scores, labels = [], [], []
        for threshold in config.proposal_thresholds:
            above = (attention > threshold).int()
            edges = torch.diff(torch.cat((above.new_zeros(1), above, above.new_zeros(1))))
            starts, ends = (edges == 1).nonzero().flatten(), (edges == -1).nonzero().flatten()  # runs [start, end)
            if starts.numel() == 0:
                continue
            size = (ends - starts).float()
            outer_start = (starts - config.outer_inner_lambda * size).long().clamp(min=0)  # int() truncation
            outer_end = (ends - 1 + config.outer_inner_lambda * size).long().clamp(max=length - 1) + 1
            inner = (prefix[ends] - prefix[starts]) / size[:, None]
            outer_sum = prefix[starts] - prefix[outer_start] + prefix[outer_end] - prefix[ends]
            outer_size = ((starts - outer_start) + (outer_end - ends)).float()[:, None]
            outer = torch.where(outer_size > 0, outer_sum / outer_size.clamp(min=1), torch.zeros_like(outer_sum))
            score = inner - outer + config.gamma_oic * video_scores[None, :]  # (runs, C)
            for c in classes.tolist():
                segments.append(torch.stack((starts, ends), dim=-1).float())
                scores.append(score[:, c])
                labels.append(torch.full_like(starts, c))
        if not segments:
            return cas.new_zeros(0, 2).float(), cas.new_zeros(0).float(), torch.zeros(0, dtype=torch.long)
        return torch.cat(segments), torch.cat(scores), torch.cat(labels)

    @torch.no_grad()
    def post_process(self, outputs, metadata: list[dict], label_names: bool = False) -> list[list[dict]]:
        """Detections in seconds, one list per video (window) of `metadata`: DELU's multi-threshold proposals with
        outer-inner contrast scores, per-class NMS (`nms_method`, Gaussian soft-NMS with sigma 0.3 by default), and
        proposals of at most `min_proposal_length` snippets dropped.

        Args:
            outputs: a [`DELUOutput`] (or a dict with `cas`, `attention`, `mask`).
            metadata (`list` of `B` dicts): `duration` (seconds, required), `fps`, `feature_stride`, `num_frames`
                (default to the config's), `window_start` (snippets, default 0).
            label_names (`bool`): labels as `config.id2label` names instead of ids.

        Returns per video a list of `{"segment": [start, end], "score": float, "label": int | str}`, best first.
        """
        config = self.config
        cas, attention, mask = (outputs[k] for k in ("cas", "attention", "mask"))
        if len(metadata) != cas.shape[0]:
            raise ValueError(f"metadata has {len(metadata)} entries but the outputs hold {cas.shape[0]} videos")
        results = []
        for index, meta in enumerate(metadata):
            duration, fps, feature_stride, num_frames, window_start = window_geometry(meta, index, config)
            real = mask[index]
            segments, scores, labels = self.video_proposals(cas[index][real].cpu(), attention[index][real].cpu())
            keep = scores >= config.min_score
            segments, scores, labels = segments[keep], scores[keep], labels[keep]
            if config.nms_method != "none" and len(scores):  # the settings that also merge windows
                segments, scores, labels = batched_nms(segments, scores, labels, **config.window_merge_nms_kwargs())
            long_enough = (segments[:, 1] - segments[:, 0]) > config.min_proposal_length
            segments, scores, labels = segments[long_enough], scores[long_enough], labels[long_enough]
            order = scores.argsort(descending=True, stable=True)
            if config.nms_method == "none" and config.max_segments is not None:
                order = order[: config.max_segments]
            # snippets [s, e) cover grid units [s - 0.5, e - 0.5]: seconds s * stride / fps (DELU's t * 16 / 25)
            grid = segments[order] - 0.5 + window_start
            seconds = feature_grid_to_seconds(grid, fps, feature_stride, num_frames).clamp(0.0, duration)
            results.append(
                [
                    {
                        "segment": [float(s), float(e)],
                        "score": float(c),
                        "label": config.id2label[int(k)] if label_names else int(k),
                    }
                    for (s, e), c, k in zip(seconds.tolist(), scores[order].tolist(), labels[order].tolist())
                ]
            )
        return results
