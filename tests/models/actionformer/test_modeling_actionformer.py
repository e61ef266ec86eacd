"""ActionFormer: config, label assignment (hand-derived), losses and EMA normaliser, decoding to seconds, input
validation, the common model checks, and a short training run on a small synthetic set."""

import math

import pytest
import torch
from common_model_tests import ModelTesterMixin, one_thread  # noqa: F401 (autouse fixture)

import momentzoo
from momentzoo.models.actionformer import (
    THUMOS14_CLASSES,
    ActionFormerConfig,
    ActionFormerForTemporalLocalization,
    ActionFormerModel,
)
from momentzoo.segments import feature_grid_to_seconds
from momentzoo.testing.actionformer import tiny_actionformer_config


def video_features(length: int, dim: int) -> torch.Tensor:
    # Seeded by the length so that a video is the same whether it is batched (padded) or alone.
    return torch.randn(length, dim, generator=torch.Generator().manual_seed(1000 + length))


def video_labels(length: int) -> dict:
    # One action per pyramid level of the tiny config (strides 1, 2, 4, 8; ranges 0-4, 4-8, 8-16, 16+), clipped
    # to the video so shorter videos keep the ones that fit.
    actions = [([5.0, 9.0], 0), ([20.0, 30.0], 1), ([10.0, 26.0], 2), ([2.0, 38.0], 0)]
    kept = [(seg, c) for seg, c in actions if seg[1] <= length] or [([1.0, min(4.0, length - 1.0)], 1)]
    return {"segments": torch.tensor([s for s, _ in kept]), "class_labels": torch.tensor([c for _, c in kept])}


def batch_inputs(config: ActionFormerConfig, lengths) -> dict:
    longest = max(lengths)
    features = torch.zeros(len(lengths), longest, config.input_dim)
    mask = torch.zeros(len(lengths), longest, dtype=torch.long)
    for i, length in enumerate(lengths):
        features[i, :length] = video_features(length, config.input_dim)
        mask[i, :length] = 1
    return {"input_features": features, "attention_mask": mask, "labels": [video_labels(n) for n in lengths]}


class TestActionFormerCommon(ModelTesterMixin):
    model_type = "actionformer"
    lengths = (40, 29)
    non_default_config_kwargs = {
        "attention_window_size": [5, 7, 3, 5],
        "center_sampling": "none",
        "nms_method": "hard",
        "voting_threshold": 0.0,
        "layer_scale_init_value": None,
        "fps": 25.0,
    }
    invalid_config_kwargs = [
        ({"attention_window_size": 4}, "attention_window_size"),
        ({"regression_ranges": [[0, 4]]}, "regression_ranges"),
        ({"nms_method": "greedy"}, "nms_method"),
        ({"center_sampling": "box"}, "center_sampling"),
        ({"num_attention_heads": 3}, "num_attention_heads"),
        ({"cls_prior_prob": 1.0}, "cls_prior_prob"),
        ({"hidden_dropout": -0.1}, "hidden_dropout"),
        ({"max_segments": 0}, "max_segments"),
        ({"scale_factor": 3}, "scale_factor"),
        ({"num_classes": 2, "id2label": {0: "a"}}, "num_classes"),
        ({"id2label": {1: "a"}}, "id2label"),
        ({"projection_with_ln": "yes"}, "projection_with_ln"),
        ({"official_padding": 1}, "official_padding"),
        ({"per_class_voting": "no"}, "per_class_voting"),
    ]

    def make_inputs(self, model, lengths):
        return batch_inputs(model.config, lengths)

    def real_step_outputs(self, outputs, index, length):
        strides = outputs.points[:, 3]
        keep = torch.zeros_like(strides, dtype=torch.bool)
        start = 0
        for stride, count in zip(*torch.unique_consecutive(strides, return_counts=True)):
            keep[start : start + math.ceil(length / int(stride))] = True
            start += int(count)
        assert outputs.masks[index].sum() == keep.sum()
        features = {
            f"level{level}": f[index, : math.ceil(length / 2**level)]
            for level, f in enumerate(outputs.pyramid_features)
        }
        return {
            "cls_logits": outputs.cls_logits[index][keep],
            "offsets": outputs.offsets[index][keep],
            "points": outputs.points[keep],
            **features,
        }


