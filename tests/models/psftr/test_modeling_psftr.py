"""PSFTR: config defaults and validation, the SSAE / SGQG / SPDE equations on small tensors, the text side (prompt,
CLIP embeddings, cache), open-vocabulary inference, padding invariance, losses and post-processing."""

import math

import pytest
import torch
import torch.nn.functional as F
from common_model_tests import ModelTesterMixin, one_thread  # noqa: F401 (autouse fixture)
from transformers import AutoModel

import momentzoo  # noqa: F401  (registers psftr)
from momentzoo.models.psftr import PSFTRConfig, PSFTRModel, format_class_prompt
from momentzoo.models.psftr.modeling_psftr import sine_position_embedding
from momentzoo.segments import center_width_to_start_end, feature_grid_to_seconds
from momentzoo.testing import tiny_clip
from momentzoo.testing.psftr import tiny_psftr_config


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A tiny CLIP (text + vision) and its tokenizer saved as a checkpoint folder."""
    torch.manual_seed(0)
    model, tokenizer = tiny_clip()
    folder = tmp_path_factory.mktemp("tiny_clip")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def small_model(clip_dir, **overrides) -> PSFTRModel:
    torch.manual_seed(0)
    kwargs = {
        k: v
        for k, v in tiny_psftr_config().to_dict().items()
        if k
        in (
            "hidden_size",
            "num_attention_heads",
            "ffn_dim",
            "dropout",
            "num_encoder_layers",
            "num_decoder_layers",
            "num_queries",
            "encoder_num_points",
            "decoder_num_points",
            "roi_size",
            "id2label",
        )
    }
    kwargs.update(overrides)
    return PSFTRModel.from_backbones(str(clip_dir), **kwargs).eval()


# ------------------------------------------------------------------------------------------ common tests
class TestPSFTRCommon(ModelTesterMixin):
    model_type = "psftr"
    non_default_config_kwargs = {
        "num_queries": 5,
        "prompt_template": "a video of {label}",
        "nms_method": "hard",
        "saliency_loss_coefficient": 2.0,
        "num_decoder_layers": 3,
    }
    invalid_config_kwargs = [
        ({"num_queries": 0}, "num_queries"),
        ({"prompt_template": "x"}, "prompt_template"),
        ({"input_dim": 17}, "input_dim"),
        ({"focal_alpha": 2.0}, "focal_alpha"),
    ]

    def make_inputs(self, model, lengths):
        # a video's features and labels depend on its length only, so it is the same video alone or in a batch
        features = torch.zeros(len(lengths), max(lengths), model.config.input_dim)
        mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        labels = []
        for i, length in enumerate(lengths):
            generator = torch.Generator().manual_seed(length)
            features[i, :length] = torch.randn(length, model.config.input_dim, generator=generator)
            mask[i, :length] = 1
            labels.append(
                {
                    "class_labels": torch.tensor([length % 3, (length + 1) % 3]),
                    "segments": torch.tensor([[0.5, length / 3], [length / 2, length - 1.5]]),
                }
            )
        generator = torch.Generator().manual_seed(0)
        text = torch.randn(model.config.num_classes, model.config.text_embed_dim, generator=generator)
        return {"input_features": features, "attention_mask": mask, "text_embeds": text, "labels": labels}

    def real_step_outputs(self, outputs, index, length):
        return {
            "logits": outputs.logits[index],
            "pred_segments": outputs.pred_segments[index],
            "actionness_logits": outputs.actionness_logits[index],
            "saliency_logits": outputs.saliency_logits[index, :length],
        }


# -------------------------------------------------------------------------------------------------- config
def test_config_defaults_are_the_papers():
    config = PSFTRConfig()
    assert (config.num_encoder_layers, config.num_decoder_layers, config.num_queries) == (2, 5, 40)
    assert (config.num_attention_heads, config.hidden_size, config.input_dim) == (8, 512, 512)
    assert (
        config.class_loss_coefficient,
        config.l1_loss_coefficient,
        config.iou_loss_coefficient,
        config.actionness_loss_coefficient,
        config.saliency_loss_coefficient,
    ) == (2, 5, 2, 3, 3)
    assert (config.focal_alpha, config.focal_gamma, config.roi_size) == (0.25, 2.0, 16)
    assert (config.slice_size, config.train_slice_overlap, config.inference_slice_overlap) == (128, 0.75, 0.25)
    assert config.prompt_template == "a video of a person doing {label}"
    assert config.text_model_name_or_path is None  # set by from_backbones to the checkpoint it loaded
    text = config.text_config
    assert (text.model_type, text.hidden_size, text.num_hidden_layers, text.projection_dim) == (
        "clip_text_model",
        512,
        12,
        512,
    )
    assert config.num_classes == 20 and config.id2label[0] == "BaseballPitch"
    again = PSFTRConfig.from_dict(config.to_dict())
    assert again.text_config.to_dict() == text.to_dict()


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("input_dim", 768, "text_config.projection_dim = 512"),
        ("prompt_template", "a video of a person", "exactly one '{label}'"),
        ("prompt_template", "{label} in {place}", "only field is '{label}'"),
        ("num_attention_heads", 7, "a divisor of hidden_size"),
        ("num_queries", 0, "num_queries must be an integer >= 1"),
        ("nms_method", "greedy", "nms_method must be one of"),
        ("train_slice_overlap", 1.0, "train_slice_overlap must be in"),
        ("text_config", {"model_type": "bert"}, "model_type'] must be one of"),
        ("text_max_length", 100, "max_position_embeddings = 77"),
        ("freeze_text_encoder", "yes", "True or False"),
    ],
)
def test_config_rejects_bad_fields_by_name(field, value, match):
    with pytest.raises(ValueError, match=match):
        PSFTRConfig(**{field: value})


def test_prompt_formatting():
    assert (
        format_class_prompt("CleanAndJerk", "a video of a person doing {label}")
        == "a video of a person doing clean and jerk"
    )
    assert format_class_prompt("open door", "a video of {label}") == "a video of open door"
    assert format_class_prompt("pick_up  cup", "{label}") == "pick up cup"
    assert format_class_prompt("CleanAndJerk", "{label}", split_camel_case=False) == "CleanAndJerk"


# ------------------------------------------------------------------------------------------- equations
def test_encoder_layer_follows_the_ssae_equations():
    model = PSFTRModel(tiny_psftr_config()).eval()
    layer = model.encoder.layers[0]
    visual, text = torch.randn(2, 7, 32), torch.randn(2, 3, 32)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False
    position = sine_position_embedding(mask, 32)
    reference = ((torch.arange(7.0)[None] + 0.5) / mask.sum(1, keepdim=True))[..., None]
    with torch.no_grad():
        f_hat, t_hat = layer(visual, text, position, reference, mask)
        mha = lambda attn, q, k, v, m=None: attn(q, k, v, key_padding_mask=m, need_weights=False)[0]  # noqa: E731
        f_tilde = layer.visual_self_norm(visual + layer.visual_self_attn(visual + position, reference, visual, mask))
        t_tilde = layer.text_self_norm(text + mha(layer.text_self_attn, text, text, text))
        f_a = mha(layer.visual_cross_attn, f_tilde, t_tilde, t_tilde)
        t_a = mha(layer.text_cross_attn, t_tilde, f_tilde, f_tilde, ~mask)
        ffn = lambda m, x: m.norm(x + m.fc2(m.activation(m.fc1(x))))  # noqa: E731  FFN(x) = LN(x + MLP(x))
        torch.testing.assert_close(f_hat, ffn(layer.visual_ffn, layer.visual_cross_norm(f_a + f_tilde)))
        torch.testing.assert_close(t_hat, ffn(layer.text_ffn, layer.text_cross_norm(t_a + t_tilde)))
        # T_A attends to frames only: the padded frames of video 1 do not matter
        altered = visual.clone()
        altered[1, 5:] = 100.0
        torch.testing.assert_close(layer(altered, text, position, reference, mask)[1][1], t_hat[1])


def test_decoder_layer_follows_the_sgqg_equations_and_refines_segments():
    model = PSFTRModel(tiny_psftr_config()).eval()
    layer, decoder = model.decoder.layers[0], model.decoder
    query, position = torch.randn(2, 8, 32), torch.randn(2, 8, 32)
    segments = torch.rand(2, 8, 2) * 0.5 + 0.25
    visual, text = torch.randn(2, 9, 32), torch.randn(2, 3, 32)
    mask = torch.ones(2, 9, dtype=torch.bool)
    with torch.no_grad():
        got = layer(query, position, segments, visual, text, mask)
        mha = lambda attn, q, k, v: attn(q, k, v, need_weights=False)[0]  # noqa: E731
        ffn = lambda m, x: m.norm(x + m.fc2(m.activation(m.fc1(x))))  # noqa: E731
        q_bar = layer.self_norm(query + mha(layer.self_attn, query + position, query + position, query))
        q_a = mha(layer.text_cross_attn, q_bar + position, text, text)
        q_tilde = ffn(layer.text_ffn, layer.text_cross_norm(q_a + q_bar))
        q_tilde_a = layer.visual_cross_attn(q_tilde + position, segments, visual, mask)
        torch.testing.assert_close(got, ffn(layer.visual_ffn, layer.visual_cross_norm(q_tilde_a + q_tilde)))

        # the stack: initial segments from the query positions, refined in logit space layer by layer
        for head in decoder.segment_heads:
            head.layers[-1].weight.normal_(0, 0.1)
        hidden, refined = decoder(visual, text, mask)
        pos, content = decoder.query_embed.weight.split(32, dim=-1)
        reference = decoder.reference_points(pos).sigmoid().expand(2, -1, -1)
        first = decoder.layers[0](content.expand(2, -1, -1), pos.expand(2, -1, -1), reference, visual, text, mask)
        expected = torch.sigmoid(torch.logit(reference) + decoder.segment_heads[0](first))
        torch.testing.assert_close(refined[0], expected, atol=1e-5, rtol=1e-4)
        second = decoder.layers[1](first, pos.expand(2, -1, -1), expected, visual, text, mask)
        torch.testing.assert_close(
            refined[1], torch.sigmoid(torch.logit(expected) + decoder.segment_heads[1](second)), atol=1e-5, rtol=1e-4
        )


def test_spde_prototypes_and_class_scores_on_small_tensors():
    model = PSFTRModel(tiny_psftr_config()).eval()
    spde = model.classifier
    frames = F.normalize(torch.randn(2, 5, 16), dim=-1)
    text = F.normalize(torch.randn(3, 16), dim=-1)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    queries = torch.randn(2, 4, 32)
    with torch.no_grad():
        prototypes = spde.prototypes(frames, text, mask)
        for b in range(2):
            n = int(mask[b].sum())
            v = frames[b, :n]
            # V̂ = softmax(s T Vᵀ) V over the real frames
            torch.testing.assert_close(prototypes[b], torch.softmax(spde.prototype_scale * text @ v.T, dim=-1) @ v)
        logits = spde(queries, frames, text, mask)
        q_cls = queries + spde.prototype_proj(prototypes.mean(dim=1))[:, None]  # Q̂ + Linear(MeanPool(V̂))
        expected = spde.logit_scale.exp() * F.normalize(spde.query_proj(q_cls), dim=-1) @ text.T
        torch.testing.assert_close(logits, expected)
    assert math.isclose(spde.logit_scale.exp().item(), 1 / 0.07, rel_tol=1e-5)


# ---------------------------------------------------------------------------------------------- text side
def test_class_embeddings_are_clips_prompted_text_embeddings_and_are_cached(clip_dir):
    model = small_model(clip_dir)
    clip, tokenizer = tiny_clip()
    clip = type(clip).from_pretrained(clip_dir).eval()
    names = ["open door", "throw ball", "CleanAndJerk"]
    embeds = model.embed_class_names(names)
    assert embeds.shape == (3, 16) and not embeds.requires_grad
    for i, name in enumerate(names):
        prompt = format_class_prompt(name, "a video of a person doing {label}")
        ids = tokenizer(prompt)["input_ids"] + [tokenizer.eos_token_id]
        with torch.no_grad():  # CLIP's text tower, pooled at the end-of-text token, then projected
            hidden = clip.text_model(input_ids=torch.tensor([ids])).last_hidden_state
            reference = clip.text_projection(hidden[:, -1])
        torch.testing.assert_close(embeds[i], F.normalize(reference, dim=-1)[0], atol=1e-5, rtol=1e-4)
    assert len(set(map(tuple, embeds.round(decimals=4).tolist()))) == 3  # the names are told apart

    assert model.embed_class_names(names) is embeds  # computed once per class set
    assert model.embed_class_names(names[:2]) is not embeds
    with torch.no_grad():  # a change of the text weights invalidates the cache
        model.text_model.text_projection.weight.mul_(2.0)
    changed = model.embed_class_names(names)
    assert changed is not embeds
    model.config.prompt_template = "a video of {label}"
    assert not torch.allclose(model.embed_class_names(names), changed)


def test_text_encoder_is_frozen_and_tokenizer_travels_with_the_checkpoint(clip_dir, tmp_path):
    model = small_model(clip_dir)
    assert not any(p.requires_grad for p in model.text_model.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters() if not n.startswith("text_model."))
    names = ["wave hand", "pour water"]
    expected = model.embed_class_names(names)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file() and (tmp_path / "README.md").is_file()
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, PSFTRModel) and loaded.text_tokenizer is not None
    torch.testing.assert_close(loaded.embed_class_names(names), expected)

    bare = PSFTRModel(tiny_psftr_config())
    with pytest.raises(ValueError, match="no text tokenizer"):
        bare(torch.randn(1, 8, 16))


# ----------------------------------------------------------------------------------- open-vocabulary use
def _detections(predictions):
    return sorted(
        (round(p["segment"][0], 4), round(p["segment"][1], 4), p["label"], round(p["score"], 5)) for p in predictions
    )


def test_changing_only_the_class_names_changes_the_predicted_labels_accordingly(clip_dir):
    # The query logits' softmax keeps every class above min_score on random features; the default RoI-text softmax
    # (CLIP's scale 100) is nearly one-hot there (its open-vocabulary test is in test_psftr_paper_recipe.py).
    model = small_model(clip_dir, inference_classification="query")
    features = torch.randn(1, 24, 16)
    meta = [{"video_id": "v", "duration": 30.0, "fps": 10.0, "feature_stride": 10, "num_frames": 10}]

    def predict(names):
        with torch.no_grad():
            out = model(features, class_names=names)
        return model.post_process(out, meta, class_names=names, label_names=True)[0]

    base = predict(["open door", "throw ball", "wash dishes"])
    assert {p["label"] for p in base} <= {"open door", "throw ball", "wash dishes"} and base
    # the same classes in another order: the same detections, each with the same class name
    assert _detections(predict(["wash dishes", "open door", "throw ball"])) == _detections(base)
    # one class renamed: its detections now carry the new name, the others' labels are untouched names
    renamed = predict(["open door", "throw ball", "read book"])
    assert "read book" in {p["label"] for p in renamed} and "wash dishes" not in {p["label"] for p in renamed}
    assert _detections(renamed) != _detections(base)
    # precomputed text embeddings are the same thing as class names
    names = ["open door", "throw ball", "wash dishes"]
    with torch.no_grad():
        by_embeds = model(features, text_embeds=model.embed_class_names(names))
        by_names = model(features, class_names=names)
    torch.testing.assert_close(by_embeds.logits, by_names.logits, atol=1e-4, rtol=1e-4)


def test_padding_does_not_change_the_outputs(clip_dir):
    model = small_model(clip_dir)
    long_video, short_video = torch.randn(1, 20, 16), torch.randn(1, 13, 16)
    batch = torch.zeros(2, 20, 16)
    batch[0], batch[1, :13] = long_video[0], short_video[0]
    batch[1, 13:] = 7.0  # garbage in the padding must not leak
    mask = torch.ones(2, 20, dtype=torch.long)
    mask[1, 13:] = 0
    with torch.no_grad():
        together = model(batch, attention_mask=mask)
        alone = model(short_video)
    for key in ("logits", "pred_segments", "actionness_logits", "intermediate_segments"):
        torch.testing.assert_close(
            together[key][..., 1:2, :, :] if key.startswith("intermediate") else together[key][1:],
            alone[key],
            atol=1e-5,
            rtol=1e-4,
        )
    torch.testing.assert_close(together.saliency_logits[1:, :13], alone.saliency_logits, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------------------ losses
def test_loss_is_the_weighted_sum_and_reaches_every_trainable_parameter(clip_dir):
    model = small_model(clip_dir, auxiliary_loss=False).train()
    features = torch.randn(2, 16, 16)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 12:] = 0
    labels = [
        {"class_labels": torch.tensor([0, 2]), "segments": torch.tensor([[1.5, 5.5], [8.5, 14.5]])},
        {"class_labels": torch.tensor([1]), "segments": torch.tensor([[2.5, 9.5]])},
    ]
    out = model(features, attention_mask=mask, labels=labels)
    c = model.config
    expected = (
        c.class_loss_coefficient * out.class_loss
        + c.l1_loss_coefficient * out.l1_loss
        + c.iou_loss_coefficient * out.iou_loss
        + c.actionness_loss_coefficient * out.actionness_loss
        + c.saliency_loss_coefficient * out.saliency_loss
    )
    torch.testing.assert_close(out.loss, expected)

    with_aux = small_model(clip_dir, auxiliary_loss=True).train()
    out_aux = with_aux(features, attention_mask=mask, labels=labels)
    assert out_aux.loss > expected.detach()  # the first decoder layer's terms are added
    out_aux.loss.backward()
    for name, param in with_aux.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{name} gets no gradient"
        else:
            assert name.startswith("text_model.") and param.grad is None
    with pytest.raises(ValueError, match=r"labels\[0\]\['class_labels'\] must be ids of the 3 candidate"):
        model(features, labels=[{"class_labels": torch.tensor([3]), "segments": torch.tensor([[1.0, 2.0]])}] * 2)
    with pytest.raises(ValueError, match="ends before it starts"):
        model(features, labels=[{"class_labels": torch.tensor([0]), "segments": torch.tensor([[4.0, 2.0]])}] * 2)


# ------------------------------------------------------------------------------------------ post-processing
def test_post_process_decodes_seconds_of_the_whole_video(clip_dir):
    model = small_model(clip_dir, num_queries=2, nms_method="none", inference_classification="query")
    names = model.config.class_names
    # window of 20 real steps (padded to 24) starting at step 40 of the video
    logits = torch.tensor([[[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]]])
    segments = torch.tensor([[[0.5, 0.5], [0.25, 0.1]]])  # normalised (center, width)
    outputs = {
        "logits": logits,
        "pred_segments": segments,
        "actionness_logits": torch.tensor([[2.0, -1.0]]),
        "window_lengths": torch.tensor([20]),
    }
    meta = [
        {"video_id": "v", "duration": 100.0, "fps": 30.0, "feature_stride": 4, "num_frames": 16, "window_start": 40}
    ]
    preds = model.post_process(outputs, meta)[0]
    probs = logits[0].softmax(-1) * torch.tensor([2.0, -1.0]).sigmoid()[:, None]
    assert preds[0]["label"] == 0 and preds[0]["score"] == pytest.approx(float(probs[0, 0]), rel=1e-5)
    steps = center_width_to_start_end(segments[0, 0]) * 20 - 0.5 + 40  # [44.5, 54.5]
    assert preds[0]["segment"] == pytest.approx(feature_grid_to_seconds(steps, 30.0, 4, 16).tolist(), rel=1e-5)
    assert [p["score"] for p in preds] == sorted((p["score"] for p in preds), reverse=True)
    assert len(preds) == 6  # every (query, class) pair above min_score
    named = model.post_process(outputs, meta, label_names=True)[0]
    assert named[0]["label"] == names[0]
    with pytest.raises(ValueError, match="score 3 classes but 2 class names"):
        model.post_process(outputs, meta, class_names=["a", "b"])
    with pytest.raises(ValueError, match="class_names has duplicates"):
        model.post_process(outputs, meta, class_names=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"metadata\[0\] must be a dict with at least 'duration'"):
        model.post_process(outputs, [{"video_id": "v"}])


def test_model_card_has_the_protocol_and_the_papers_zero_shot_table(clip_dir, tmp_path):
    from momentzoo.hub import render_model_card

    model = small_model(clip_dir)
    model.save_pretrained(tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert "zero-shot temporal action localization" in card and "V̂ = softmax(T Vᵀ) V" in card
    assert "| THUMOS14 | 75% / 25% | 0.3:0.1:0.7 | 28.99 |" in card
    assert "| ActivityNet-1.3 | 75% / 25% | 0.5:0.05:0.95 | 29.91 |" in card
    assert "candidate_labels=" in card and "openreview.net/forum?id=at3UEJzCRc" in card
    assert "base_model" not in card.split("---")[1]  # a local text encoder is not named as a Hub base model
    model.config.text_model_name_or_path = "openai/clip-vit-base-patch16"
    card = str(render_model_card(model, **model.model_card_kwargs()))
    assert (
        "base_model:\n- openai/clip-vit-base-patch16" in card
        and "Text encoder:** [openai/clip-vit-base-patch16]" in card
    )


def test_the_tal_pipeline_runs_a_psftr_checkpoint_on_candidate_labels(clip_dir, tmp_path):
    from transformers import pipeline

    model = small_model(clip_dir, slice_size=16)
    model.save_pretrained(tmp_path)
    detector = pipeline("temporal-action-localization", model=str(tmp_path))
    features = torch.randn(40, 16).numpy()  # 40 steps: three 16-step windows
    labels = ["juggle balls", "ride a bike"]
    found = detector(features, fps=10.0, feature_stride=10, num_frames=10, candidate_labels=labels)
    assert found and {d["label"] for d in found} <= set(labels)
    assert all(0 <= d["segment"][0] < d["segment"][1] <= 40.0 for d in found)
    # a one-window video: exactly what the model gives when called directly with the same names
    short = features[:16]
    found = detector(short, fps=10.0, feature_stride=10, num_frames=10, candidate_labels=labels)
    meta = [{"video_id": "v", "duration": 16.0, "fps": 10.0, "feature_stride": 10, "num_frames": 10}]
    with torch.no_grad():
        direct = model.post_process(
            model(torch.from_numpy(short[None]), class_names=labels), meta, class_names=labels, label_names=True
        )[0]
    assert [d["label"] for d in found] == [d["label"] for d in direct]
    # rel 1e-4: the RoI-text softmax (CLIP's scale 100) magnifies float rounding in the tiny scores' last digits
    assert [d["score"] for d in found] == pytest.approx([d["score"] for d in direct], rel=1e-4)
