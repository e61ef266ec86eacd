"""Official ActionFormer checkpoints -> momentzoo: the converted model reproduces the official code's outputs and
losses (golden data in ../shared/data/golden/actionformer_official_small, see its README), and `official_padding`
reproduces the official behaviour on padded inputs."""

import json

import pytest
import torch
from safetensors.torch import load_file

from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
from momentzoo.models.actionformer.convert_actionformer_original_checkpoint import (
    convert_actionformer_original_checkpoint,
    convert_official_state_dict,
    load_official_config,
    main,
    official_config_to_actionformer_config,
)
from momentzoo.models.actionformer.modeling_actionformer import ActionFormerAffineDropPath
from momentzoo.testing.actionformer import tiny_actionformer_config

GOLDEN = "golden/actionformer_official_small"
LEVELS = 6
METADATA = [
    {"video_id": "golden_video_0", "fps": 30.0, "duration": 34.53333333333333, "feature_stride": 4, "num_frames": 16},
    {"video_id": "golden_video_1", "fps": 30.0, "duration": 27.066666666666666, "feature_stride": 4, "num_frames": 16},
]


@pytest.fixture(scope="module")
def golden_dir(real_data):
    folder = real_data / GOLDEN
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (set MOMENTZOO_REAL_DATA)")
    return folder


@pytest.fixture(scope="module")
def golden(golden_dir):
    return load_file(golden_dir / "golden.safetensors")


def convert(golden_dir, **kwargs):
    return convert_actionformer_original_checkpoint(
        golden_dir / "epoch_000.pth.tar", golden_dir / "config.yaml", **kwargs
    )


def per_level(outputs, index=0):
    """The flat `(P, ...)` outputs of one video split back into levels, with the level lengths."""
    _, counts = torch.unique_consecutive(outputs.points[:, 3], return_counts=True)
    return tuple(x[index].split(counts.tolist()) for x in (outputs.cls_logits, outputs.offsets, outputs.masks))


def detections(model, outputs, video):
    found = model.post_process(outputs, [METADATA[video]])[0]
    return (
        torch.tensor([d["segment"] for d in found]),
        torch.tensor([d["score"] for d in found]),
        torch.tensor([d["label"] for d in found]),
    )


def assert_same_detections(model, outputs, golden, video):
    segments, scores, labels = detections(model, outputs, video)
    assert torch.equal(labels, golden[f"eval.video{video}.detections.labels"])  # same 200, same order
    torch.testing.assert_close(scores, golden[f"eval.video{video}.detections.scores"], rtol=0, atol=1e-6)
    torch.testing.assert_close(segments, golden[f"eval.video{video}.detections.segments"], rtol=0, atol=1e-4)


def assert_levels_match(outputs, golden, video, index=0):
    logits, offsets, masks = per_level(outputs, index)
    for level in range(LEVELS):
        torch.testing.assert_close(
            logits[level], golden[f"eval.video{video}.level{level}.cls_logits"], rtol=0, atol=1e-5
        )
        torch.testing.assert_close(offsets[level], golden[f"eval.video{video}.level{level}.offsets"], rtol=0, atol=1e-5)
        assert torch.equal(masks[level], golden[f"eval.video{video}.level{level}.mask"])


@pytest.mark.real_data
@pytest.mark.real_data
def test_converted_model_reproduces_the_official_outputs_on_an_unpadded_video(golden_dir, golden):
    model = convert(golden_dir)
    assert not model.training and not model.config.official_padding
    assert model.config.class_agnostic_nms is False and model.config.nms_kwargs()["voting_threshold"] == 0.0
    with torch.no_grad():
        outputs = model(input_features=golden["inputs.video0.features"][None])
    assert_levels_match(outputs, golden, 0)
    points = torch.cat([golden[f"eval.points.level{level}"] for level in range(LEVELS)])
    assert torch.equal(outputs.points[:, [0, 3]], points[:, [0, 3]])
    assert_same_detections(model, outputs, golden, 0)


@pytest.mark.real_data
@pytest.mark.real_data
def test_official_padding_reproduces_the_official_outputs_on_a_padded_video(golden_dir, golden):
    model = convert(golden_dir, official_padding=True)
    features = golden["inputs.video1.features"]  # 200 steps: the official preprocessing pads it to 256
    padded = torch.cat([features, torch.zeros(56, 64)])[None]
    mask = (torch.arange(256) < 200).long()[None]
    with torch.no_grad():
        by_itself = model(input_features=features[None])  # the model pads as the official preprocessing does
        explicitly = model(input_features=padded, attention_mask=mask)
    for outputs in (by_itself, explicitly):
        assert_levels_match(outputs, golden, 1)
        assert_same_detections(model, outputs, golden, 1)
    with torch.no_grad():  # and the unpadded video still matches
        assert_levels_match(model(input_features=golden["inputs.video0.features"][None]), golden, 0)