# ---------------------------------------------------------------------------------------------------- config
def test_default_config_is_the_thumos14_i3d_setting():
    config = ActionFormerConfig()
    assert (config.input_dim, config.max_seq_len, config.hidden_size) == (2048, 2304, 512)
    assert (config.num_projection_layers, config.num_stem_layers, config.num_downsample_layers) == (2, 2, 5)
    assert config.level_strides == [1, 2, 4, 8, 16, 32] and config.level_window_sizes == [19] * 6
    assert config.regression_ranges == [[0, 4], [4, 8], [8, 16], [16, 32], [32, 64], [64, 10000]]
    assert (config.center_sampling, config.center_sampling_radius) == ("radius", 1.5)
    assert (config.focal_alpha, config.focal_gamma, config.cls_prior_prob) == (0.25, 2.0, 0.01)
    assert (config.loss_normalizer_init, config.loss_normalizer_momentum) == (100.0, 0.9)
    assert (config.pre_nms_topk, config.max_segments, config.nms_sigma, config.voting_threshold) == (
        2000,
        200,
        0.5,
        0.7,
    )
    assert (config.feature_stride, config.num_frames) == (4, 16)
    assert (config.hidden_dropout, config.attention_dropout, config.drop_path_rate) == (0.0, 0.0, 0.1)  # official
    assert config.layer_scale_init_value == 1e-4 and config.official_padding is False
    assert config.num_classes == 20 and config.id2label[19] == "VolleyballSpiking"
    assert config.label2id["BaseballPitch"] == 0 and tuple(config.id2label.values()) == THUMOS14_CLASSES
    assert ActionFormerConfig(num_classes=3).id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    named = ActionFormerConfig(id2label={"0": "jump", "1": "run"})
    assert named.num_classes == 2 and named.label2id == {"jump": 0, "run": 1}


def test_thumos14_classes_match_the_real_annotations(real_data):
    import json

    classes = json.loads((real_data / "thumos14" / "thumos14_annotations.json").read_text())["classes"]
    assert tuple(c for c in classes if c != "Ambiguous") == THUMOS14_CLASSES


def test_init_follows_the_official_code():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config(cls_prior_prob=0.02))
    # sigmoid(classifier bias) = the prior; other biases zero; layer scale 1e-4; per-level scales 1.
    torch.testing.assert_close(torch.sigmoid(model.cls_head.classifier.bias), torch.full((3,), 0.02))
    assert torch.all(model.reg_head.offset.bias == 0) and torch.all(model.model.backbone.stem[0].mlp_in.bias == 0)
    assert torch.all(model.model.backbone.stem[0].drop_path_attn.scale == 1e-4)
    assert all(s.scale.item() == 1.0 for s in model.reg_head.scales)
    assert float(model.loss_normalizer) == 100.0
    assert "loss_normalizer" in model.state_dict()


# ---------------------------------------------------------------------------------------------- the pyramid
def test_pyramid_shapes_and_points():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    features = torch.randn(2, 21, 12)
    with torch.no_grad():
        out = model(input_features=features)
        base = ActionFormerModel(model.config).eval()(input_features=features)
    lengths = [21, 11, 6, 3]  # ceil(21 / 2**l): any length works, no divisibility constraint
    assert [f.shape for f in base.pyramid_features] == [torch.Size([2, n, 16]) for n in lengths]
    assert [m.shape for m in base.pyramid_masks] == [torch.Size([2, n]) for n in lengths]
    assert out.cls_logits.shape == (2, sum(lengths), 3) and out.offsets.shape == (2, sum(lengths), 2)
    assert out.masks.shape == (2, sum(lengths)) and out.masks.all()
    assert (out.offsets >= 0).all()
    expected_t = torch.cat([torch.arange(n) * 2**level for level, n in enumerate(lengths)]).float()
    torch.testing.assert_close(out.points[:, 0], expected_t)
    torch.testing.assert_close(out.points[:, 3], torch.cat([torch.full((n,), 2.0**l) for l, n in enumerate(lengths)]))
    assert out.points[-1, 1:3].tolist() == [16.0, 10000.0]


