"""DELU configuration. Defaults are the public code's THUMOS14 setting (MengyuanChen21/ECCV2022-DELU,
`scripts/train_thumos.sh` over `options.py`): I3D RGB + flow features of 1024 each, 20 classes, top-k ratios 7 and 9,
loss weights alpha_edl 1.3, alpha_uct_guide 0.4, amplitude 0.7, alpha1 0.8, alpha2 0.4, alpha3 1, alpha4 1."""

import numpy as np
from transformers import PreTrainedConfig

from ..temporal_localization import THUMOS14_CLASSES, TemporalLocalizationConfigMixin
from ..validation import ConfigFieldChecks, LabelMapMixin

__all__ = ["DELUConfig"]

_checks = ConfigFieldChecks("DELUConfig")
_fail, _int, _float, _bool, _choice = _checks.fail, _checks.integer, _checks.number, _checks.boolean, _checks.choice

_LOSS_WEIGHTS = (
    "edl_loss_weight", "uncertainty_guide_loss_weight", "mil_loss_weight", "mil_suppressed_loss_weight",
    "contrastive_loss_weight", "mutual_loss_weight", "norm_loss_weight", "guide_loss_weight",
)  # fmt: skip


class DELUConfig(LabelMapMixin, TemporalLocalizationConfigMixin, PreTrainedConfig):
    r"""Configuration of [`DELUModel`] ("Dual-Evidential Learning for Weakly-supervised Temporal Action
    Localization", Chen et al., ECCV 2022). Every field is validated; a bad value raises a `ValueError` naming it.

    Inputs:
        input_dim (`int`, 2048): snippet feature size, the concatenation of two streams (RGB then optical flow).
        rgb_dim (`int`, 1024): width of the first stream; the second is `input_dim - rgb_dim`. Each stream gets
            its own cross-modal attention, conditioned on the other stream.
    Architecture (DELU's `BWA_fusion_dropout_feat_v2` and classifier):
        attention_hidden_size (`int`, 512): width of the attention branch's two 3-wide convolutions.
        classifier_hidden_size (`int`, 2048): width of the classifier's 3-wide convolution.
        dropout (`float`, 0.7): DELU's `dropout_ratio` (fusion and classifier input).
        attention_dropout (`float`, 0.5): inside the cross-modal attention.
        classifier_dropout (`float`, 0.7): before the classifier's last convolution.
    Losses (weights as in DELU's total loss; every one configurable):
        mil_topk_ratio (`int`, 7): top-k MIL takes k = T // 7 snippets (`--k`), on the CAS (background label 1)
            and on the attention-suppressed CAS (background label 0).
        edl_topk_ratio (`int`, 9): the evidential loss pools the T // 9 snippets of highest attention (`--rat_atn`).
        evidence_clamp (`float`, 10): exp evidence is `exp(clamp(logit, -10, 10))`.
        edl_loss_weight (1.3), uncertainty_guide_loss_weight (0.4), mil_loss_weight (1.0),
        mil_suppressed_loss_weight (1.0), contrastive_loss_weight (1.0, alpha3), mutual_loss_weight (1.0, alpha4),
        norm_loss_weight (0.8, alpha1), guide_loss_weight (0.4, alpha2).
        curriculum_amplitude (`float`, 0.7): the uncertainty-guided curriculum curve `amplitude * tanh(theta *
            delta) + 1` (`--amplitude`).
        contrastive_margin (`float`, 0.5): the co-activity contrastive hinge margin.
        num_similar_pairs (`int`, 3): the co-activity loss compares batch items (0, 1), (2, 3), ... for this many
            pairs (DELU's sampler puts 3 pairs sharing a class first in each batch of 10).
    Inference (DELU's `multiple_threshold_hamnet`):
        video_score_topk_ratio (`int`, 10): video scores are the softmax of the top T // 10 mean of CAS x attention.
        class_threshold (`float`, 0.2): classes scoring below it get no proposals (the best class always does).
        proposal_thresholds (`list[float]`, 20 values in [0.1, 0.9]): attention thresholds; every run of
            consecutive snippets above one is a proposal.
        outer_inner_lambda (`float`, 0.25): the outer region extends a proposal by this fraction of its length.
        gamma_oic (`float`, 0.2): score = inner mean - outer mean + gamma * video score.
        min_proposal_length (`float`, 1.0): proposals of at most this many snippets are dropped (DELU's test).
        nms_method ("soft" Gaussian, "hard", "linear" or "none"), nms_sigma (0.3), nms_iou_threshold (0.7),
        min_score (`float`, 0.0): proposals scoring below it are dropped before NMS. DELU keeps every proposal and
            its soft-NMS multiplies negative OIC scores towards 0 (raising them); `batched_nms` decays non-negative
            scores only, so proposals with a negative outer-inner score are dropped here.
        max_segments (`int` or None, None: no cap).
    Windows (declared to the shared TAL pipeline and `predict_tal` as `inference_window`):
        max_seq_len (`int`, 320): training crop length in snippets (DELU's `--max_seqlen`).
        inference_window_size (`int` or None, None): DELU scores whole videos; set a size to run sliding windows,
            merged with `window_merge_nms_kwargs()` (the NMS settings above).
        inference_window_overlap (`float`, 0.0): overlap of those windows.
    Feature geometry (defaults for metadata that lacks it): fps (25.0), feature_stride (16), num_frames (16).
    Classes: `id2label` / `num_classes` (THUMOS14's 20 by default); the classifier has `num_classes + 1` outputs, the
        last one background.
    """

    model_type = "delu"

    def __init__(
        self,
        input_dim: int = 2048,
        rgb_dim: int = 1024,
        attention_hidden_size: int = 512,
        classifier_hidden_size: int = 2048,
        dropout: float = 0.7,
        attention_dropout: float = 0.5,
        classifier_dropout: float = 0.7,
        mil_topk_ratio: int = 7,
        edl_topk_ratio: int = 9,
        evidence_clamp: float = 10.0,
        edl_loss_weight: float = 1.3,
        uncertainty_guide_loss_weight: float = 0.4,
        mil_loss_weight: float = 1.0,
        mil_suppressed_loss_weight: float = 1.0,
        contrastive_loss_weight: float = 1.0,
        mutual_loss_weight: float = 1.0,
        norm_loss_weight: float = 0.8,
        guide_loss_weight: float = 0.4,
        curriculum_amplitude: float = 0.7,
        contrastive_margin: float = 0.5,
        num_similar_pairs: int = 3,
        video_score_topk_ratio: int = 10,
        class_threshold: float = 0.2,
        proposal_thresholds: list[float] | None = None,
        outer_inner_lambda: float = 0.25,
        gamma_oic: float = 0.2,
        min_proposal_length: float = 1.0,
        nms_method: str = "soft",
        nms_sigma: float = 0.3,
        nms_iou_threshold: float = 0.7,
        min_score: float = 0.0,
        max_segments: int | None = None,
        max_seq_len: int = 320,
        inference_window_size: int | None = None,
        inference_window_overlap: float = 0.0,
        fps: float = 25.0,
        feature_stride: int = 16,
        num_frames: int = 16,
        num_classes: int | None = None,
        **kwargs,
    ):
        self.input_dim = _int("input_dim", input_dim, minimum=2)
        self.rgb_dim = _int("rgb_dim", rgb_dim)
        if self.rgb_dim >= self.input_dim:
            _fail("rgb_dim", f"< input_dim = {self.input_dim} (the second stream needs channels)", rgb_dim)
        self.attention_hidden_size = _int("attention_hidden_size", attention_hidden_size)
        self.classifier_hidden_size = _int("classifier_hidden_size", classifier_hidden_size)
        for name, value in (
            ("dropout", dropout),
            ("attention_dropout", attention_dropout),
            ("classifier_dropout", classifier_dropout),
        ):
            setattr(self, name, _float(name, value, 0.0, 1.0, high_open=True))
        self.mil_topk_ratio = _int("mil_topk_ratio", mil_topk_ratio)
        self.edl_topk_ratio = _int("edl_topk_ratio", edl_topk_ratio)
        self.evidence_clamp = _float("evidence_clamp", evidence_clamp, 0.0, 80.0, low_open=True)
        for name, value in zip(
            _LOSS_WEIGHTS,
            (
                edl_loss_weight,
                uncertainty_guide_loss_weight,
                mil_loss_weight,
                mil_suppressed_loss_weight,
                contrastive_loss_weight,
                mutual_loss_weight,
                norm_loss_weight,
                guide_loss_weight,
            ),
        ):
            setattr(self, name, _float(name, value, 0.0))
        self.curriculum_amplitude = _float("curriculum_amplitude", curriculum_amplitude, 0.0, 1.0)
        self.contrastive_margin = _float("contrastive_margin", contrastive_margin, 0.0)
        self.num_similar_pairs = _int("num_similar_pairs", num_similar_pairs, minimum=0)

        self.video_score_topk_ratio = _int("video_score_topk_ratio", video_score_topk_ratio)
        self.class_threshold = _float("class_threshold", class_threshold, 0.0, 1.0)
        if proposal_thresholds is None:
            proposal_thresholds = np.linspace(0.1, 0.9, 20).round(6).tolist()
        if not isinstance(proposal_thresholds, (list, tuple)) or not proposal_thresholds:
            _fail("proposal_thresholds", "a non-empty list of numbers in (0, 1)", proposal_thresholds)
        self.proposal_thresholds = [_float("proposal_thresholds", t, 0.0, 1.0, True, True) for t in proposal_thresholds]
        self.outer_inner_lambda = _float("outer_inner_lambda", outer_inner_lambda, 0.0)
        self.gamma_oic = _float("gamma_oic", gamma_oic, 0.0)
        self.min_proposal_length = _float("min_proposal_length", min_proposal_length, 0.0)
        self.nms_method = _choice("nms_method", nms_method, ("soft", "hard", "linear", "none"))
        self.nms_sigma = _float("nms_sigma", nms_sigma, 0.0, low_open=True)
        self.nms_iou_threshold = _float("nms_iou_threshold", nms_iou_threshold, 0.0, 1.0)
        self.min_score = _float("min_score", min_score, 0.0)
        self.max_segments = None if max_segments is None else _int("max_segments", max_segments)
        self.max_seq_len = _int("max_seq_len", max_seq_len)
        self.inference_window_size = (
            None if inference_window_size is None else _int("inference_window_size", inference_window_size)
        )
        self.inference_window_overlap = _float(
            "inference_window_overlap", inference_window_overlap, 0.0, 1.0, high_open=True
        )
        self.fps = _float("fps", fps, 0.0, low_open=True)
        self.feature_stride = _int("feature_stride", feature_stride)
        self.num_frames = _int("num_frames", num_frames)

        # `num_labels` / `id2label` / `num_classes` (an alias of `num_labels`) exactly as in transformers
        super().__init__(id2label=_checks.resolve_labels(kwargs, num_classes, THUMOS14_CLASSES), **kwargs)

    @property
    def flow_dim(self) -> int:
        return self.input_dim - self.rgb_dim

    @property
    def inference_window(self) -> tuple[int | None, float]:
        return self.inference_window_size, self.inference_window_overlap

    def window_merge_nms_kwargs(self) -> dict:
        """`momentzoo.segments.batched_nms` keyword arguments for merging a video's overlapping windows."""
        method = "hard" if self.nms_method == "none" else self.nms_method
        iou = 1.0 if self.nms_method == "none" else self.nms_iou_threshold
        return {
            "method": method,
            "iou_threshold": iou,
            "sigma": self.nms_sigma,
            "min_score": self.min_score,
            "max_segments": self.max_segments,
        }
