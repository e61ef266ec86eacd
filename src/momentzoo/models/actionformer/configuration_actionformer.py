"""ActionFormer configuration. Defaults are the paper's THUMOS14 I3D setting (`configs/thumos_i3d.yaml` of the
official code on top of its global defaults)."""

import math
from numbers import Integral

from transformers import PreTrainedConfig

from ..temporal_localization import THUMOS14_CLASSES, TemporalLocalizationConfigMixin
from ..validation import ConfigFieldChecks, LabelMapMixin

__all__ = ["ActionFormerConfig", "THUMOS14_CLASSES"]

# Upper bound 10,000 feature steps stands for "unbounded" (kept finite so the config stays strict JSON).
DEFAULT_REGRESSION_RANGES = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))


_checks = ConfigFieldChecks("ActionFormerConfig")
_fail, _int, _float, _choice, _bool = _checks.fail, _checks.integer, _checks.number, _checks.choice, _checks.boolean


class ActionFormerConfig(LabelMapMixin, TemporalLocalizationConfigMixin, PreTrainedConfig):
    r"""Configuration of [`ActionFormerForTemporalLocalization`] (Zhang et al., "ActionFormer: Localizing Moments of
    Actions with Transformers", ECCV 2022). Every field is validated; a bad value raises a `ValueError` naming it.

    Architecture:
        input_dim (`int`, 2048): feature size per step (I3D RGB+flow).
        max_seq_len (`int`, 2304): training window length in feature steps (collators crop/pad to it; the model
            itself accepts any length).
        hidden_size (`int`, 512): width of the backbone, the pyramid and the neck (`embd_dim` = `fpn_dim`).
        num_projection_layers (`int`, 2), projection_kernel_size (`int`, 3), projection_with_ln (`bool`, True):
            the masked-conv embedding (+ LayerNorm, ReLU) at the input.
        num_stem_layers (`int`, 2): transformer blocks at full resolution.
        num_downsample_layers (`int`, 5): transformer blocks that each halve the resolution; the pyramid has
            `num_downsample_layers + 1` levels with strides `scale_factor ** l`.
        scale_factor (`int`, 2): downsampling factor between levels (even).
        num_attention_heads (`int`, 4), attention_window_size (`int` or list per level, 19): local attention.
        mlp_ratio (`int`, 4), hidden_act (`str`, "gelu").
        attention_dropout (`float`, 0.0), hidden_dropout (`float`, 0.0, the official default), drop_path_rate
            (`float`, 0.1).
        layer_scale_init_value (`float` or `None`, 1e-4): per-channel scale on each residual branch (the official
            code's `AffineDropPath`, used there whenever drop path is on); `None` disables it.
        fpn_with_ln (`bool`, True): LayerNorm per level in the identity FPN.
        head_hidden_size (`int`, 512), head_num_layers (`int`, 3), head_kernel_size (`int`, 3),
        head_with_ln (`bool`, True): the classification and regression heads.
        cls_prior_prob (`float`, 0.01): initial foreground probability of the classifier.
        official_padding (`bool`, False): reproduce the official code's padding. Inputs are zero-padded as its
            preprocessing does (to `max_seq_len`, or longer inputs to a multiple of `official_padding_multiple`), and
            padded steps are not re-zeroed after LayerNorms, so their biases leak into the last real steps of every
            level through the following convolutions (and the skip max-pool reads padded zeros). Outputs then depend
            on the padding; use it to match official checkpoints' numbers. False (default): padded and unpadded runs
            agree exactly on real steps.
    Training targets and losses:
        regression_ranges (list of `[low, high]`, one per level, feature steps): a point on level `l` regresses
            actions whose farther boundary is within `[low, high]` of it (0-4, 4-8, ..., 64-inf).
        center_sampling (`"radius"` or `"none"`), center_sampling_radius (`float`, 1.5): positives are the points
            within `radius * stride` of an action's centre (and inside the action).
        focal_alpha (`float`, 0.25), focal_gamma (`float`, 2.0): sigmoid focal loss.
        regression_loss_weight (`float`, 1.0): weight of the DIoU loss.
        label_smoothing (`float`, 0.0).
        loss_normalizer_init (`float`, 100), loss_normalizer_momentum (`float`, 0.9): both losses are divided by an
            EMA of the number of positive points (kept as a buffer, saved with the weights).
    Classes:
        id2label / label2id / num_labels exactly as in transformers (`num_classes` is an alias of `num_labels`):
            THUMOS14's 20 classes when none of them is given; `LABEL_i` names when only `num_labels` is given.
    Feature geometry (defaults for metadata that lacks it): fps (`float`, 30.0), feature_stride (`int`, 4),
        num_frames (`int`, 16): step `i` is centred on frame `i * feature_stride + num_frames / 2`.
    Post-processing (`post_process`):
        pre_nms_threshold (`float`, 0.001), pre_nms_topk (`int`, 2000, per level): candidates kept before NMS.
        duration_threshold (`float`, 0.05): minimum segment length in feature steps.
        nms_method (`"soft"`, `"hard"` or `"none"`), class_agnostic_nms (`bool`, False: per-class NMS),
        nms_iou_threshold (`float`, 0.1), nms_sigma (`float`, 0.5; Gaussian soft-NMS),
        voting_threshold (`float`, 0.7; 0 disables boundary voting), min_score (`float`, 0.001),
        max_segments (`int`, 200): the final cap per video. Boundary voting runs only with `class_agnostic_nms`, as in
        the official code (its per-class NMS never votes); per_class_voting (`bool`, False) also votes per class.
    """

    model_type = "actionformer"
    # Trainer.evaluate gathers every output tensor; the per-level features are big and not needed to score.
    keys_to_ignore_at_inference = ["pyramid_features"]

    def __init__(
        self,
        input_dim: int = 2048,
        max_seq_len: int = 2304,
        hidden_size: int = 512,
        num_projection_layers: int = 2,
        projection_kernel_size: int = 3,
        projection_with_ln: bool = True,
        num_stem_layers: int = 2,
        num_downsample_layers: int = 5,
        scale_factor: int = 2,
        num_attention_heads: int = 4,
        attention_window_size: int | list[int] = 19,
        mlp_ratio: int = 4,
        hidden_act: str = "gelu",
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        drop_path_rate: float = 0.1,
        layer_scale_init_value: float | None = 1e-4,
        fpn_with_ln: bool = True,
        head_hidden_size: int = 512,
        head_num_layers: int = 3,
        head_kernel_size: int = 3,
        head_with_ln: bool = True,
        cls_prior_prob: float = 0.01,
        official_padding: bool = False,
        regression_ranges: list[list[float]] | None = None,
        center_sampling: str = "radius",
        center_sampling_radius: float = 1.5,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        regression_loss_weight: float = 1.0,
        label_smoothing: float = 0.0,
        loss_normalizer_init: float = 100.0,
        loss_normalizer_momentum: float = 0.9,
        num_classes: int | None = None,
        fps: float = 30.0,
        feature_stride: int = 4,
        num_frames: int = 16,
        pre_nms_threshold: float = 0.001,
        pre_nms_topk: int = 2000,
        duration_threshold: float = 0.05,
        nms_method: str = "soft",
        class_agnostic_nms: bool = False,
        nms_iou_threshold: float = 0.1,
        nms_sigma: float = 0.5,
        voting_threshold: float = 0.7,
        per_class_voting: bool = False,
        min_score: float = 0.001,
        max_segments: int = 200,
        **kwargs,
    ):
        self.input_dim = _int("input_dim", input_dim)
        self.max_seq_len = _int("max_seq_len", max_seq_len)
        self.hidden_size = _int("hidden_size", hidden_size)
        self.num_projection_layers = _int("num_projection_layers", num_projection_layers)
        self.projection_kernel_size = _int("projection_kernel_size", projection_kernel_size)
        if self.projection_kernel_size % 2 != 1:
            _fail("projection_kernel_size", "an odd integer", projection_kernel_size)
        self.projection_with_ln = _bool("projection_with_ln", projection_with_ln)
        self.num_stem_layers = _int("num_stem_layers", num_stem_layers, minimum=0)
        self.num_downsample_layers = _int("num_downsample_layers", num_downsample_layers, minimum=0)
        self.scale_factor = _int("scale_factor", scale_factor, minimum=2)
        if self.scale_factor % 2 != 0:
            _fail("scale_factor", "an even integer >= 2", scale_factor)
        self.num_attention_heads = _int("num_attention_heads", num_attention_heads)
        if self.hidden_size % self.num_attention_heads != 0:
            _fail("num_attention_heads", f"a divisor of hidden_size={self.hidden_size}", num_attention_heads)
        num_levels = self.num_downsample_layers + 1
        windows = (
            [attention_window_size] * num_levels
            if isinstance(attention_window_size, Integral)
            else attention_window_size
        )
        if (
            not isinstance(windows, (list, tuple))
            or len(windows) != num_levels
            or any(isinstance(w, bool) or not isinstance(w, Integral) or w < 3 or w % 2 != 1 for w in windows)
        ):
            _fail(
                "attention_window_size", f"an odd integer >= 3 or a list of {num_levels} of them", attention_window_size
            )
        self.attention_window_size = (
            attention_window_size if isinstance(attention_window_size, Integral) else [int(w) for w in windows]
        )
        self.mlp_ratio = _int("mlp_ratio", mlp_ratio)
        self.hidden_act = _choice("hidden_act", hidden_act, ("gelu", "relu", "silu", "gelu_new", "gelu_pytorch_tanh"))
        self.attention_dropout = _float("attention_dropout", attention_dropout, 0.0, 1.0, high_open=True)
        self.hidden_dropout = _float("hidden_dropout", hidden_dropout, 0.0, 1.0, high_open=True)
        self.drop_path_rate = _float("drop_path_rate", drop_path_rate, 0.0, 1.0, high_open=True)
        if layer_scale_init_value is not None:
            layer_scale_init_value = _float(
                "layer_scale_init_value", layer_scale_init_value, 0.0, math.inf, low_open=True
            )
        self.layer_scale_init_value = layer_scale_init_value
        self.fpn_with_ln = _bool("fpn_with_ln", fpn_with_ln)
        self.head_hidden_size = _int("head_hidden_size", head_hidden_size)
        self.head_num_layers = _int("head_num_layers", head_num_layers)
        self.head_kernel_size = _int("head_kernel_size", head_kernel_size)
        if self.head_kernel_size % 2 != 1:
            _fail("head_kernel_size", "an odd integer", head_kernel_size)
        self.head_with_ln = _bool("head_with_ln", head_with_ln)
        self.cls_prior_prob = _float("cls_prior_prob", cls_prior_prob, 0.0, 1.0, low_open=True, high_open=True)
        self.official_padding = _bool("official_padding", official_padding)

        ranges = DEFAULT_REGRESSION_RANGES if regression_ranges is None else regression_ranges
        try:
            ranges = [[float(low), float(high)] for low, high in ranges]
        except (TypeError, ValueError):
            _fail("regression_ranges", f"a list of {num_levels} [low, high] pairs", regression_ranges)
        if len(ranges) != num_levels or any(
            not (math.isfinite(low) and low >= 0 and high > low) for low, high in ranges
        ):
            _fail(
                "regression_ranges",
                f"{num_levels} pairs (one per pyramid level) with 0 <= low < high",
                regression_ranges,
            )
        self.regression_ranges = ranges
        self.center_sampling = _choice("center_sampling", center_sampling, ("radius", "none"))
        self.center_sampling_radius = _float(
            "center_sampling_radius", center_sampling_radius, 0.0, math.inf, low_open=True
        )
        self.focal_alpha = _float("focal_alpha", focal_alpha, -1.0, 1.0)
        self.focal_gamma = _float("focal_gamma", focal_gamma, 0.0, math.inf)
        self.regression_loss_weight = _float("regression_loss_weight", regression_loss_weight, 0.0, math.inf)
        self.label_smoothing = _float("label_smoothing", label_smoothing, 0.0, 1.0, high_open=True)
        self.loss_normalizer_init = _float("loss_normalizer_init", loss_normalizer_init, 0.0, math.inf, low_open=True)
        self.loss_normalizer_momentum = _float(
            "loss_normalizer_momentum", loss_normalizer_momentum, 0.0, 1.0, high_open=True
        )

        self.fps = _float("fps", fps, 0.0, math.inf, low_open=True)
        self.feature_stride = _int("feature_stride", feature_stride)
        self.num_frames = _int("num_frames", num_frames)

        self.pre_nms_threshold = _float("pre_nms_threshold", pre_nms_threshold, 0.0, 1.0)
        self.pre_nms_topk = _int("pre_nms_topk", pre_nms_topk)
        self.duration_threshold = _float("duration_threshold", duration_threshold, 0.0, math.inf)
        self.nms_method = _choice("nms_method", nms_method, ("soft", "hard", "none"))
        self.class_agnostic_nms = _bool("class_agnostic_nms", class_agnostic_nms)
        self.nms_iou_threshold = _float("nms_iou_threshold", nms_iou_threshold, 0.0, 1.0)
        self.nms_sigma = _float("nms_sigma", nms_sigma, 0.0, math.inf, low_open=True)
        self.voting_threshold = _float("voting_threshold", voting_threshold, 0.0, 1.0)
        self.per_class_voting = _bool("per_class_voting", per_class_voting)
        self.min_score = _float("min_score", min_score, 0.0, 1.0)
        self.max_segments = _int("max_segments", max_segments)

        super().__init__(id2label=_checks.resolve_labels(kwargs, num_classes, THUMOS14_CLASSES), **kwargs)

    # Not in the paper (ActionFormer runs whole videos at inference): long videos in the pipeline and `predict_tal`
    # run in windows of the training length, overlapping by a quarter.
    inference_window_overlap = 0.25

    @property
    def inference_window(self) -> tuple[int | None, float]:
        return self.max_seq_len, self.inference_window_overlap

    def window_merge_nms_kwargs(self) -> dict:
        if self.nms_method == "none":
            return {
                "method": "hard",
                "iou_threshold": 1.0,
                "min_score": self.min_score,
                "max_segments": self.max_segments,
            }
        return self.nms_kwargs()

    @property
    def num_levels(self) -> int:
        """Number of pyramid levels."""
        return self.num_downsample_layers + 1

    @property
    def level_strides(self) -> list[int]:
        """Stride of each pyramid level in feature steps."""
        return [self.scale_factor**level for level in range(self.num_levels)]

    @property
    def level_window_sizes(self) -> list[int]:
        """Local attention window of each level (level 0 is used by the stem)."""
        window = self.attention_window_size
        return [window] * self.num_levels if isinstance(window, int) else list(window)

    @property
    def official_padding_multiple(self) -> int:
        """The official code pads inputs longer than `max_seq_len` to a multiple of this: the largest
        `stride_l * (window_l // 2) * 2` over the levels (its `max_div_factor`)."""
        return max(s * (w // 2) * 2 for s, w in zip(self.level_strides, self.level_window_sizes))

    def nms_kwargs(self) -> dict:
        """`segments.batched_nms` keyword arguments of `post_process` (with `nms_method` "soft" or "hard"; "none"
        runs no NMS there). Voting follows the official code: class-agnostic NMS only, unless `per_class_voting`."""
        votes = self.class_agnostic_nms or self.per_class_voting
        return {
            "method": self.nms_method,
            "class_agnostic": self.class_agnostic_nms,
            "iou_threshold": self.nms_iou_threshold,
            "sigma": self.nms_sigma,
            "voting_threshold": self.voting_threshold if votes else 0.0,
            "min_score": self.min_score,
            "max_segments": self.max_segments,
        }