# ----------------------------------------------------------------------------------------- label assignment
def assignment_model(**overrides):
    values = dict(num_downsample_layers=2, attention_window_size=3, regression_ranges=[[0, 2], [2, 4], [4, 100]])
    config = tiny_actionformer_config(**{**values, **overrides})
    return ActionFormerForTemporalLocalization(config)


def test_label_assignment_matches_hand_derived_targets():
    """Points (T = 8): level 0 (stride 1) t = 0..7, level 1 (stride 2) t = 0, 2, 4, 6, level 2 (stride 4) t = 0, 4.
    Actions: A = [1, 4] class 0, B = [0, 7] class 2, C = [2.5, 6] class 1, D = [1, 4] class 2 (A's twin).
    A point is positive for an action if strictly inside its centre region (max(s, c - 1.5 stride),
    min(e, c + 1.5 stride)) and its farther boundary distance is within the level's range; the shortest wins,
    ties (within 1e-3) give every tied class.
      level 0, range [0, 2]: A/D region (1, 4): t=2 (dist 1, 2 -> max 2 ok), t=3 (2, 1 ok).
                             B region (2, 5): t=3 (max 4), t=4 (max 4): out of range.
                             C region (2.75, 5.75): t=3 (max 3 no), t=4 (1.5, 2 -> 2 ok), t=5 (max 2.5 no).
      level 1, range [2, 4]: A/D region (1, 4): t=2 (1, 2 -> 2 ok).  B region (0.5, 6.5): t=2 (max 5 no),
                             t=4 (4, 3 -> 4 ok), t=6 (max 6 no).  C region (2.5, 6): t=4 (1.5, 2 -> 2 ok).
                             t=4: B (length 7) and C (length 3.5) -> C wins.
      level 2, range [4, 100]: A/D region (1, 4): none.  B region (0, 7): t=4 (4, 3 -> 4 ok).
                             C region (2.5, 6): t=4 (max 2 no).
    Regression targets are (t - s, e - t) / stride."""
    model = assignment_model()
    points = model.generate_points([8, 4, 2])
    labels = [
        {
            "segments": torch.tensor([[1.0, 4.0], [0.0, 7.0], [2.5, 6.0], [1.0, 4.0]]),
            "class_labels": torch.tensor([0, 2, 1, 2]),
        }
    ]
    cls_targets, reg_targets = model.label_points(points, labels)
    # point index: level 0 t=0..7 -> 0..7, level 1 t=0,2,4,6 -> 8..11, level 2 t=0,4 -> 12, 13
    expected_cls = torch.zeros(14, 3)
    for index, classes in {2: [0, 2], 3: [0, 2], 4: [1], 9: [0, 2], 10: [1], 13: [2]}.items():
        expected_cls[index, classes] = 1.0
    torch.testing.assert_close(cls_targets[0], expected_cls)
    expected_reg = {2: (1, 2), 3: (2, 1), 4: (1.5, 2), 9: (0.5, 1), 10: (0.75, 1), 13: (1, 0.75)}
    for index, target in expected_reg.items():
        torch.testing.assert_close(reg_targets[0, index], torch.tensor(target, dtype=torch.float32))


def test_center_sampling_none_uses_the_whole_action():
    labels = [{"segments": torch.tensor([[0.0, 7.0]]), "class_labels": torch.tensor([1])}]
    wide = [[0, 100], [0, 100], [0, 100]]
    for mode, expected in (("radius", [3, 4]), ("none", [1, 2, 3, 4, 5, 6])):
        model = assignment_model(regression_ranges=wide, center_sampling=mode)
        cls_targets, _ = model.label_points(model.generate_points([8, 4, 2]), labels)
        level0 = cls_targets[0, :8, 1].nonzero().flatten().tolist()
        assert level0 == expected, mode  # radius: (max(0, 3.5 - 1.5), min(7, 3.5 + 1.5)) = (2, 5)


def test_videos_without_actions_have_no_positives():
    model = assignment_model()
    labels = [
        {"segments": torch.zeros(0, 2), "class_labels": torch.zeros(0, dtype=torch.long)},
        {"segments": [[1.0, 4.0]], "class_labels": [0]},
    ]
    cls_targets, _ = model.label_points(model.generate_points([8, 4, 2]), labels)
    assert cls_targets[0].sum() == 0 and cls_targets[1].sum() == 3  # level 0 t=2, 3 and level 1 t=2


