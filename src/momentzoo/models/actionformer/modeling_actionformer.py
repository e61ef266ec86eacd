"""ActionFormer (Zhang, Wu and Li, ECCV 2022): a multi-scale local-attention transformer over pre-extracted clip
features, an identity FPN, and anchor-free heads that classify every pyramid point and regress its distances to
the action's start and end. Trained with sigmoid focal + DIoU losses; decoded with per-class soft-NMS.

Layout: sequences are `(B, T, C)` throughout. Masks are `(B, T)` bool; inside the network a batch without padding
carries `mask=None` so that no masking work is done. All lengths and offsets are in *feature steps* until
`post_process` converts them to seconds.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ...hub import MomentzooModelCardMixin
from ...layers.fpn import IdentityFPN
from ...layers.heads import Scale, TemporalClassificationHead, TemporalRegressionHead
from ...layers.losses import offset_diou_loss, sigmoid_focal_loss
from ...layers.masked_conv import MaskedConv1d, apply_mask
from ...layers.transformer_block import AffineDropPath, MaskedTransformerBlock
from ...segments import batched_nms, feature_grid_to_seconds
from ..validation import validate_feature_inputs, window_geometry
from .configuration_actionformer import ActionFormerConfig

__all__ = [
    "ActionFormerModelOutput",
    "ActionFormerOutput",
    "ActionFormerPreTrainedModel",
    "ActionFormerBackbone",
    "ActionFormerModel",
    "ActionFormerForTemporalLocalization",
]


@dataclass
class ActionFormerModelOutput(ModelOutput):
    """Output of [`ActionFormerModel`].

    Args:
        pyramid_features (`tuple` of `torch.FloatTensor`, one per level): `(B, T_l, hidden_size)` with
            `T_l = ceil(T / scale_factor**l)`; exactly zero at padded steps (LayerNorm biases there with
            `config.official_padding`, whose input is first padded as the official preprocessing does).
        pyramid_masks (`tuple` of `torch.BoolTensor`, one per level): `(B, T_l)`, True at real steps.
    """

    pyramid_features: tuple[torch.FloatTensor, ...] | None = None
    pyramid_masks: tuple[torch.BoolTensor, ...] | None = None


@dataclass
class ActionFormerOutput(ModelOutput):
    """Output of [`ActionFormerForTemporalLocalization`]. `P = sum_l T_l` points over all pyramid levels,
    level 0 first.

    Args:
        loss (`torch.FloatTensor` of shape `()`, with `labels`): `cls_loss + regression_loss_weight * reg_loss`.
        cls_loss (`torch.FloatTensor` of shape `()`, with `labels`): focal loss summed over valid points and
            classes, divided by the EMA of the number of positive points.
        reg_loss (`torch.FloatTensor` of shape `()`, with `labels`): DIoU loss summed over positive points, same
            normalisation.
        cls_logits (`torch.FloatTensor` of shape `(B, P, num_classes)`): per-point, per-class sigmoid logits.
        offsets (`torch.FloatTensor` of shape `(B, P, 2)`): non-negative distances from each point to the predicted
            start and end, in units of the point's level stride.
        points (`torch.FloatTensor` of shape `(P, 4)`): per point `(t, range_low, range_high, stride)`, `t` in
            feature steps from the window start.
        masks (`torch.BoolTensor` of shape `(B, P)`): True at points over real (unpadded) steps.
        pyramid_features (`tuple` of `torch.FloatTensor`): the neck's `(B, T_l, hidden_size)` per level.
    """

    loss: torch.FloatTensor | None = None
    cls_loss: torch.FloatTensor | None = None
    reg_loss: torch.FloatTensor | None = None
    cls_logits: torch.FloatTensor | None = None
    offsets: torch.FloatTensor | None = None
    points: torch.FloatTensor | None = None
    masks: torch.BoolTensor | None = None
    pyramid_features: tuple[torch.FloatTensor, ...] | None = None


class ActionFormerPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = ActionFormerConfig
    config: ActionFormerConfig
    base_model_prefix = "model"
    main_input_name = "input_features"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MaskedTransformerBlock"]

    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """Two short videos, the second padded: enough to run every level of a small config."""
        generator = torch.Generator().manual_seed(0)
        length = 2 * self.config.scale_factor**self.config.num_downsample_layers + 3
        features = torch.randn(2, length, self.config.input_dim, generator=generator)
        mask = torch.ones(2, length, dtype=torch.long)
        mask[1, length // 2 :] = 0
        return {"input_features": features.to(self.device, self.dtype), "attention_mask": mask.to(self.device)}

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # The official code keeps PyTorch's default (Kaiming-uniform) weights and zeroes every conv/linear bias.
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if getattr(module, "bias_prior_probs", None) is not None:
                # A classifier: sigmoid(bias) starts at the foreground prior (cls_prior_prob).
                init.copy_(module.bias, TemporalClassificationHead.prior_bias_vector(module))
            elif module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, Scale):
            init.constant_(module.scale, module.init_value)
        elif isinstance(module, AffineDropPath) and module.scale is not None:
            init.constant_(module.scale, module.init_value)
        if isinstance(module, ActionFormerForTemporalLocalization):
            init.constant_(module.loss_normalizer, self.config.loss_normalizer_init)


class ActionFormerBackbone(nn.Module):
    """Masked-conv projection (+ LayerNorm, ReLU), `num_stem_layers` full-resolution transformer blocks and
    `num_downsample_layers` downsampling blocks; returns one `(B, T_l, C)` feature map per pyramid level."""

    def __init__(self, config: ActionFormerConfig):
        super().__init__()
        hidden, windows = config.hidden_size, config.level_window_sizes
        self.rezero_padding = not config.official_padding
        self.projection = nn.ModuleList(
            MaskedConv1d(
                config.input_dim if i == 0 else hidden,
                hidden,
                config.projection_kernel_size,
                bias=not config.projection_with_ln,
                rezero_padding=self.rezero_padding,
            )
            for i in range(config.num_projection_layers)
        )
        self.projection_norms = nn.ModuleList(
            nn.LayerNorm(hidden) if config.projection_with_ln else nn.Identity()
            for _ in range(config.num_projection_layers)
        )

        def block(stride: int, window: int) -> MaskedTransformerBlock:
            return MaskedTransformerBlock(
                hidden,
                config.num_attention_heads,
                window,
                stride=stride,
                mlp_ratio=config.mlp_ratio,
                hidden_act=config.hidden_act,
                attention_dropout=config.attention_dropout,
                hidden_dropout=config.hidden_dropout,
                drop_path_rate=config.drop_path_rate,
                layer_scale_init_value=config.layer_scale_init_value,
                rezero_padding=self.rezero_padding,
            )

        self.stem = nn.ModuleList(block(1, windows[0]) for _ in range(config.num_stem_layers))
        self.branch = nn.ModuleList(
            block(config.scale_factor, windows[1 + i]) for i in range(config.num_downsample_layers)
        )

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        for conv, norm in zip(self.projection, self.projection_norms):
            x, mask = conv(x, mask)
            x = F.relu(norm(x))
        if self.rezero_padding:
            x = apply_mask(x, mask)  # ReLU(LayerNorm(0)) is not 0: re-zero padded steps
        for layer in self.stem:
            x, mask = layer(x, mask)
        features, masks = [x], [mask]
        for layer in self.branch:
            x, mask = layer(x, mask)
            features.append(x)
            masks.append(mask)
        return features, masks


class ActionFormerModel(ActionFormerPreTrainedModel):
    """Backbone + identity FPN: clip features `(B, T, input_dim)` -> a pyramid of `(B, T_l, hidden_size)` maps."""

    def __init__(self, config: ActionFormerConfig):
        super().__init__(config)
        self.backbone = ActionFormerBackbone(config)
        self.neck = IdentityFPN(
            config.num_levels, config.hidden_size, with_ln=config.fpn_with_ln, rezero_padding=not config.official_padding
        )
        self.post_init()

    def pyramid(
        self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """The pyramid as the heads take it: lists of `(B, T_l, C)` features and `(B, T_l)` bool masks, the masks
        all None when no step of the batch is padding. With `config.official_padding` the input is first padded as the
        official preprocessing does (see `official_padding`)."""
        mask = validate_feature_inputs(input_features, attention_mask, self.config.input_dim)
        if self.config.official_padding:
            input_features, mask = self._official_pad(input_features, mask)
        features, masks = self.backbone(input_features, None if bool(mask.all()) else mask)
        return self.neck(features, masks)

    def _official_pad(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The official preprocessing: zeros up to max_seq_len, or, for longer inputs, up to a multiple of its
        # max_div_factor.
        length, multiple = features.shape[1], self.config.official_padding_multiple
        target = self.config.max_seq_len if length <= self.config.max_seq_len else -(-length // multiple) * multiple
        if target == length:
            return features, mask
        return F.pad(features, (0, 0, 0, target - length)), F.pad(mask, (0, target - length), value=False)

    @staticmethod
    def full_masks(features: list[torch.Tensor], masks: list[torch.Tensor | None]) -> list[torch.Tensor]:
        """`masks` with each None replaced by an all-True `(B, T_l)` mask."""
        return [
            torch.ones(f.shape[:2], dtype=torch.bool, device=f.device) if m is None else m
            for f, m in zip(features, masks)
        ]

    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> ActionFormerModelOutput | tuple:
        r"""
        Args:
            input_features (`torch.FloatTensor` of shape `(B, T, input_dim)`): clip features.
            attention_mask (`torch.LongTensor` of shape `(B, T)`, optional): 1 for real steps, 0 for padding.
        """
        features, masks = self.pyramid(input_features, attention_mask)
        output = ActionFormerModelOutput(
            pyramid_features=tuple(features), pyramid_masks=tuple(self.full_masks(features, masks))
        )
        return output if return_dict is not False else output.to_tuple()


class ActionFormerForTemporalLocalization(ActionFormerPreTrainedModel):
    """ActionFormer with its classification and regression heads, label assignment, losses and decoding.

    `forward(input_features, attention_mask, labels)` follows momentzoo's collated TAL batch: `labels` is a list
    of `B` dicts `{"class_labels": LongTensor (n,), "segments": FloatTensor (n, 2)}` in feature steps from the
    window start. `post_process(outputs, metadata)` turns the outputs into per-video segments in seconds.
    """

    # The loss is normalised by the model itself (EMA of positives), not by the number of items in the batch.
    accepts_loss_kwargs = False

    def __init__(self, config: ActionFormerConfig):
        super().__init__(config)
        self.model = ActionFormerModel(config)
        self.cls_head = TemporalClassificationHead(
            config.hidden_size,
            config.head_hidden_size,
            config.num_classes,
            num_layers=config.head_num_layers,
            kernel_size=config.head_kernel_size,
            with_ln=config.head_with_ln,
            prior_prob=config.cls_prior_prob,
            rezero_padding=not config.official_padding,
        )
        self.reg_head = TemporalRegressionHead(
            config.hidden_size,
            config.head_hidden_size,
            config.num_levels,
            num_layers=config.head_num_layers,
            kernel_size=config.head_kernel_size,
            with_ln=config.head_with_ln,
            rezero_padding=not config.official_padding,
        )
        # EMA of the number of positive points: a persistent buffer so resumed training keeps its normaliser.
        self.register_buffer(
            "loss_normalizer", torch.tensor(float(config.loss_normalizer_init), dtype=torch.float32), persistent=True
        )
        self.post_init()

    def _apply(self, fn, recurse: bool = True):
        # Keep the EMA of positives in float32 when the model is cast to bf16/fp16: bf16 cannot even count past
        # 256 exactly, and the normaliser divides every loss.
        super()._apply(fn, recurse)
        if self.loss_normalizer.dtype != torch.float32:
            self._buffers["loss_normalizer"] = self.loss_normalizer.float()
        return self

    # ----------------------------------------------------------------------------------------------- points
    def generate_points(self, level_lengths: list[int], device: torch.device | str | None = None) -> torch.Tensor:
        """Pyramid points `(P, 4)`: `(t, range_low, range_high, stride)` per step of each level, level 0 first;
        level `l` step `i` sits at `t = i * stride_l` feature steps."""
        rows = []
        for length, stride, (low, high) in zip(level_lengths, self.config.level_strides, self.config.regression_ranges):
            t = torch.arange(length, device=device, dtype=torch.float32) * stride
            rows.append(torch.stack((t, torch.full_like(t, low), torch.full_like(t, high), torch.full_like(t, stride)), -1))
        return torch.cat(rows)

    # ----------------------------------------------------------------------------------- label assignment
    def _pad_labels(self, labels: list[dict], batch: int | None, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not isinstance(labels, (list, tuple)) or (batch is not None and len(labels) != batch):
            raise ValueError(f"labels must be a list of {batch} dicts (one per video), got {type(labels).__name__} "
                             f"of length {len(labels) if isinstance(labels, (list, tuple)) else 'n/a'}")
        segments, classes = [], []
        for i, item in enumerate(labels):
            if not isinstance(item, dict) or "segments" not in item or "class_labels" not in item:
                raise ValueError(f"labels[{i}] must be a dict with 'segments' and 'class_labels'")
            seg = torch.as_tensor(item["segments"], dtype=torch.float32, device=device)
            if seg.numel() == 0:
                seg = seg.reshape(0, 2)
            cls = torch.as_tensor(item["class_labels"], device=device).reshape(-1)
            if seg.ndim != 2 or seg.shape[-1] != 2:
                raise ValueError(f"labels[{i}]['segments'] must be (n, 2), got {tuple(seg.shape)}")
            if cls.shape[0] != seg.shape[0]:
                raise ValueError(f"labels[{i}] has {seg.shape[0]} segments but {cls.shape[0]} class_labels")
            if cls.numel() and (cls.is_floating_point() or cls.min() < 0 or cls.max() >= self.config.num_classes):
                raise ValueError(
                    f"labels[{i}]['class_labels'] must be integer ids in [0, {self.config.num_classes}), got {cls.tolist()}"
                )
            if not torch.isfinite(seg).all():
                raise ValueError(f"labels[{i}]['segments'] has NaN or infinite values")
            if (seg[:, 1] < seg[:, 0]).any():
                row = int((seg[:, 1] < seg[:, 0]).nonzero()[0])
                raise ValueError(f"labels[{i}]['segments'][{row}] ends before it starts: {seg[row].tolist()}")
            segments.append(seg)
            classes.append(cls.long())
        batch = len(segments)
        most = max([1] + [s.shape[0] for s in segments])
        seg_pad = torch.zeros(batch, most, 2, device=device)
        cls_pad = torch.zeros(batch, most, dtype=torch.long, device=device)
        valid = torch.zeros(batch, most, dtype=torch.bool, device=device)
        for i, (seg, cls) in enumerate(zip(segments, classes)):
            seg_pad[i, : len(seg)], cls_pad[i, : len(cls)], valid[i, : len(seg)] = seg, cls, True
        return seg_pad, cls_pad, valid

    @torch.no_grad()
    def label_points(
        self, points: torch.Tensor, labels: list[dict], batch_size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Assign ground truth to pyramid points (ActionFormer's `label_points`, vectorised over the batch).

        A point `t` on a level with stride `s` and regression range `[lo, hi]` is positive for an action `[a, b]`
        when (1) it lies within the action's centre region `(max(a, c - r*s), min(b, c + r*s))` (strictly;
        `c` the centre, `r = center_sampling_radius`; with `center_sampling="none"` the action `(a, b)` itself) and
        (2) `lo <= max(t - a, b - t) <= hi`. Of several such actions the shortest wins; actions within 1e-3 of the
        shortest length all contribute their class (multi-label).

        Returns `cls_targets (B, P, num_classes)` in {0, 1} and `reg_targets (B, P, 2)`: the distances
        `(t - a, b - t) / s` to the chosen action (meaningful only where `cls_targets` has a 1).
        """
        segments, classes, valid = self._pad_labels(labels, batch_size, points.device)
        t, low, high, stride = (points[:, i][None, :, None] for i in range(4))  # (1, P, 1)
        start, end = segments[..., 0][:, None, :], segments[..., 1][:, None, :]  # (B, 1, N)
        left, right = t - start, end - t  # (B, P, N)
        if self.config.center_sampling == "radius":
            center = 0.5 * (start + end)
            radius = stride * self.config.center_sampling_radius
            inside = torch.minimum(
                t - torch.maximum(center - radius, start), torch.minimum(center + radius, end) - t
            ) > 0
        else:
            inside = torch.minimum(left, right) > 0
        farthest = torch.maximum(left, right)
        in_range = (farthest >= low) & (farthest <= high)
        lengths = (end - start).expand_as(left).masked_fill(~(inside & in_range & valid[:, None, :]), float("inf"))
        shortest, chosen = lengths.min(dim=-1)  # (B, P)
        ties = (lengths <= shortest[..., None] + 1e-3) & torch.isfinite(lengths)
        one_hot = F.one_hot(classes, self.config.num_classes).float() * valid[..., None]
        cls_targets = torch.bmm(ties.float(), one_hot).clamp_(max=1.0)
        reg_targets = torch.stack((left, right), dim=-1)
        reg_targets = reg_targets.gather(2, chosen[:, :, None, None].expand(-1, -1, 1, 2)).squeeze(2)
        return cls_targets, reg_targets / stride[0]

    # --------------------------------------------------------------------------------------------- losses
    def compute_detection_loss(
        self,
        cls_logits: torch.Tensor,
        offsets: torch.Tensor,
        masks: torch.Tensor,
        points: torch.Tensor,
        labels: list[dict],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`(loss, cls_loss, reg_loss)` of `ActionFormerOutput` from flattened head outputs. In training mode it
        first updates the EMA of the number of positives (`loss_normalizer`), as the official code does.

        Data parallel training (DDP, DeepSpeed; a torch.distributed process group in training mode) counts the
        positives of the *global* batch (summed over processes) and scales each process's loss by the number of
        processes, which cancels the gradient averaging: N processes with batch b take exactly the step of one
        process with batch N * b (the summed losses over the EMA of the global positive count)."""
        cls_targets, reg_targets = self.label_points(points, labels, batch_size=cls_logits.shape[0])
        positive = (cls_targets.sum(-1) > 0) & masks
        world_size = 1
        if self.training:
            momentum = self.config.loss_normalizer_momentum
            with torch.no_grad():
                count = positive.sum().to(self.loss_normalizer.dtype)
                if torch.distributed.is_available() and torch.distributed.is_initialized():
                    world_size = torch.distributed.get_world_size()
                    if world_size > 1:
                        torch.distributed.all_reduce(count)
                self.loss_normalizer.mul_(momentum).add_((1.0 - momentum) * count.clamp(min=1))
        normalizer = self.loss_normalizer.detach().clone().float() / world_size

        targets = cls_targets[masks]
        if self.config.label_smoothing > 0:
            targets = targets * (1.0 - self.config.label_smoothing) + self.config.label_smoothing / (
                self.config.num_classes + 1
            )
        cls_loss = sigmoid_focal_loss(
            cls_logits[masks], targets, self.config.focal_alpha, self.config.focal_gamma, reduction="sum"
        ) / normalizer
        reg_loss = offset_diou_loss(offsets[positive], reg_targets[positive], reduction="sum") / normalizer
        return cls_loss + self.config.regression_loss_weight * reg_loss, cls_loss, reg_loss

    # -------------------------------------------------------------------------------------------- forward
    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: list[dict] | None = None,
        return_dict: bool | None = None,
    ) -> ActionFormerOutput | tuple:
        r"""
        Args:
            input_features (`torch.FloatTensor` of shape `(B, T, input_dim)`): clip features.
            attention_mask (`torch.LongTensor` of shape `(B, T)`, optional): 1 for real steps, 0 for padding.
            labels (`list` of `B` dicts, optional): `{"class_labels": LongTensor (n,), "segments": FloatTensor
                (n, 2)}`, segments in feature steps from the window start. When given, the loss is computed.
        """
        features, masks = self.model.pyramid(input_features, attention_mask)
        cls_logits = torch.cat(self.cls_head(features, masks), dim=1)
        offsets = torch.cat(self.reg_head(features, masks), dim=1)
        flat_masks = torch.cat(self.model.full_masks(features, masks), dim=1)
        points = self.generate_points([f.shape[1] for f in features], device=cls_logits.device)
        loss = cls_loss = reg_loss = None
        if labels is not None:
            loss, cls_loss, reg_loss = self.compute_detection_loss(cls_logits, offsets, flat_masks, points, labels)
        output = ActionFormerOutput(
            loss=loss,
            cls_loss=cls_loss,
            reg_loss=reg_loss,
            cls_logits=cls_logits,
            offsets=offsets,
            points=points,
            masks=flat_masks,
            pyramid_features=tuple(features),
        )
        return output if return_dict is not False else output.to_tuple()

    # ------------------------------------------------------------------------------------ post-processing
    @torch.no_grad()
    def decode_candidates(
        self, cls_logits: torch.Tensor, offsets: torch.Tensor, points: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One video's candidates before NMS: per level, the `pre_nms_topk` (point, class) pairs scoring above
        `pre_nms_threshold`, decoded to `[start, end]` feature steps and kept if longer than `duration_threshold`.
        Inputs are one video's `(P, C)` logits, `(P, 2)` offsets, `(P, 4)` points and `(P,)` mask."""
        config = self.config
        num_classes = cls_logits.shape[-1]
        probs = torch.sigmoid(cls_logits.float()) * mask[:, None]
        _, counts = torch.unique_consecutive(points[:, 3], return_counts=True)
        segments, scores, classes = [], [], []
        start = 0
        for count in counts.tolist():
            level_probs = probs[start : start + count].flatten()
            candidates = (level_probs > config.pre_nms_threshold).nonzero().flatten()
            level_scores, order = level_probs[candidates].sort(descending=True)
            candidates, level_scores = candidates[order[: config.pre_nms_topk]], level_scores[: config.pre_nms_topk]
            point_index = start + torch.div(candidates, num_classes, rounding_mode="floor")
            pts, off = points[point_index], offsets[point_index].float()
            seg = torch.stack((pts[:, 0] - off[:, 0] * pts[:, 3], pts[:, 0] + off[:, 1] * pts[:, 3]), dim=-1)
            long_enough = (seg[:, 1] - seg[:, 0]) > config.duration_threshold
            segments.append(seg[long_enough])
            scores.append(level_scores[long_enough])
            classes.append((candidates % num_classes)[long_enough])
            start += count
        return torch.cat(segments), torch.cat(scores), torch.cat(classes)

    @torch.no_grad()
    def post_process(self, outputs, metadata: list[dict], label_names: bool = False) -> list[list[dict]]:
        """Decode a batch of outputs into detections in seconds, one list per video (window) of `metadata`.

        Args:
            outputs: an [`ActionFormerOutput`] (or a dict with `cls_logits`, `offsets`, `points`, `masks`).
            metadata (`list` of `B` dicts): `duration` (seconds, required), `fps`, `feature_stride`, `num_frames`
                (default to the config's), `window_start` (feature steps, default 0), `video_id` (unused here).
            label_names (`bool`): return `config.id2label` names instead of integer class ids.

        Returns per video a list of `{"segment": [start, end], "score": float, "label": int | str}`, sorted by
        score, at most `max_segments` long, segments clipped to `[0, duration]`.
        """
        config = self.config
        cls_logits, offsets, points, masks = (outputs[k] for k in ("cls_logits", "offsets", "points", "masks"))
        if len(metadata) != cls_logits.shape[0]:
            raise ValueError(f"metadata has {len(metadata)} entries but the outputs hold {cls_logits.shape[0]} videos")
        results = []
        for index, meta in enumerate(metadata):
            duration, fps, feature_stride, num_frames, window_start = window_geometry(meta, index, config)

            segments, scores, classes = self.decode_candidates(
                cls_logits[index], offsets[index], points, masks[index]
            )
            segments, scores, classes = segments.cpu(), scores.cpu(), classes.cpu()
            if config.nms_method != "none":
                segments, scores, classes = batched_nms(segments, scores, classes, **config.nms_kwargs())
            else:
                keep = scores >= config.min_score
                order = scores[keep].argsort(descending=True)[: config.max_segments]
                segments, scores, classes = segments[keep][order], scores[keep][order], classes[keep][order]
            seconds = feature_grid_to_seconds(segments + window_start, fps, feature_stride, num_frames)
            seconds = seconds.clamp(min=0.0, max=duration)
            results.append(
                [
                    {
                        "segment": [float(s), float(e)],
                        "score": float(score),
                        "label": config.id2label[int(label)] if label_names else int(label),
                    }
                    for (s, e), score, label in zip(seconds.tolist(), scores.tolist(), classes.tolist())
                ]
            )
        return results
