"""ActionFormer (Zhang, Wu and Li, ECCV 2022): a multi-scale local-attention transformer over pre-extracted clip
features, an identity FPN, and anchor-free heads that classify every pyramid point and regress its distances to
the action's start and end. Trained with sigmoid focal + DIoU losses; decoded with per-class soft-NMS.

The building blocks only ActionFormer (and ActionVLM, through it) uses live here with the `ActionFormer` prefix:
masked local attention, the pre-LN transformer block, the identity FPN and the conv heads. Blocks shared by two or
more models (masked conv, losses, matcher, RoI align, deformable attention) are in `momentzoo.layers`.

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
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput

from ...hub import MomentzooModelCardMixin
from ...layers.losses import offset_diou_loss, sigmoid_focal_loss
from ...layers.masked_conv import MaskedConv1d, apply_mask, conv1d_time_major, downsample_mask
from ...segments import batched_nms, feature_grid_to_seconds
from ..temporal_localization import dummy_feature_inputs
from ..validation import pad_segment_labels, validate_feature_inputs, validate_segment_labels, window_geometry
from .configuration_actionformer import ActionFormerConfig

__all__ = [
    "local_masked_attention",
    "drop_path",
    "prior_bias",
    "ActionFormerLocalAttention",
    "ActionFormerAffineDropPath",
    "ActionFormerTransformerBlock",
    "ActionFormerIdentityFPN",
    "ActionFormerScale",
    "ActionFormerClassifier",
    "ActionFormerClassificationHead",
    "ActionFormerRegressionHead",
    "ActionFormerModelOutput",
    "ActionFormerOutput",
    "ActionFormerPreTrainedModel",
    "ActionFormerBackbone",
    "ActionFormerModel",
    "ActionFormerForTemporalLocalization",
]


# ------------------------------------------------------------------------------------ building blocks
def local_masked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_mask: torch.Tensor,
    window_size: int,
    block_size: int = 32,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """Banded softmax attention.

    Args:
        query, key, value: `(B, H, T, d)`.
        key_mask: `(B, T)` bool, True for real steps; padded keys get no attention.
        window_size: odd; step `i` attends to keys `j` with `|i - j| <= window_size // 2`.
        block_size: queries per block (a speed knob only; the result does not depend on it).
        dropout_p: dropout on the attention probabilities (pass 0 in eval).
        scale: score scale, default `1 / sqrt(d)`.

    Returns `(B, H, T, d)`. A query whose window holds no real key gets a zero output.
    """
    if window_size < 1 or window_size % 2 != 1:
        raise ValueError(f"window_size must be a positive odd integer, got {window_size}")
    if query.ndim != 4 or key.shape != query.shape or value.shape[:-1] != query.shape[:-1]:
        raise ValueError(
            f"query/key/value must be (B, H, T, d) with matching shapes, got {tuple(query.shape)}, "
            f"{tuple(key.shape)}, {tuple(value.shape)}"
        )
    batch, heads, length, dim = query.shape
    if key_mask.shape != (batch, length):
        raise ValueError(f"key_mask must be (B, T) = {(batch, length)}, got {tuple(key_mask.shape)}")
    half = window_size // 2
    block = max(1, min(block_size, length))
    num_blocks = math.ceil(length / block)
    padded = num_blocks * block
    span = block + 2 * half  # keys seen by one query block
    scale = dim**-0.5 if scale is None else scale

    # Queries: (B, H, nb, block, d). Keys/values: padded by `half` on the left so block b's keys start at b * block.
    q = F.pad(query * scale, (0, 0, 0, padded - length)).view(batch, heads, num_blocks, block, dim)
    k = F.pad(key, (0, 0, half, padded - length + half)).unfold(2, span, block)  # (B, H, nb, d, span)
    v = F.pad(value, (0, 0, half, padded - length + half)).unfold(2, span, block).transpose(-1, -2)
    valid_key = F.pad(key_mask, (half, padded - length + half), value=False).unfold(1, span, block)  # (B, nb, span)

    # Query r of a block sits at key column r + half; the window is columns r .. r + 2 * half.
    offset = torch.arange(span, device=query.device)[None, :] - torch.arange(block, device=query.device)[:, None]
    band = (offset >= 0) & (offset <= 2 * half)  # (block, span)
    allowed = band[None, None] & valid_key[:, :, None, :]  # (B, nb, block, span)

    scores = torch.matmul(q, k)  # (B, H, nb, block, span)
    scores = scores.masked_fill(~allowed[:, None], torch.finfo(scores.dtype).min)
    probs = torch.softmax(scores.float(), dim=-1)
    # Rows with no allowed key would otherwise be uniform over padding: zero them explicitly.
    probs = probs * allowed[:, None].any(-1, keepdim=True)
    probs = probs.to(value.dtype)
    if dropout_p > 0:
        probs = F.dropout(probs, p=dropout_p, training=True)
    out = torch.matmul(probs, v)  # (B, H, nb, block, d)
    return out.reshape(batch, heads, padded, dim)[:, :, :length]


class ActionFormerLocalAttention(nn.Module):
    """ActionFormer's local multi-head *conv* attention (`LocalMaskedMHCA`) on `(B, T, C)` sequences.

    Queries, keys and values first go through a depthwise masked conv (kernel 3, or `stride + 1` with `stride > 1`,
    which both encodes relative position and downsamples) and a LayerNorm, then linear projections, then windowed
    attention, then an output projection. `forward(x, mask)` returns `(out (B, ceil(T / stride), C), out_mask)`;
    padded output steps are zero. `rezero_padding=False` lets the depthwise convs read padded input steps as they come
    (the official code: a preceding LayerNorm's bias there leaks into the last real steps).
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        window_size: int,
        stride: int = 1,
        attention_dropout: float = 0.0,
        projection_dropout: float = 0.0,
        block_size: int = 32,
        rezero_padding: bool = True,
    ):
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        if window_size < 3 or window_size % 2 != 1:
            raise ValueError(f"window_size must be an odd integer >= 3, got {window_size}")
        if stride != 1 and (stride < 1 or stride % 2 != 0):
            raise ValueError(f"stride must be 1 or an even integer, got {stride}")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.window_size = window_size
        self.stride = stride
        self.attention_dropout = attention_dropout
        self.block_size = block_size
        self.rezero_padding = rezero_padding

        kernel_size = stride + 1 if stride > 1 else 3
        self.query_conv = MaskedConv1d(hidden_size, hidden_size, kernel_size, stride, groups=hidden_size, bias=False)
        self.key_conv = MaskedConv1d(hidden_size, hidden_size, kernel_size, stride, groups=hidden_size, bias=False)
        self.value_conv = MaskedConv1d(hidden_size, hidden_size, kernel_size, stride, groups=hidden_size, bias=False)
        self.query_norm = nn.LayerNorm(hidden_size)
        self.key_norm = nn.LayerNorm(hidden_size)
        self.value_norm = nn.LayerNorm(hidden_size)
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)
        self.proj_dropout = nn.Dropout(projection_dropout)

    def _depthwise_qkv(self, x: torch.Tensor, mask: torch.Tensor | None):
        # Mask the shared input once; three separate depthwise convs leave q, k, v contiguous for their LayerNorms
        # (a fused 3-output grouped conv interleaves them and ends up slower).
        if self.rezero_padding:
            x = apply_mask(x, mask)
        q, k, v = (
            conv1d_time_major(x, conv.weight, None, conv.stride[0], conv.padding[0], conv.groups)
            for conv in (self.query_conv, self.key_conv, self.value_conv)
        )
        return q, k, v, downsample_mask(mask, self.stride)

    def _heads(self, x: torch.Tensor, norm: nn.LayerNorm, linear: nn.Linear) -> torch.Tensor:
        # (B, T, C) -> LayerNorm -> projection -> (B, H, T, d)
        batch, length, _ = x.shape
        return linear(norm(x)).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v, out_mask = self._depthwise_qkv(x, mask)
        # Conv outputs at padded steps are not re-zeroed (one pass saved): padded keys get no attention and
        # padded queries' outputs are zeroed at the end, so those values never reach a real step.
        q = self._heads(q, self.query_norm, self.query)
        k = self._heads(k, self.key_norm, self.key)
        v = self._heads(v, self.value_norm, self.value)
        batch, _, length, _ = q.shape
        key_mask = out_mask if out_mask is not None else torch.ones(batch, length, dtype=torch.bool, device=q.device)
        context = local_masked_attention(
            q,
            k,
            v,
            key_mask,
            self.window_size,
            block_size=self.block_size,
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        out = self.proj_dropout(self.proj(context.transpose(1, 2).reshape(batch, length, self.hidden_size)))
        return apply_mask(out, out_mask), out_mask


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch of a sample with probability `drop_prob`."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep)


class ActionFormerAffineDropPath(nn.Module):
    """Per-channel learnable scale of a residual branch (LayerScale, initialised to `init_value`) followed by
    stochastic depth, on `(B, T, C)`; `init_value=None` leaves out the scale (plain drop path)."""

    def __init__(self, num_channels: int, drop_prob: float = 0.0, init_value: float | None = 1e-4):
        super().__init__()
        self.drop_prob = drop_prob
        self.scale = nn.Parameter(torch.full((num_channels,), float(init_value))) if init_value is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale is not None:
            x = x * self.scale
        return drop_path(x, self.drop_prob, self.training)


class ActionFormerTransformerBlock(GradientCheckpointingLayer):
    """Pre-LN block: `x' = skip(x) + DropPath(Attn(LN(x)))`, `out = x' + DropPath(MLP(LN(x')))`, masked throughout.

    With `stride > 1` the attention's depthwise convs downsample queries/keys/values and the skip path is a
    max-pool (kernel `stride + 1`) over real steps only. `forward(x (B, T, C), mask (B, T) bool or None)` returns
    `(out (B, ceil(T / stride), C), out_mask)`; padded steps of `out` are exactly zero. `rezero_padding=False` is the
    official code's padding: the attention's convs read `norm1`'s output at padded steps (its bias) and the skip
    max-pool reads their zeros, so both reach the last real steps.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        window_size: int,
        stride: int = 1,
        mlp_ratio: int = 4,
        hidden_act: str = "gelu",
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-4,
        attention_block_size: int = 32,
        rezero_padding: bool = True,
    ):
        super().__init__()
        self.stride = stride
        self.rezero_padding = rezero_padding
        self.norm1 = nn.LayerNorm(hidden_size)
        self.attn = ActionFormerLocalAttention(
            hidden_size,
            num_heads,
            window_size,
            stride=stride,
            attention_dropout=attention_dropout,
            projection_dropout=hidden_dropout,
            block_size=attention_block_size,
            rezero_padding=rezero_padding,
        )
        self.norm2 = nn.LayerNorm(hidden_size)
        # ActionFormer's MLP is two 1x1 convs: per-step linear layers.
        self.mlp_in = nn.Linear(hidden_size, mlp_ratio * hidden_size)
        self.act = ACT2FN[hidden_act]
        self.mlp_out = nn.Linear(mlp_ratio * hidden_size, hidden_size)
        self.mlp_dropout = nn.Dropout(hidden_dropout)
        self.drop_path_attn = ActionFormerAffineDropPath(hidden_size, drop_path_rate, layer_scale_init_value)
        self.drop_path_mlp = ActionFormerAffineDropPath(hidden_size, drop_path_rate, layer_scale_init_value)

    def _skip(self, x: torch.Tensor, mask: torch.Tensor | None, out_mask: torch.Tensor | None) -> torch.Tensor:
        if self.stride == 1:
            return apply_mask(x, mask)
        if mask is not None and self.rezero_padding:  # max over real steps only: padded runs pool as unpadded ones
            x = x.masked_fill(~mask[..., None], float("-inf"))
        pooled = F.max_pool1d(x.transpose(1, 2), self.stride + 1, self.stride, (self.stride + 1) // 2).transpose(1, 2)
        return pooled if out_mask is None else pooled.masked_fill(~out_mask[..., None], 0.0)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, out_mask = self.attn(self.norm1(hidden_states), mask)
        out = self._skip(hidden_states, mask, out_mask) + self.drop_path_attn(attn_out)
        mlp = self.mlp_dropout(self.mlp_out(self.mlp_dropout(self.act(self.mlp_in(self.norm2(out))))))
        return out + self.drop_path_mlp(apply_mask(mlp, out_mask)), out_mask


class ActionFormerIdentityFPN(nn.Module):
    """Passes each level's `(B, T_l, C)` features through its own LayerNorm (or nothing with `with_ln=False`) and
    re-zeroes padded steps (a LayerNorm maps zeros to its bias; `rezero_padding=False` leaves the bias there, as the
    official code does); masks (`(B, T_l)` or None) pass through."""

    def __init__(self, num_levels: int, hidden_size: int, with_ln: bool = True, rezero_padding: bool = True):
        super().__init__()
        self.num_levels = num_levels
        self.rezero_padding = rezero_padding
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_size) if with_ln else nn.Identity() for _ in range(num_levels))

    def forward(
        self, features: list[torch.Tensor], masks: list[torch.Tensor | None]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        if len(features) != self.num_levels or len(masks) != self.num_levels:
            raise ValueError(
                f"ActionFormerIdentityFPN expects {self.num_levels} levels, got {len(features)} features and {len(masks)} masks"
            )
        if not self.rezero_padding:
            return [norm(x) for norm, x in zip(self.norms, features)], list(masks)
        return [apply_mask(norm(x), m) for norm, x, m in zip(self.norms, features, masks)], list(masks)


def prior_bias(prior_prob: float) -> float:
    """Classifier bias `b` with `sigmoid(b) = prior_prob` (RetinaNet's prior init: rare positives at the start)."""
    if not 0.0 < prior_prob < 1.0:
        raise ValueError(f"prior_prob must be in (0, 1), got {prior_prob}")
    return -math.log((1.0 - prior_prob) / prior_prob)


class ActionFormerScale(nn.Module):
    """A learnable scalar multiplier (one per pyramid level for the regression outputs), initialised to 1."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype)


class _ActionFormerConvTower(nn.Module):
    """`num_layers - 1` masked convs (+ LayerNorm) with ReLU, shared across levels. `rezero_padding=False`: the convs
    read padded steps as they come (the official code; see `MaskedConv1d`)."""

    def __init__(
        self, input_dim: int, hidden_dim: int, num_layers: int, kernel_size: int, with_ln: bool, rezero_padding: bool
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 (the last layer is the output conv), got {num_layers}")
        self.convs = nn.ModuleList(
            MaskedConv1d(
                input_dim if i == 0 else hidden_dim,
                hidden_dim,
                kernel_size,
                bias=not with_ln,
                rezero_padding=rezero_padding,
            )
            for i in range(num_layers - 1)
        )
        self.norms = nn.ModuleList(
            nn.LayerNorm(hidden_dim) if with_ln else nn.Identity() for _ in range(num_layers - 1)
        )

    def tower(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


class ActionFormerClassifier(MaskedConv1d):
    """The classification head's output conv; its bias starts at the foreground prior `prior_prob` (RetinaNet's
    prior init: rare positives at the start), `1e-6` for `empty_classes` so that classes never seen stay silent."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        kernel_size: int,
        prior_prob: float = 0.01,
        empty_classes: tuple[int, ...] = (),
        rezero_padding: bool = True,
    ):
        super().__init__(in_channels, num_classes, kernel_size, rezero_padding=rezero_padding)
        self.prior_prob = prior_prob
        self.empty_classes = tuple(empty_classes)
        self.reset_prior()

    def prior_bias_vector(self) -> torch.Tensor:
        probs = [1e-6 if index in self.empty_classes else self.prior_prob for index in range(self.out_channels)]
        return torch.tensor([prior_bias(p) for p in probs], dtype=self.bias.dtype)

    @torch.no_grad()
    def reset_prior(self) -> None:
        self.bias.copy_(self.prior_bias_vector())