# ---------------------------------------------------------------------------------------------------- losses
def test_loss_is_focal_plus_diou_over_the_ema_of_positives():
    torch.manual_seed(0)
    model = assignment_model()
    features = torch.randn(1, 8, 12)
    labels = [{"segments": torch.tensor([[1.0, 4.0], [2.5, 6.0]]), "class_labels": torch.tensor([0, 1])}]
    model.train()
    out = model(input_features=features, labels=labels)
    cls_targets, reg_targets = model.label_points(out.points, labels)
    positive = cls_targets[0].sum(-1) > 0
    num_positive = int(positive.sum())
    assert num_positive == 5  # A: level 0 t=2, 3 and level 1 t=2; C: level 0 t=4 and level 1 t=4
    normaliser = 0.9 * 100 + 0.1 * num_positive  # updated before use, as in the official code
    assert float(model.loss_normalizer) == pytest.approx(normaliser)
    p = torch.sigmoid(out.cls_logits[0].float())
    y = cls_targets[0]
    focal = -(0.25 * y * (1 - p) ** 2 * torch.log(p) + 0.75 * (1 - y) * p**2 * torch.log(1 - p))
    torch.testing.assert_close(out.cls_loss, focal.sum() / normaliser)
    pred, target = out.offsets[0][positive].double(), reg_targets[0][positive].double()
    inter = torch.minimum(pred, target).sum(-1)
    union = pred.sum(-1) + target.sum(-1) - inter
    enclose = torch.maximum(pred, target).sum(-1)
    centre_gap = ((pred[:, 1] - pred[:, 0]) - (target[:, 1] - target[:, 0])) / 2
    diou = (1 - inter / union + (centre_gap / enclose) ** 2).sum()
    torch.testing.assert_close(out.reg_loss.double(), diou / normaliser, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.loss, out.cls_loss + out.reg_loss)

    # The EMA moves only in training mode; evaluation reads it.
    model.eval()
    with torch.no_grad():
        model(input_features=features, labels=labels)
    assert float(model.loss_normalizer) == pytest.approx(normaliser)
    model.train()
    model(input_features=features, labels=[{"segments": torch.zeros(0, 2), "class_labels": torch.zeros(0)}])
    assert float(model.loss_normalizer) == pytest.approx(0.9 * normaliser + 0.1 * 1)  # max(#positives, 1)


def test_no_positives_still_gives_a_finite_loss_with_a_graph():
    model = assignment_model().train()
    out = model(
        input_features=torch.randn(1, 8, 12),
        labels=[{"segments": torch.zeros(0, 2), "class_labels": torch.zeros(0, dtype=torch.long)}],
    )
    assert out.reg_loss.item() == 0.0 and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.cls_head.classifier.weight.grad is not None


# ---------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_features": torch.randn(1, 16, 5)}, "config.input_dim is 12"),
        ({"input_features": torch.randn(16, 12)}, r"\(batch, time, 12\)"),
        ({"input_features": torch.randn(2, 16, 12), "attention_mask": torch.ones(2, 15)}, "attention_mask must be"),
        (
            {"input_features": torch.randn(2, 16, 12), "attention_mask": torch.tensor([[1] * 16, [0] * 16])},
            r"no real step for batch index\(es\) \[1\]",
        ),
        ({"input_features": torch.full((1, 16, 12), float("nan"))}, r"NaN or infinite values .* \[0\]"),
        ({"labels": [{"segments": [[3.0, 2.0]], "class_labels": [0]}]}, r"labels\[0\]\['segments'\]\[0\] ends before"),
        ({"labels": [{"segments": [[1.0, 2.0]], "class_labels": [7]}]}, r"labels\[0\]\['class_labels'\] must be"),
        ({"labels": [{"segments": [[1.0, 2.0]], "class_labels": [0, 1]}]}, "1 segments but 2 class_labels"),
        ({"labels": [{"segments": [[1.0, 2.0]]}]}, "must be a dict with 'segments' and 'class_labels'"),
        ({"labels": [{"segments": [[1.0, float("nan")]], "class_labels": [0]}]}, "NaN or infinite"),
        ({"labels": []}, "labels must be a list of 1 dicts"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, message):
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config())
    kwargs = {"input_features": torch.randn(1, 16, 12), **kwargs}
    with pytest.raises(ValueError, match=message):
        model(**kwargs)


