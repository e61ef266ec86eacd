"""PSFTR's paper recipe on small tensors: §3.7.1 inference classification, the query actionness head, Eq. 5 taken
literally, the ablation switches of Tables 2-3, and the ActivityNet slicing of the example config."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)

import momentzoo  # noqa: F401  (registers psftr)
from momentzoo.layers.roi_align import roi_align_1d
from momentzoo.models.psftr import PSFTRConfig, PSFTRModel
from momentzoo.models.psftr.modeling_psftr import PSFTRPrototypeClassifier, interval_class_logits
from momentzoo.testing.psftr import tiny_psftr_config

REPO = Path(__file__).resolve().parents[3]


def test_defaults_are_the_papers():
    config = PSFTRConfig()
    assert (config.prototype_logit_scale, config.prototype_normalize) == (1.0, False)  # Eq. 5, literally
    assert config.actionness_head == "query" and config.inference_classification == "roi"
    assert config.text_to_vision and config.vision_to_text and config.text_to_query and config.spde == "prototype"
    assert (config.slice_size, config.train_slice_overlap, config.inference_slice_overlap) == (128, 0.75, 0.25)
    for field, bad in (
        ("actionness_head", "mlp"),
        ("inference_classification", "text"),
        ("spde", "mean"),
        ("text_to_query", 1),
        ("prototype_normalize", "yes"),
        ("roi_class_logit_scale", 0.0),
    ):
        with pytest.raises(ValueError, match=field):
            PSFTRConfig(**{field: bad})


def test_eq5_prototypes_literal_and_configured():
    config = tiny_psftr_config()
    frames = torch.randn(2, 5, 16) * 3
    text = F.normalize(torch.randn(3, 16), dim=-1)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    literal = PSFTRPrototypeClassifier(config).prototypes(frames, text, mask)
    for b in range(2):
        v = frames[b, mask[b]]
        assert torch.allclose(literal[b], (text @ v.t()).softmax(-1) @ v, atol=1e-5)  # softmax(T Vᵀ) V
    scaled = PSFTRPrototypeClassifier(tiny_psftr_config(prototype_normalize=True, prototype_logit_scale=100.0))
    v = F.normalize(frames[0], dim=-1)
    assert torch.allclose(scaled.prototypes(frames, text, mask)[0], (100 * text @ v.t()).softmax(-1) @ v, atol=1e-5)


def test_interval_class_logits_score_the_interval_features_against_the_texts():
    text = torch.eye(4)[:3]  # three unit class texts
    features = torch.zeros(1, 10, 4)
    features[0, :5] = text[0] * 2  # steps 0-4 look like class 0, steps 5-9 like class 2
    features[0, 5:] = text[2] + 0.1 * text[1]
    segments = torch.tensor([[[0.25, 0.5], [0.75, 0.5], [0.5, 1.0]]])  # (center, width) of [0, 5), [5, 10), all
    logits = interval_class_logits(features, segments, torch.tensor([10]), text, 4, 2, 100.0)
    assert logits.shape == (1, 3, 3) and logits[0].argmax(-1).tolist()[:2] == [0, 2]
    # the definition: RoI-aligned normalised features, mean-pooled, normalised, cosine x scale
    rois = torch.tensor([[0.0, -0.5, 4.5], [0.0, 4.5, 9.5], [0.0, -0.5, 9.5]])
    pooled = F.normalize(
        roi_align_1d(F.normalize(features, dim=-1), rois, 4, 2, lengths=torch.tensor([10])).mean(1), dim=-1
    )
    assert torch.allclose(logits[0], 100 * pooled @ text.t(), atol=1e-4)


def _model(**overrides) -> PSFTRModel:
    torch.manual_seed(0)
    return PSFTRModel(tiny_psftr_config(**overrides)).eval()


def test_post_process_classifies_with_the_roi_logits_by_default():
    model = _model(nms_method="none", num_queries=2)
    outputs = {
        "logits": torch.tensor([[[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]]]),
        "roi_logits": torch.tensor([[[0.0, 5.0, 0.0], [0.0, 5.0, 0.0]]]),
        "pred_segments": torch.tensor([[[0.5, 0.5], [0.25, 0.1]]]),
        "actionness_logits": torch.tensor([[2.0, -1.0]]),
        "window_lengths": torch.tensor([20]),
    }
    meta = [{"duration": 100.0, "fps": 30.0, "feature_stride": 4, "num_frames": 16}]
    roi = model.post_process(outputs, meta)[0]
    expected = outputs["roi_logits"][0, 0].softmax(-1)[1] * torch.tensor(2.0).sigmoid()
    assert roi[0]["label"] == 1 and roi[0]["score"] == pytest.approx(float(expected), rel=1e-5)
    model.config.inference_classification = "roi_and_query"
    both = model.post_process(outputs, meta)[0]
    mean = 0.5 * (outputs["roi_logits"][0, 0].softmax(-1) + outputs["logits"][0, 0].softmax(-1))
    assert both[0]["score"] == pytest.approx(float(mean.max() * torch.tensor(2.0).sigmoid()), rel=1e-5)
    model.config.inference_classification = "query"
    assert model.post_process(outputs, meta)[0][0]["label"] == 0
    model.config.inference_classification = "roi"
    with pytest.raises(ValueError, match="roi_logits"):
        model.post_process({k: v for k, v in outputs.items() if k != "roi_logits"}, meta)


def test_forward_gives_the_roi_logits_of_its_segments():
    model = _model()
    inputs = model.dummy_inputs
    out = model(**inputs)
    text = F.normalize(inputs["text_embeds"].float(), dim=-1)
    mask = inputs["attention_mask"].bool()
    expected = interval_class_logits(
        inputs["input_features"] * mask[..., None],
        out.pred_segments,
        mask.sum(1),
        text,
        model.config.roi_size,
        model.config.roi_sampling_ratio,
        100.0,
    )
    assert torch.allclose(out.roi_logits, expected, atol=1e-5)
    assert _model(inference_classification="query")(**inputs).roi_logits is None
    assert _model().train()(**inputs).roi_logits is None  # inference only: training never pays for it


def test_roi_classification_names_the_class_whose_text_the_frames_match(tmp_path):
    """Open vocabulary with §3.7.1: frames that are a class's CLIP text embedding are detected as that class,
    whatever other names stand beside it."""
    from momentzoo.testing import tiny_clip

    clip, tokenizer = tiny_clip()
    clip.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    torch.manual_seed(0)
    model = PSFTRModel.from_backbones(
        str(tmp_path),
        **{
            k: v
            for k, v in tiny_psftr_config().to_dict().items()
            if k
            in (
                "hidden_size",
                "num_attention_heads",
                "ffn_dim",
                "num_encoder_layers",
                "num_decoder_layers",
                "num_queries",
                "roi_size",
                "id2label",
            )
        },
    ).eval()
    meta = [{"duration": 24.0, "fps": 1.0, "feature_stride": 1, "num_frames": 1}]
    for names in (["open door", "read book", "throw ball"], ["read book", "wash dishes"]):
        features = model.embed_class_names(["read book"]).expand(24, -1)[None] + 0.01 * torch.randn(1, 24, 16)
        with torch.no_grad():
            detections = model.post_process(
                model(features, class_names=names), meta, class_names=names, label_names=True
            )[0]
        assert detections[0]["label"] == "read book"


def test_actionness_is_a_linear_layer_on_the_query():
    model = _model()
    head = model.actionness_head
    queries = torch.randn(2, 8, model.config.hidden_size)
    out = head(queries, torch.rand(2, 8, 2), torch.randn(2, 12, model.config.hidden_size), torch.tensor([12, 8]))
    assert torch.allclose(out, queries @ head.linear.weight[0] + head.linear.bias, atol=1e-6)
    assert [name for name, _ in head.named_parameters()] == ["linear.weight", "linear.bias"]
    assert torch.allclose(head.linear.bias, torch.tensor([-torch.log(torch.tensor(99.0))]))  # focal prior 0.01
    roi = _model(actionness_head="roi").actionness_head
    assert roi.linear is None and roi.roi_proj is not None


@pytest.mark.parametrize(
    "switch", [{"text_to_vision": False}, {"vision_to_text": False}, {"text_to_query": False}, {"spde": "none"}]
)
def test_ablation_switches_remove_their_fusion_and_still_train(switch):
    model = _model(**switch).train()
    names = {name for name, _ in model.named_parameters()}
    removed = {
        "text_to_vision": "encoder.layers.0.visual_cross_attn.",
        "vision_to_text": "encoder.layers.0.text_cross_attn.",
        "text_to_query": "decoder.layers.0.text_cross_attn.",
        "spde": "classifier.prototype_proj.",
    }[next(iter(switch))]
    assert not any(name.startswith(removed) for name in names)
    assert any(name.startswith(removed) for name, _ in _model().named_parameters())
    inputs = model.dummy_inputs
    labels = [
        {"class_labels": torch.tensor([1]), "segments": torch.tensor([[2.0, 6.0]])},
        {"class_labels": torch.tensor([0]), "segments": torch.tensor([[1.0, 3.0]])},
    ]
    loss = model(**inputs, labels=labels).loss
    loss.backward()
    assert torch.isfinite(loss)
    # Without text -> query nothing reads the encoder's last text update (T̂ feeds only the decoder's queries).
    dead = "encoder.layers.0.text_" if "text_to_query" in switch else None
    trainable = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and not n.startswith("text_model.") and not (dead and n.startswith(dead))
    ]
    assert all(model.get_parameter(n).grad is not None for n in trainable)


def test_saliency_head_is_the_base_codes_conv_stack():
    model = _model()
    head = model.saliency_head
    visual = torch.randn(2, 6, model.config.hidden_size)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    x = visual * mask[..., None]
    hidden = F.leaky_relu(F.conv1d(x.transpose(1, 2), head.conv.weight, head.conv.bias, padding=1), 0.2)
    hidden = hidden * mask[:, None]
    expected = F.conv1d(hidden, head.out.weight, head.out.bias).squeeze(1)
    assert torch.allclose(head(visual, mask)[mask], expected[mask], atol=1e-5)
    assert _model(saliency_head="linear").saliency_head.conv is None


def test_matching_class_cost_is_the_focal_cost():
    from momentzoo.layers.matcher import matching_cost_matrices

    p = torch.tensor([[[0.9, 0.2], [0.3, 0.6]]])
    targets = [{"class_labels": torch.tensor([1]), "segments": torch.tensor([[0.5, 0.2]])}]
    segments = torch.tensor([[[0.5, 0.2], [0.5, 0.2]]])
    cost = matching_cost_matrices(
        p, segments, targets, class_cost=1.0, l1_cost=0.0, iou_cost=0.0, class_cost_type="focal"
    )[0]
    q = p[0, :, 1]
    focal = 0.25 * (1 - q) ** 2 * -torch.log(q) - 0.75 * q**2 * -torch.log(1 - q)
    assert torch.allclose(cost[:, 0], focal, atol=1e-6)
    assert cost[1, 0] < cost[0, 0]  # the query more confident in the target class is cheaper
    assert PSFTRConfig().matcher_class_cost_type == "focal"
    assert _model().matcher.class_cost_type == "focal"


def test_activitynet_config_slices_128_steps_with_the_papers_overlaps():
    config = yaml.safe_load((REPO / "examples" / "configs" / "psftr_activitynet.yaml").read_text())
    assert "resize_length" not in config["dataset_kwargs"]  # whole videos in 128-step slices, not resized to 128
    assert config["slice_size"] == 128
    assert config.get("train_slice_overlap", 0.75) == 0.75 and config.get("inference_slice_overlap", 0.25) == 0.25


def test_saliency_loss_options():
    from momentzoo.layers.losses import sigmoid_focal_loss

    labels = [
        {"class_labels": torch.tensor([1]), "segments": torch.tensor([[2.0, 5.0]])},
        {"class_labels": torch.tensor([0]), "segments": torch.tensor([[1.0, 3.0]])},
    ]
    for kind in ("bce", "focal"):
        model = _model(saliency_loss=kind)
        inputs = model.dummy_inputs
        out = model(**inputs, labels=labels)
        mask = inputs["attention_mask"].bool()
        steps = torch.arange(mask.shape[1], dtype=torch.float32)
        target = torch.stack([((steps >= 2) & (steps <= 5)).float(), ((steps >= 1) & (steps <= 3)).float()])
        logits = out.saliency_logits.float()
        if kind == "bce":
            expected = F.binary_cross_entropy_with_logits(logits[mask], target[mask])
        else:  # the base code's: focal BCE on real steps, mean over each window's steps, summed, per ground truth
            expected = (sigmoid_focal_loss(logits, target, 0.25, 2.0) * mask).mean(1).sum() / 2
        assert torch.allclose(out.saliency_loss, expected, atol=1e-6)
