"""DELU: config defaults (the public code's THUMOS14 setting) and validation, every loss against a hand-computed value
on small tensors, the weighted total, proposals / post-processing in seconds, bad labels, and the common model tests."""

import math
from typing import ClassVar

import pytest
import torch
from common_model_tests import ModelTesterMixin, one_thread  # noqa: F401 (autouse fixture)

import momentzoo  # noqa: F401  (registers delu)
from momentzoo.models.delu import DELUConfig, DELUModel
from momentzoo.models.delu.losses_delu import (
    co_activity_loss,
    curriculum_curve,
    edl_loss,
    guide_terms,
    mil_loss,
    mutual_loss,
    suppress_background,
    topk_mean,
    uncertainty_guide_loss,
)
from momentzoo.testing.delu import tiny_delu_config


def full(length):
    return torch.ones(1, length, dtype=torch.bool)


# -------------------------------------------------------------------------------------------------- config
def test_config_defaults_are_delus():
    config = DELUConfig()
    assert (config.input_dim, config.rgb_dim, config.num_classes) == (2048, 1024, 20)
    assert (config.mil_topk_ratio, config.edl_topk_ratio) == (7, 9)
    assert (config.edl_loss_weight, config.uncertainty_guide_loss_weight, config.curriculum_amplitude) == (
        1.3,
        0.4,
        0.7,
    )
    assert (
        config.norm_loss_weight,
        config.guide_loss_weight,
        config.contrastive_loss_weight,
        config.mutual_loss_weight,
    ) == (0.8, 0.4, 1.0, 1.0)
    assert (config.dropout, config.attention_dropout, config.max_seq_len) == (0.7, 0.5, 320)
    assert len(config.proposal_thresholds) == 20 and config.proposal_thresholds[0] == 0.1
    assert config.proposal_thresholds[-1] == 0.9
    assert (config.gamma_oic, config.outer_inner_lambda, config.nms_sigma, config.class_threshold) == (
        0.2,
        0.25,
        0.3,
        0.2,
    )
    assert (config.fps, config.feature_stride) == (25.0, 16)


def test_num_labels_behaves_as_in_transformers():
    assert DELUConfig(num_labels=5).id2label == {i: f"LABEL_{i}" for i in range(5)}
    config = DELUConfig(num_classes=3)
    config.num_labels = 4
    assert config.num_classes == 4


# -------------------------------------------------------------------------------------------------- losses
def test_suppress_background_keeps_the_minimum():
    cas = torch.tensor([[[1.0, 3.0, 2.0]]])
    out = suppress_background(cas, torch.tensor([[0.5]]))
    torch.testing.assert_close(out, torch.tensor([[[1.0, 2.0, 1.5]]]))  # 0.5 * ([1, 3, 2] - 1) + 1