@pytest.mark.real_data
@pytest.mark.real_data
def test_default_masking_differs_from_the_official_code_only_at_the_last_real_steps(golden_dir, golden):
    model = convert(golden_dir)
    with torch.no_grad():
        outputs = model(input_features=golden["inputs.video1.features"][None])  # no padding at all
    logits, _, _ = per_level(outputs)
    worst_at_boundary = 0.0
    for level in range(LEVELS):
        official = golden[f"eval.video1.level{level}.cls_logits"][: logits[level].shape[0]]
        interior = logits[level].shape[0] - 8  # the official leak reaches the last 4-8 real steps of a level
        if interior > 0:
            torch.testing.assert_close(logits[level][:interior], official[:interior], rtol=0, atol=1e-5)
        worst_at_boundary = max(worst_at_boundary, (logits[level] - official).abs().max().item())
    assert worst_at_boundary > 1e-3  # the leak is real: official_padding is what reproduces it


@pytest.mark.real_data
@pytest.mark.real_data
def test_converted_model_reproduces_the_official_training_losses(golden_dir, golden):
    for official_padding in (False, True):
        model = convert(golden_dir, use_ema=False, official_padding=official_padding).train()
        for module in model.modules():  # the golden losses were recorded with drop path off (README)
            if isinstance(module, ActionFormerAffineDropPath):
                module.drop_prob = 0.0
        features = torch.zeros(2, 256, 64)
        features[0], features[1, :200] = golden["inputs.video0.features"], golden["inputs.video1.features"]
        mask = torch.ones(2, 256, dtype=torch.long)
        mask[1, 200:] = 0
        labels = [
            {"segments": golden[f"train.video{v}.gt_segments"], "class_labels": golden[f"train.video{v}.gt_labels"]}
            for v in range(2)
        ]
        outputs = model(input_features=features, attention_mask=mask, labels=labels)
        for ours, name in (
            (outputs.cls_loss, "cls_loss"),
            (outputs.reg_loss, "reg_loss"),
            (outputs.loss, "final_loss"),
        ):
            torch.testing.assert_close(ours, golden[f"train.{name}"], rtol=1e-6, atol=0)
        assert model.loss_normalizer.item() == pytest.approx(golden["train.loss_normalizer"].item(), rel=1e-7)
        cls_targets, reg_targets = model.label_points(outputs.points, labels, batch_size=2)
        assert torch.equal(cls_targets, golden["train.gt_cls_targets"])
        positive = cls_targets.sum(-1) > 0
        assert int(positive.sum()) == int(golden["train.num_pos"])
        torch.testing.assert_close(reg_targets[positive], golden["train.gt_reg_targets"][positive])


@pytest.mark.real_data
@pytest.mark.real_data
def test_the_ema_weights_are_converted_by_default(golden_dir, golden):
    raw = convert(golden_dir, use_ema=False)
    with torch.no_grad():
        logits, _, _ = per_level(raw(input_features=golden["inputs.video0.features"][None]))
    assert (logits[0] - golden["eval.video0.level0.cls_logits"]).abs().max() > 1e-2