def test_nan_in_padding_is_ignored():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    features = torch.randn(1, 16, 12)
    features[0, 10:] = float("nan")
    mask = torch.ones(1, 16, dtype=torch.long)
    mask[0, 10:] = 0
    with torch.no_grad():
        out = model(input_features=features, attention_mask=mask)
    assert torch.isfinite(out.cls_logits).all()


# ------------------------------------------------------------------------------------------ post-processing
def handmade_outputs(model, length=16):
    """Outputs whose decoding is known: two confident (point, class) pairs, everything else at logit -20."""
    with torch.no_grad():
        out = model(input_features=torch.randn(1, length, 12))
    out.cls_logits.fill_(-20.0)
    out.offsets.zero_()
    level1 = length  # first index of level 1 (stride 2)
    out.cls_logits[0, 5, 2] = 2.0  # level 0, t=5, class 2: segment [5 - 1, 5 + 2] = [4, 7]
    out.offsets[0, 5] = torch.tensor([1.0, 2.0])
    out.cls_logits[0, level1 + 6, 0] = 0.0  # level 1, t=12, class 0: offsets x stride 2: [12 - 2, 12 + 6] = [10, 18]
    out.offsets[0, level1 + 6] = torch.tensor([1.0, 3.0])
    return out


def test_post_process_decodes_to_seconds():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    out = handmade_outputs(model)
    meta = {"video_id": "v", "duration": 8.0, "fps": 10.0, "feature_stride": 4, "num_frames": 8, "window_start": 3}
    (detections,) = model.post_process(out, [meta])
    assert [d["label"] for d in detections] == [2, 0]
    assert detections[0]["score"] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    assert detections[1]["score"] == pytest.approx(0.5)

    def seconds(step):  # window start 3 steps; step i is centred on frame 4 i + 4
        return float(feature_grid_to_seconds(torch.tensor(step + 3.0), 10.0, 4, 8))

    assert detections[0]["segment"] == pytest.approx([seconds(4), seconds(7)])  # [3.2, 4.4]
    assert seconds(18) > 8.0
    assert detections[1]["segment"] == pytest.approx([seconds(10), 8.0])  # 5.6 s start, end clipped to the duration
    named = model.post_process(out, [meta], label_names=True)[0]
    assert [d["label"] for d in named] == ["LABEL_2", "LABEL_0"]


def test_per_class_nms_never_votes_as_the_official_code():
    # Two overlapping class-0 candidates: voting would move the kept segment towards the weaker one.
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    out = handmade_outputs(model)
    out.cls_logits[0, 6, 2] = 1.0  # level 0, t=6, class 2: [6 - 1, 6 + 2] = [5, 8], tIoU 2/4 with [4, 7]
    out.offsets[0, 6] = torch.tensor([1.0, 2.0])
    meta = [{"duration": 100.0, "fps": 4.0, "feature_stride": 4, "num_frames": 16}]  # step i at i + 2 s
    assert model.config.nms_kwargs()["voting_threshold"] == 0.0 and model.config.voting_threshold == 0.7
    top = model.post_process(out, meta)[0][0]
    assert top["label"] == 2 and top["segment"] == pytest.approx([6.0, 9.0])  # the NMS pick [4, 7], unmoved

    voting = ActionFormerForTemporalLocalization(tiny_actionformer_config(per_class_voting=True, voting_threshold=0.3))
    voted = voting.eval().post_process(out, meta)[0][0]
    weights = torch.sigmoid(torch.tensor([2.0, 1.0]))
    expected = (weights[0] * torch.tensor([6.0, 9.0]) + weights[1] * torch.tensor([7.0, 10.0])) / weights.sum()
    assert voted["segment"] == pytest.approx(expected.tolist(), abs=1e-5)  # the old behaviour, behind a flag
    agnostic = tiny_actionformer_config(class_agnostic_nms=True)
    assert agnostic.nms_kwargs()["voting_threshold"] == 0.7 and agnostic.nms_kwargs()["class_agnostic"] is True