class ActionFormerClassificationHead(_ActionFormerConvTower):
    """Per-step class logits. `forward(features, masks)` maps lists of `(B, T_l, C)` features and `(B, T_l)` masks
    (or None) to a list of `(B, T_l, num_classes)` logits (zero at padded steps). The classifier bias starts at the `prior_prob` prior;
    classes listed in `empty_classes` start at a 1e-6 prior so that classes never seen in training stay silent."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        num_classes: int,
        num_layers: int = 3,
        kernel_size: int = 3,
        with_ln: bool = True,
        prior_prob: float = 0.01,
        empty_classes: tuple[int, ...] = (),
        rezero_padding: bool = True,
    ):
        super().__init__(input_dim, hidden_dim, num_layers, kernel_size, with_ln, rezero_padding)
        in_dim = hidden_dim if num_layers > 1 else input_dim
        self.classifier = ActionFormerClassifier(
            in_dim, num_classes, kernel_size, prior_prob, empty_classes, rezero_padding=rezero_padding
        )

    def forward(self, features: list[torch.Tensor], masks: list[torch.Tensor | None]) -> list[torch.Tensor]:
        return [self.classifier(self.tower(x, m), m)[0] for x, m in zip(features, masks)]


class ActionFormerRegressionHead(_ActionFormerConvTower):
    """Per-step distances to the action's start and end, in units of the level's stride:
    `ReLU(Scale_l(conv(...)))`, so they are non-negative. Returns a list of `(B, T_l, 2)`."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        num_levels: int,
        num_layers: int = 3,
        kernel_size: int = 3,
        with_ln: bool = True,
        rezero_padding: bool = True,
    ):
        super().__init__(input_dim, hidden_dim, num_layers, kernel_size, with_ln, rezero_padding)
        self.num_levels = num_levels
        self.scales = nn.ModuleList(ActionFormerScale() for _ in range(num_levels))
        in_dim = hidden_dim if num_layers > 1 else input_dim
        self.offset = MaskedConv1d(in_dim, 2, kernel_size, rezero_padding=rezero_padding)

    def forward(self, features: list[torch.Tensor], masks: list[torch.Tensor | None]) -> list[torch.Tensor]:
        if len(features) != self.num_levels:
            raise ValueError(f"ActionFormerRegressionHead has {self.num_levels} levels, got {len(features)}")
        return [F.relu(scale(self.offset(self.tower(x, m), m)[0])) for scale, x, m in zip(self.scales, features, masks)]


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
        point_losses (`torch.FloatTensor` of shape `(B, P)`, with `labels` and `output_point_losses`): each point's
            loss without the positive-count normaliser (focal summed over classes + `regression_loss_weight` x DIoU
            at positives), zero at padded points; no gradient.
    """

    loss: torch.FloatTensor | None = None
    cls_loss: torch.FloatTensor | None = None
    reg_loss: torch.FloatTensor | None = None
    cls_logits: torch.FloatTensor | None = None
    offsets: torch.FloatTensor | None = None
    points: torch.FloatTensor | None = None
    masks: torch.BoolTensor | None = None
    pyramid_features: tuple[torch.FloatTensor, ...] | None = None
    point_losses: torch.FloatTensor | None = None


class ActionFormerPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = ActionFormerConfig
    config: ActionFormerConfig
    base_model_prefix = "model"
    main_input_name = "input_features"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ActionFormerTransformerBlock"]

    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """Two short videos, the second padded: enough to run every level of a small config."""
        length = 2 * self.config.scale_factor**self.config.num_downsample_layers + 3
        return dummy_feature_inputs(self, length, length // 2, torch.Generator().manual_seed(0))

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # The official code keeps PyTorch's default (Kaiming-uniform) weights and zeroes every conv/linear bias.
        if isinstance(module, ActionFormerClassifier):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            init.copy_(module.bias, module.prior_bias_vector())
        elif isinstance(module, (nn.Conv1d, nn.Linear)):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, ActionFormerScale):
            init.ones_(module.scale)
        elif isinstance(module, ActionFormerAffineDropPath) and module.scale is not None:
            init.constant_(module.scale, self.config.layer_scale_init_value)

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

        def block(stride: int, window: int) -> ActionFormerTransformerBlock:
            return ActionFormerTransformerBlock(
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
        self.neck = ActionFormerIdentityFPN(
            config.num_levels,
            config.hidden_size,
            with_ln=config.fpn_with_ln,
            rezero_padding=not config.official_padding,
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
        self.cls_head = ActionFormerClassificationHead(
            config.hidden_size,
            config.head_hidden_size,
            config.num_classes,
            num_layers=config.head_num_layers,
            kernel_size=config.head_kernel_size,
            with_ln=config.head_with_ln,
            prior_prob=config.cls_prior_prob,
            rezero_padding=not config.official_padding,
        )
        self.reg_head = ActionFormerRegressionHead(
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
            rows.append(
                torch.stack((t, torch.full_like(t, low), torch.full_like(t, high), torch.full_like(t, stride)), -1)
            )
        return torch.cat(rows)

    # ----------------------------------------------------------------------------------- label assignment
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
        pairs = validate_segment_labels(labels, batch_size, self.config.num_classes, points.device)
        segments, classes, valid = pad_segment_labels(pairs, points.device)
        t, low, high, stride = (points[:, i][None, :, None] for i in range(4))  # (1, P, 1)
        start, end = segments[..., 0][:, None, :], segments[..., 1][:, None, :]  # (B, 1, N)
        left, right = t - start, end - t  # (B, P, N)
        if self.config.center_sampling == "radius":
            center = 0.5 * (start + end)
            radius = stride * self.config.center_sampling_radius
            inside = (
                torch.minimum(t - torch.maximum(center - radius, start), torch.minimum(center + radius, end) - t) > 0
            )
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
    def _smoothed_targets(self, cls_targets: torch.Tensor) -> torch.Tensor:
        smoothing = self.config.label_smoothing
        if smoothing > 0:
            return cls_targets * (1.0 - smoothing) + smoothing / (self.config.num_classes + 1)
        return cls_targets

    def _detection_loss(
        self,
        cls_logits: torch.Tensor,
        offsets: torch.Tensor,
        masks: torch.Tensor,
        cls_targets: torch.Tensor,
        reg_targets: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`(loss, cls_loss, reg_loss)` of `ActionFormerOutput` from flattened head outputs and point targets. In
        training mode it first updates the EMA of the number of positives (`loss_normalizer`), as the official code
        does.

        Data parallel training (DDP, DeepSpeed; a torch.distributed process group in training mode) counts the
        positives of the *global* batch (summed over processes) and scales each process's loss by the number of
        processes, which cancels the gradient averaging: N processes with batch b take exactly the step of one
        process with batch N * b (the summed losses over the EMA of the global positive count)."""
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

        targets = self._smoothed_targets(cls_targets[masks])
        cls_loss = (
            sigmoid_focal_loss(
                cls_logits[masks], targets, self.config.focal_alpha, self.config.focal_gamma, reduction="sum"
            )
            / normalizer
        )
        reg_loss = offset_diou_loss(offsets[positive], reg_targets[positive], reduction="sum") / normalizer
        return cls_loss + self.config.regression_loss_weight * reg_loss, cls_loss, reg_loss

    @torch.no_grad()
    def _point_losses(self, cls_logits, offsets, masks, cls_targets, reg_targets) -> torch.Tensor:
        config = self.config
        point_loss = sigmoid_focal_loss(
            cls_logits, self._smoothed_targets(cls_targets), config.focal_alpha, config.focal_gamma
        ).sum(-1)
        point_loss = point_loss * masks
        positive = (cls_targets.sum(-1) > 0) & masks
        regression = torch.zeros_like(point_loss)
        regression[positive] = offset_diou_loss(offsets[positive], reg_targets[positive])
        return point_loss + config.regression_loss_weight * regression

    # -------------------------------------------------------------------------------------------- forward
    def pyramid(
        self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """The neck's pyramid of clip features `(B, T, input_dim)`: lists of `(B, T_l, hidden_size)` features and
        `(B, T_l)` bool masks (all None when no step of the batch is padding), as `detect` takes them."""
        return self.model.pyramid(input_features, attention_mask)

    def detect(
        self,
        cls_pyramid: list[torch.Tensor],
        loc_pyramid: list[torch.Tensor] | None = None,
        pyramid_masks: list[torch.Tensor | None] | None = None,
        labels: list[dict] | None = None,
        output_point_losses: bool = False,
    ) -> ActionFormerOutput:
        """The heads, label assignment and losses on a feature pyramid: what `forward` runs after the backbone, and
        what models that build their own pyramids on ActionFormer's (ActionVLM) call.

        Args:
            cls_pyramid (`list` of `(B, T_l, hidden_size)`): the features the classification head reads.
            loc_pyramid (`list` of `(B, T_l, hidden_size)`, optional): the features the regression head reads
                (default: `cls_pyramid`).
            pyramid_masks (`list` of `(B, T_l)` bool or None, optional): True at real steps; None (per level or
                altogether) when no step is padding.
            labels (`list` of `B` dicts, optional): as in `forward`; the losses are computed when given.
            output_point_losses (`bool`): with `labels`, also return each point's unnormalised loss.

        Returns an [`ActionFormerOutput`] (`pyramid_features` is `cls_pyramid`).
        """
        loc_pyramid = cls_pyramid if loc_pyramid is None else loc_pyramid
        pyramid_masks = [None] * len(cls_pyramid) if pyramid_masks is None else pyramid_masks
        cls_logits = torch.cat(self.cls_head(cls_pyramid, pyramid_masks), dim=1)
        offsets = torch.cat(self.reg_head(loc_pyramid, pyramid_masks), dim=1)
        flat_masks = torch.cat(self.model.full_masks(cls_pyramid, pyramid_masks), dim=1)
        points = self.generate_points([level.shape[1] for level in cls_pyramid], device=cls_logits.device)
        loss = cls_loss = reg_loss = point_losses = None
        if labels is not None:
            cls_targets, reg_targets = self.label_points(points, labels, batch_size=cls_logits.shape[0])
            loss, cls_loss, reg_loss = self._detection_loss(cls_logits, offsets, flat_masks, cls_targets, reg_targets)
            if output_point_losses:
                point_losses = self._point_losses(cls_logits, offsets, flat_masks, cls_targets, reg_targets)
        return ActionFormerOutput(
            loss=loss,
            cls_loss=cls_loss,
            reg_loss=reg_loss,
            cls_logits=cls_logits,
            offsets=offsets,
            points=points,
            masks=flat_masks,
            pyramid_features=tuple(cls_pyramid),
            point_losses=point_losses,
        )

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
        features, masks = self.pyramid(input_features, attention_mask)
        output = self.detect(features, pyramid_masks=masks, labels=labels)
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

            segments, scores, classes = self.decode_candidates(cls_logits[index], offsets[index], points, masks[index])
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