@pytest.mark.real_data
@pytest.mark.real_data
def test_command_line_writes_a_loadable_safetensors_checkpoint_with_a_card(golden_dir, golden, tmp_path):
    names = tmp_path / "classes.json"
    names.write_text(json.dumps(["jump", "run", "throw", "swim", "climb"]))
    main(
        [
            "--checkpoint_path",
            str(golden_dir / "epoch_000.pth.tar"),
            "--config_path",
            str(golden_dir / "config.yaml"),
            "--output_dir",
            str(tmp_path / "out"),
            "--class_names",
            str(names),
        ]
    )
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"config.json", "model.safetensors", "README.md"} <= files and not any(
        f.endswith((".bin", ".pt")) for f in files
    )
    model = ActionFormerForTemporalLocalization.from_pretrained(tmp_path / "out").eval()
    assert model.config.id2label[4] == "climb" and model.config.loss_normalizer_init == 100.0
    with torch.no_grad():
        assert_levels_match(model(input_features=golden["inputs.video0.features"][None]), golden, 0)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Official checkpoints" in card and "from the official checkpoint `epoch_000.pth.tar` (state_dict_ema" in card


# ------------------------------------------------------------------------------------- small tensors, no data
def test_official_config_fields_map_to_the_config(tmp_path):
    path = tmp_path / "thumos.yaml"
    path.write_text(
        "dataset: {num_classes: 20, input_dim: 2048, feat_stride: 4, num_frames: 16, max_seq_len: 2304}\n"
        "model: {fpn_type: identity, n_mha_win_size: 19}\n"
        "train_cfg: {init_loss_norm: 100, droppath: 0.0}\n"
        "test_cfg: {voting_thresh: 0.7, pre_nms_topk: 2000, max_seg_num: 200, min_score: 0.001}\n"
    )
    config = official_config_to_actionformer_config(load_official_config(path))
    assert (config.input_dim, config.max_seq_len, config.attention_window_size, config.loss_normalizer_init) == (
        2048,
        2304,
        19,
        100.0,
    )
    assert config.layer_scale_init_value is None  # droppath 0 builds nn.Identity: no LayerScale parameters
    assert (config.hidden_dropout, config.min_score, config.max_segments, config.pre_nms_topk) == (
        0.0,
        0.001,
        200,
        2000,
    )
    assert config.official_padding_multiple == 32 * 18  # the official max_div_factor for window 19


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("model", "use_abs_pe", True),
        ("model", "use_rel_pe", True),
        ("model", "fpn_type", "fpn"),
        ("model", "n_mha_win_size", [9, 9, 9, 9, 9, -1]),
        ("train_cfg", "loss_weight", -1),
    ],
)
def test_unsupported_official_options_raise_naming_the_field(tmp_path, section, field, value):
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({section: {field: value}}))
    with pytest.raises(ValueError, match=f"{section}.{field}"):
        official_config_to_actionformer_config(load_official_config(path))


def test_state_dict_conversion_reshapes_and_rejects_unknown_keys():
    converted = convert_official_state_dict(
        {
            "module.backbone.stem.0.ln1.weight": torch.ones(1, 8, 1),
            "module.backbone.branch.1.attn.query.weight": torch.ones(8, 8, 1),
            "module.backbone.stem.1.attn.key_conv.conv.weight": torch.ones(8, 1, 3),
            "module.backbone.stem.0.drop_path_mlp.scale": torch.ones(1, 8, 1),
            "module.reg_head.scale.3.scale": torch.tensor(1.0),
        }
    )
    assert {k: tuple(v.shape) for k, v in converted.items()} == {
        "model.backbone.stem.0.norm1.weight": (8,),
        "model.backbone.branch.1.attn.query.weight": (8, 8),
        "model.backbone.stem.1.attn.key_conv.weight": (8, 1, 3),
        "model.backbone.stem.0.drop_path_mlp.scale": (8,),
        "reg_head.scales.3.scale": (),
    }
    with pytest.raises(ValueError, match="backbone.pos_embd"):
        convert_official_state_dict({"module.backbone.pos_embd": torch.ones(1, 8, 4)})


def test_official_padding_makes_padded_steps_leak_and_pads_like_the_official_code():
    torch.manual_seed(0)
    features = torch.randn(1, 40, 12)
    padded, mask = torch.cat([features, torch.zeros(1, 24, 12)], 1), (torch.arange(64) < 40).long()[None]
    clean = ActionFormerForTemporalLocalization(tiny_actionformer_config()).eval()
    leaky = ActionFormerForTemporalLocalization(tiny_actionformer_config(official_padding=True)).eval()
    leaky.load_state_dict(clean.state_dict())
    for model in (clean, leaky):  # non-zero LayerNorm biases, as trained weights have
        for name, parameter in model.named_parameters():
            if "norm" in name and name.endswith("bias"):
                parameter.data.normal_()
    with torch.no_grad():
        a, b = clean(input_features=features), clean(input_features=padded, attention_mask=mask)
        c, d = leaky(input_features=features), leaky(input_features=padded, attention_mask=mask)
    keep = b.masks[0]
    torch.testing.assert_close(a.cls_logits[0], b.cls_logits[0][keep])  # momentzoo: padding changes nothing
    assert c.cls_logits.shape == d.cls_logits.shape == b.cls_logits.shape  # padded to max_seq_len = 64 by itself
    torch.testing.assert_close(c.cls_logits, d.cls_logits)
    assert (c.cls_logits[0][keep] - b.cls_logits[0][keep]).abs().max() > 1e-3  # the official leak
    assert leaky.config.official_padding_multiple == 8 * (5 // 2) * 2
    longer = torch.randn(1, 70, 12)  # over max_seq_len: the next multiple of max_div_factor (32)
    with torch.no_grad():
        assert leaky(input_features=longer).masks.shape[1] == sum(-(-96 // s) for s in (1, 2, 4, 8))