def test_topk_mean_per_video_k_and_padding():
    x = torch.tensor([[[1.0], [5.0], [3.0], [9.0]], [[2.0], [4.0], [100.0], [100.0]]])
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    # k = max(1, length // 2): 2 for the first video (9, 5), 1 for the second (4); padding never counts
    torch.testing.assert_close(topk_mean(x, mask, 2), torch.tensor([[7.0], [4.0]]))
    order = torch.tensor([[0.9, 0.1, 0.8, 0.0], [0.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(topk_mean(x, mask, 2, order_by=order), torch.tensor([[2.0], [4.0]]))  # (1 + 3) / 2


def test_mil_loss_hand_computed():
    # T = 7, ratio 7: k = 1, the max per class. C = 2 classes + background.
    cas = torch.zeros(1, 7, 3)
    cas[0, 2] = torch.tensor([2.0, -1.0, 0.5])
    labels = torch.tensor([[1.0, 0.0]])
    logits = [2.0, 0.0, 0.5]  # per-class max over time (zeros elsewhere)
    log_z = math.log(sum(math.exp(v) for v in logits))
    with_back = -(1 * (2.0 - log_z) + 1 * (0.5 - log_z)) / (2 + 1e-4)
    without_back = -(1 * (2.0 - log_z)) / (1 + 1e-4)
    assert mil_loss(cas, labels, full(7), 7, background=True).item() == pytest.approx(with_back, rel=1e-6)
    assert mil_loss(cas, labels, full(7), 7, background=False).item() == pytest.approx(without_back, rel=1e-6)


def test_edl_loss_hand_computed():
    # T = 9, ratio 9: k = 1, the snippet of highest attention (index 4). Its class logits are [0, log 3]:
    # alpha = [2, 4], S = 6, u = 2 / 6; label [0, 1]: g = (1 - 1/3) * 1 * [0, 1]; loss = 2/3 * (log 6 - log 4).
    suppressed = torch.zeros(1, 9, 3)
    suppressed[0, 4] = torch.tensor([0.0, math.log(3.0), 7.0])
    suppressed[0, 0] = torch.tensor([9.0, 9.0, 9.0])  # high logits but low attention: not pooled
    attention = torch.full((1, 9), 0.1)
    attention[0, 4] = 0.9
    loss = edl_loss(suppressed, attention, torch.tensor([[0.0, 1.0]]), full(9), 9)
    assert loss.item() == pytest.approx(2 / 3 * math.log(6 / 4), rel=1e-6)


def test_edl_loss_two_labels():
    # logits [log 2, log 3, 0] -> alpha [3, 4, 2], S = 9, u = 3/9; y = [1, 1, 0]: y/alpha = [1/3, 1/4, 0] -> normalised
    # [4/7, 3/7, 0]; g = (2/3) * 2 * that; loss = sum g (log 9 - log alpha).
    suppressed = torch.tensor([[[math.log(2.0), math.log(3.0), 0.0, 0.0]]])
    loss = edl_loss(suppressed, torch.ones(1, 1), torch.tensor([[1.0, 1.0, 0.0]]), full(1), 9)
    expected = (2 / 3) * 2 * (4 / 7 * math.log(9 / 3) + 3 / 7 * math.log(9 / 4))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_curriculum_curve_hand_computed():
    lengths = torch.tensor([2])
    start = curriculum_curve(lengths, 2, 0.0, 0.7)  # theta = [-0.5, 0.5], delta = 1
    torch.testing.assert_close(start, torch.tensor([[1 - 0.7 * math.tanh(0.5), 1 + 0.7 * math.tanh(0.5)]]))
    end = curriculum_curve(lengths, 2, 1.0, 0.7)  # delta = -1: reversed
    torch.testing.assert_close(end, start.flip(-1))
    torch.testing.assert_close(curriculum_curve(lengths, 2, None, 0.7), torch.ones(1, 2))


def test_guide_and_uncertainty_guide_loss_hand_computed():
    # T = 2, C = 1 (+ background). cas rows: [0, 0] (background prob 1/2) and [0, log 3] (background prob 3/4).
    cas = torch.tensor([[[0.0, 0.0], [0.0, math.log(3.0)]]])
    attention = torch.tensor([[0.2, 0.5]])
    rgb, flow = torch.tensor([[0.4, 0.5]]), torch.tensor([[0.0, 0.5]])
    guide = guide_terms(cas, (attention, rgb, flow))
    # |1 - a - b| averaged over the three attentions: t0: (0.3 + 0.1 + 0.5)/3, t1: (0.25 * 3)/3
    torch.testing.assert_close(guide, torch.tensor([[0.3, 0.25]]))
    # suppressed logits decide uncertainty: t0 evidence exp(0) + exp(0) -> S = 4, u = 1/4; t1 exp(2) + exp(0):
    # S = e^2 + 3, u smaller. Sorted ascending: [t1, t0]; weights = curve[[1, 0]] (the public code's gather).
    suppressed = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
    curve = [1 - 0.7 * math.tanh(0.5), 1 + 0.7 * math.tanh(0.5)]  # progress 0
    loss = uncertainty_guide_loss(cas, suppressed, (attention, rgb, flow), full(2), 0.0, 0.7)
    assert loss.item() == pytest.approx((curve[1] * 0.3 + curve[0] * 0.25) / 2, rel=1e-6)


def test_co_activity_loss_hand_computed():
    # Two videos sharing class 0, T = 2, D = 2, C = 1. Uniform logits: softmax over time = [1/2, 1/2].
    # Video 1 features e1, e1 -> foreground H1 = e1, background L1 = x^T (1 - 1/2) / (T - 1) = e1.
    # Video 2 features e1, e2 -> H2 = (e1 + e2) / 2, L2 = (e1 + e2) / 2.
    # d1 = 1 - cos(H1, H2) = 1 - 1/sqrt2 = d2 = d3 -> each hinge = margin 0.5; loss = 0.5 * 0.5 + 0.5 * 0.5 = 0.5
    # for the shared class (the background column is never shared); divided by 1 shared entry.
    features = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    logits = torch.zeros(2, 2, 2)
    labels = torch.tensor([[1.0], [1.0]])
    assert co_activity_loss(features, logits, labels, torch.ones(2, 2, dtype=torch.bool), 3).item() == pytest.approx(
        0.5, rel=1e-6
    )
    # no shared class: 0 (DELU divides by zero there)
    labels2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert co_activity_loss(features, torch.zeros(2, 2, 3), labels2, torch.ones(2, 2, dtype=torch.bool), 3).item() == 0


def test_mutual_loss_hand_computed_and_stop_gradient():
    rgb = torch.tensor([[0.2, 0.6]], requires_grad=True)
    flow = torch.tensor([[0.4, 0.4]], requires_grad=True)
    loss = mutual_loss(rgb, flow, full(2))
    assert loss.item() == pytest.approx(0.04, rel=1e-6)  # 0.5 * 0.04 + 0.5 * 0.04
    loss.backward()
    torch.testing.assert_close(rgb.grad, torch.tensor([[-0.1, 0.1]]))  # 0.5 * 2 * diff / 2 steps


def test_total_loss_is_the_weighted_sum_of_terms():
    torch.manual_seed(0)
    model = DELUModel(tiny_delu_config(edl_loss_weight=2.0, norm_loss_weight=0.0)).eval()
    features = torch.randn(2, 14, 16)
    out = model(features, labels=torch.tensor([[1.0, 0, 0], [1.0, 1, 0]]), training_progress=0.3)
    c = model.config
    weights = torch.tensor(
        [
            c.edl_loss_weight,
            c.uncertainty_guide_loss_weight,
            c.mil_loss_weight,
            c.mil_suppressed_loss_weight,
            c.contrastive_loss_weight,
            c.mutual_loss_weight,
            c.norm_loss_weight,
            c.guide_loss_weight,
        ]
    )
    torch.testing.assert_close(out.loss, (weights * out.loss_terms).sum())
    assert len(out.loss_terms) == len(model.loss_names)
    norm = (out.attention.mean() + out.rgb_attention.mean() + out.flow_attention.mean()) / 3
    torch.testing.assert_close(out.loss_terms[6], norm)


# ------------------------------------------------------------------------------------------- bad input
def test_video_without_labels_is_an_error_naming_it():
    model = DELUModel(tiny_delu_config())
    with pytest.raises(ValueError, match=r"batch index \[1\]"):
        model(torch.randn(2, 8, 16), labels=torch.tensor([[1.0, 0, 0], [0.0, 0, 0]]))
    with pytest.raises(ValueError, match=r"batch index \[0\]"):
        model(
            torch.randn(2, 8, 16),
            labels=[{"class_labels": torch.tensor([], dtype=torch.long)}, {"class_labels": torch.tensor([2])}],
        )
    with pytest.raises(ValueError, match="class ids outside"):
        model(torch.randn(1, 8, 16), labels=[{"class_labels": torch.tensor([3])}])


# ------------------------------------------------------------------------------------------ post-process
def test_post_process_oic_proposals_in_seconds():
    model = DELUModel(tiny_delu_config(num_classes=2, proposal_thresholds=[0.5])).eval()
    T = 20
    attention = torch.zeros(1, T)
    attention[0, 4:10] = 1.0
    cas = torch.zeros(1, T, 3)
    cas[0, 4:10, 0] = 2.0
    cas[0, 3, 0] = 1.0  # in the outer region of the proposal (attention 0 -> weighted CAS 0 there)
    outputs = {"cas": cas, "attention": attention, "mask": torch.ones(1, T, dtype=torch.bool)}
    detections = model.post_process(outputs, [{"duration": 20.0, "fps": 25.0, "feature_stride": 16, "num_frames": 16}])[
        0
    ]
    # video score: top T//10 = 2 of CAS x attention: [2, 0, 0] -> softmax; class 0 only passes 0.2
    p0 = math.exp(2) / (math.exp(2) + 2)
    # run [4, 10): inner 2; outer: 0.25 * 6 = 1.5 -> [int(2.5), 4) = {2, 3} and (9, int(10.5)] = {10}: all 0
    assert len(detections) == 1
    det = detections[0]
    assert det["label"] == 0 and det["score"] == pytest.approx(2.0 + 0.2 * p0, rel=1e-5)
    assert det["segment"] == pytest.approx([4 * 16 / 25, 10 * 16 / 25])


def test_post_process_drops_short_and_negative_proposals_and_windows_shift():
    model = DELUModel(tiny_delu_config(num_classes=2, proposal_thresholds=[0.5])).eval()
    attention = torch.zeros(1, 12)
    attention[0, 2] = 1.0  # a 1-snippet run: dropped (DELU keeps t-end - t-start > 1)
    attention[0, 6:9] = 1.0
    cas = torch.zeros(1, 12, 3)
    cas[0, :, 0] = 1.0
    cas[0, :, 1] = -1.0  # class 1 also passes the 0.2 video-score threshold, but its OIC score is -1 + 0.04 < 0
    outputs = {"cas": cas, "attention": attention, "mask": torch.ones(1, 12, dtype=torch.bool)}
    meta = {"duration": 100.0, "fps": 25.0, "feature_stride": 16, "num_frames": 16, "window_start": 10}
    detections = model.post_process(outputs, [meta], label_names=True)[0]
    assert [d["segment"] for d in detections] == [pytest.approx([16 * 16 / 25, 19 * 16 / 25])]
    assert detections[0]["label"] == "LABEL_0"


def test_post_process_checks_metadata():
    model = DELUModel(tiny_delu_config()).eval()
    with torch.no_grad():
        outputs = model(torch.randn(2, 10, 16))
    with pytest.raises(ValueError, match="metadata has 1 entries"):
        model.post_process(outputs, [{"duration": 5.0}])
    with pytest.raises(ValueError, match="duration"):
        model.post_process(outputs, [{"duration": 5.0}, {}])


# ------------------------------------------------------------------------------------------ common tests
class TestDELUCommon(ModelTesterMixin):
    model_type = "delu"
    non_default_config_kwargs: ClassVar[dict] = {
        "edl_loss_weight": 1.0,
        "mil_topk_ratio": 8,
        "nms_method": "hard",
        "proposal_thresholds": [0.2, 0.5],
        "inference_window_size": 64,
    }
    invalid_config_kwargs: ClassVar[list] = [
        ({"rgb_dim": 16}, "rgb_dim"),
        ({"mil_topk_ratio": 0}, "mil_topk_ratio"),
        ({"proposal_thresholds": [1.5]}, "proposal_thresholds"),
        ({"nms_method": "x"}, "nms_method"),
        ({"guide_loss_weight": -1.0}, "guide_loss_weight"),
        ({"curriculum_amplitude": 2.0}, "curriculum_amplitude"),
    ]

    def make_inputs(self, model, lengths):
        features = torch.zeros(len(lengths), max(lengths), model.config.input_dim)
        mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        labels = torch.zeros(len(lengths), model.config.num_classes)
        for i, length in enumerate(lengths):
            generator = torch.Generator().manual_seed(length)
            features[i, :length] = torch.randn(length, model.config.input_dim, generator=generator)
            mask[i, :length] = 1
            labels[i, length % 3] = labels[i, 0] = 1.0
        return {"input_features": features, "attention_mask": mask, "labels": labels, "training_progress": 0.25}

    def real_step_outputs(self, outputs, index, length):
        return {
            "cas": outputs.cas[index, :length],
            "attention": outputs.attention[index, :length],
            "features": outputs.features[index, :length],
        }