def test_post_process_defaults_geometry_and_caps_segments():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config(max_segments=1, fps=5.0)).eval()
    out = handmade_outputs(model)
    (detections,) = model.post_process(out, [{"duration": 100.0}])  # fps 5, stride 4, 16 frames from the config
    assert len(detections) == 1
    assert detections[0]["segment"] == pytest.approx([(4 * 4 + 8) / 5, (7 * 4 + 8) / 5])


def test_post_process_on_an_untrained_model_is_well_formed():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    inputs = batch_inputs(model.config, (40, 29))
    with torch.no_grad():
        out = model(input_features=inputs["input_features"], attention_mask=inputs["attention_mask"])
    results = model.post_process(out, [{"duration": 7.0}, {"duration": 5.0}])
    for detections, duration in zip(results, (7.0, 5.0)):
        assert 0 < len(detections) <= model.config.max_segments
        scores = [d["score"] for d in detections]
        assert scores == sorted(scores, reverse=True)
        for d in detections:
            assert 0.0 <= d["segment"][0] <= d["segment"][1] <= duration
            assert d["label"] in (0, 1, 2)


def test_post_process_rejects_bad_metadata():
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    out = handmade_outputs(model)
    with pytest.raises(ValueError, match="metadata has 2 entries"):
        model.post_process(out, [{"duration": 1.0}, {"duration": 1.0}])
    with pytest.raises(ValueError, match=r"metadata\[0\] must be a dict with at least 'duration'"):
        model.post_process(out, [{"fps": 30}])
    with pytest.raises(ValueError, match=r"metadata\[0\]\['duration'\] must be a positive number"):
        model.post_process(out, [{"duration": float("nan")}])


# -------------------------------------------------------------------------------------------------- training
def synthetic_batch(generator, num_videos=4, length=64, dim=12, num_classes=3):
    """Noise features; inside each action the features carry its class's signature (a fixed random direction),
    so both what and where are learnable."""
    signatures = torch.randn(num_classes, dim, generator=torch.Generator().manual_seed(7)) * 2
    features = torch.randn(num_videos, length, dim, generator=generator) * 0.5
    labels = []
    for v in range(num_videos):
        segments, classes, start = [], [], float(torch.randint(0, 6, (1,), generator=generator))
        while True:
            width = float(torch.randint(3, 20, (1,), generator=generator))
            if start + width > length - 1:
                break
            c = int(torch.randint(num_classes, (1,), generator=generator))
            features[v, int(start) : int(start + width)] += signatures[c]
            segments.append([start, start + width])
            classes.append(c)
            start += width + float(torch.randint(2, 10, (1,), generator=generator))
        labels.append({"segments": torch.tensor(segments), "class_labels": torch.tensor(classes)})
    return {
        "input_features": features,
        "attention_mask": torch.ones(num_videos, length, dtype=torch.long),
        "labels": labels,
    }


def test_short_training_run_lowers_the_loss_and_localizes():
    torch.manual_seed(0)
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config(loss_normalizer_init=10.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    held_out = synthetic_batch(torch.Generator().manual_seed(123))
    model.eval()
    with torch.no_grad():  # compare un-normalised losses: the EMA normaliser itself moves during training
        before = float(model(**held_out).loss * model.loss_normalizer)
    model.train()
    for _ in range(80):
        loss = model(**synthetic_batch(generator)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        out = model(**held_out)
    after = float(out.loss * model.loss_normalizer)
    assert after < 0.3 * before, (before, after)
    # The top detection of each held-out video overlaps one of its actions of the same class.
    detections = model.post_process(out, [{"duration": 1e3, "fps": 1.0, "feature_stride": 1, "num_frames": 1}] * 4)
    hits = 0
    for video, labels in zip(detections, held_out["labels"]):
        s, e = (x - 0.5 for x in video[0]["segment"])  # back to feature steps (centre offset num_frames / 2)
        for (gs, ge), c in zip(labels["segments"].tolist(), labels["class_labels"].tolist()):
            inter = max(0.0, min(e, ge) - max(s, gs))
            if c == video[0]["label"] and inter / (max(e, ge) - min(s, gs)) >= 0.5:
                hits += 1
                break
    assert hits >= 3, detections


def test_model_is_registered():
    assert any(entry.model_type == "actionformer" for entry in momentzoo.MODELS)
