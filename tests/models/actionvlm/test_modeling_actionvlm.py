"""ActionVLM: the paper's equations on small tensors, the token layout fed to the LM, the vision-only path, the
advantage targets, padding invariance, real-backbone loading (tiny Qwen2 / VideoMAE saved to disk), save/load, and
training with LanguageAdvantageTrainer's alternating epochs on the synthetic set.

(The registry-wide checks of tests/test_registration.py also run on ActionVLM's tiny config.)"""

import math

import pytest
import torch
import torch.nn.functional as F
from common_model_tests import ModelTesterMixin, one_thread  # noqa: F401 (autouse fixture: one torch thread)
from transformers import AutoModel, TrainerCallback

import momentzoo
from momentzoo.data import TemporalLocalizationCollator, make_synthetic_tal_dataset, synthetic_tal_metadata
from momentzoo.models.actionvlm import (
    ACTIONVLM_PRESETS,
    ActionVLMConfig,
    ActionVLMForTemporalLocalization,
    format_action_prompt,
    format_proposal_answer,
    language_advantage_weight,
)
from momentzoo.models.actionvlm.processing_actionvlm import RANKED_LIST_ACTION_TEMPLATE, RANKED_LIST_PROMPT_TEMPLATE
from momentzoo.testing import tiny_qwen2, tiny_tokenizer, tiny_videomae
from momentzoo.testing.actionvlm import TINY_ACTIONVLM_HEAD, tiny_actionvlm_config
from momentzoo.training.actionvlm import LanguageAdvantageTrainer, LanguageAdvantageTrainingArguments
from momentzoo.training.actionvlm.modality_bias import derange_descriptions, evaluate_modality_bias

SPECIAL = ("[cls]", "[loc]", "[adv]")
# The tiny ActionFormer head (less its input width, which each test sets) with small LoRA and NMS settings, for the
# models built from backbones here.
HEAD = TINY_ACTIONVLM_HEAD | dict(
    lora_rank=4,
    lora_alpha=8,
    lora_dropout=0.0,
    pre_nms_topk=200,
    max_segments=100,
)


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer(extra_tokens=SPECIAL)


def tiny_model(tokenizer, **overrides) -> ActionVLMForTemporalLocalization:
    torch.manual_seed(0)
    model = ActionVLMForTemporalLocalization(tiny_actionvlm_config(tokenizer=tokenizer, **overrides))
    model.set_tokenizer(tokenizer)
    return model.eval()


def batch(length=24, dim=12, pad=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(2, length, dim, generator=generator)
    mask = torch.ones(2, length, dtype=torch.long)
    mask[1, length - pad :] = 0
    features[1, length - pad :] = 0
    labels = [
        {"class_labels": torch.tensor([0, 2]), "segments": torch.tensor([[2.0, 9.0], [12.0, 20.0]])},
        {"class_labels": torch.tensor([1]), "segments": torch.tensor([[4.0, 11.0]])},
    ]
    return features, mask, labels


class TestActionVLMCommon(ModelTesterMixin):
    model_type = "actionvlm"
    lengths = (40, 29)  # long enough for an action on every pyramid level
    padding_atol = 1e-4
    non_default_config_kwargs = {
        "special_token_layout": "interleaved",
        "prompt_position": "before_visual",
        "text_loss_weight": 0.5,
        "advantage_loss_weight": 0.2,
        "proposal_order": "length",
        "lora_rank": 8,
        "image_mean": [0.485, 0.456, 0.406],
    }
    invalid_config_kwargs = [
        ({"special_token_layout": "mixed"}, "special_token_layout"),
        ({"language_tuning": "qlora"}, "language_tuning"),
        ({"advantage_loss_weight": -0.1}, "advantage_loss_weight"),
        ({"image_mean": [0.5, 0.5]}, "image_mean"),
        ({"image_std": [0.2, 0.0, 0.2]}, "image_std"),
        ({"class_descriptions": ["only one"]}, "class_descriptions"),
    ]

    def get_config(self, **overrides):
        return tiny_actionvlm_config(tokenizer=tiny_tokenizer(extra_tokens=SPECIAL), **overrides)

    def make_model(self, **overrides):
        model = super().make_model(**overrides)
        model.set_tokenizer(tiny_tokenizer(extra_tokens=SPECIAL))
        # Every branch live: class statistics (L_adv), a positive advantage (λ > 0) and non-zero LoRA B (else
        # LoRA A gets an exactly zero gradient at initialisation, by design of LoRA).
        model.set_vision_class_statistics(torch.ones(3), torch.ones(3))
        with torch.no_grad():
            model.advantage_head.bias.fill_(0.5)
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0.0, 0.02, generator=torch.Generator().manual_seed(1))
        return model

    def make_inputs(self, model, lengths):
        features = torch.zeros(len(lengths), max(lengths), model.config.input_dim)
        mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        labels = []
        for b, length in enumerate(lengths):
            generator = torch.Generator().manual_seed(length)  # a video's features depend on its length only
            features[b, :length] = torch.randn(length, model.config.input_dim, generator=generator)
            mask[b, :length] = 1
            # short, medium and long actions: positives on every pyramid level
            labels.append(
                {
                    "class_labels": torch.tensor([0, 1, 2]),
                    "segments": torch.tensor([[1.0, 5.0], [8.0, 18.0], [2.0, length - 1.0]]),
                }
            )
        return {"input_features": features, "attention_mask": mask, "labels": labels}

    def real_step_outputs(self, outputs, index, length):
        real = outputs.masks[index]
        return {
            "cls_logits": outputs.cls_logits[index][real],
            "offsets": outputs.offsets[index][real],
            "language_weight": outputs.language_weight[index, :length],
            "frame_losses": outputs.frame_losses[index, :length],
        }


# ------------------------------------------------------------------------------------------ equations
def test_language_advantage_weight_is_2_sigmoid_relu_minus_1():
    advantage = torch.tensor([-3.0, -0.5, 0.0, 0.25, 1.0, 4.0])
    weight = language_advantage_weight(advantage)
    expected = 2 * torch.sigmoid(torch.clamp(advantage, min=0)) - 1
    torch.testing.assert_close(weight, expected)
    assert torch.equal(weight[:3], torch.zeros(3))  # Â <= 0: no language at all
    assert (weight[3:] > 0).all() and (weight < 1).all()
    assert weight[3] == pytest.approx(2 / (1 + math.exp(-0.25)) - 1)


def test_forward_aggregates_language_by_the_weight(tokenizer):
    model = tiny_model(tokenizer)
    features, mask, _ = batch()
    with torch.no_grad():
        model.advantage_head.bias.fill_(0.5)  # some frames with positive advantage
        out = model(input_features=features, attention_mask=mask)
    torch.testing.assert_close(out.language_weight, language_advantage_weight(out.language_advantage))
    assert (out.language_weight[0] > 0).any()
    assert torch.equal(out.language_weight[1, -8:], torch.zeros(8))  # padding
    # With the advantage head forced negative, λ = 0 and the model is exactly the vision-only detector.
    with torch.no_grad():
        model.advantage_head.bias.fill_(-100.0)
        gated = model(input_features=features, attention_mask=mask)
        vision = model(input_features=features, attention_mask=mask, use_language=False)
    assert torch.equal(gated.language_weight, torch.zeros_like(gated.language_weight))
    torch.testing.assert_close(gated.cls_logits, vision.cls_logits)
    torch.testing.assert_close(gated.offsets, vision.offsets)


def test_vision_only_path_never_calls_the_language_model(tokenizer):
    model = tiny_model(tokenizer)
    calls = []
    hooks = [
        module.register_forward_hook(lambda *a: calls.append(1))
        for module in (model.language_model.get_decoder(), model.language_model.get_input_embeddings())
    ]
    features, mask, labels = batch()
    with torch.no_grad():
        out = model(input_features=features, attention_mask=mask, labels=labels, use_language=False)
        detector = model.detector(input_features=features, attention_mask=mask, labels=labels)
    assert calls == []
    assert out.language_weight is None and out.text_loss is None and out.advantage_loss is None
    # F_cls = F_loc = F_vis: exactly ActionFormer on the visual features.
    torch.testing.assert_close(out.cls_logits, detector.cls_logits)
    torch.testing.assert_close(out.loss, detector.loss)
    model.use_language = True
    with torch.no_grad():
        model(input_features=features, attention_mask=mask)
    assert len(calls) >= 2
    for hook in hooks:
        hook.remove()


def test_official_padding_reaches_the_detector_through_its_pyramid(tokenizer):
    """The detector config's `official_padding` holds in ActionVLM too: the window is padded to `max_seq_len` and
    the LayerNorm biases at padded steps leak into the last real frames, on both paths."""
    clean, official = tiny_model(tokenizer), tiny_model(tokenizer, official_padding=True)
    with torch.no_grad():
        for name, parameter in clean.detector.named_parameters():  # non-zero biases, as trained weights have
            if "norm" in name and name.endswith("bias"):
                parameter.normal_(generator=torch.Generator().manual_seed(len(name)))
    official.load_state_dict(clean.state_dict())
    official.set_tokenizer(tokenizer)
    features, mask, labels = batch()
    with torch.no_grad():
        vision = official(input_features=features, attention_mask=mask, labels=labels, use_language=False)
        detector = official.detector(input_features=features, attention_mask=mask, labels=labels)
        reference = clean(input_features=features, attention_mask=mask, labels=labels, use_language=False)
        full = official(input_features=features, attention_mask=mask, labels=labels)
    torch.testing.assert_close(vision.cls_logits, detector.cls_logits)
    torch.testing.assert_close(vision.loss, detector.loss)
    levels = official.config.num_levels
    padded_points = sum(-(-official.config.max_seq_len // 2**level) for level in range(levels))
    assert vision.cls_logits.shape[1] == full.cls_logits.shape[1] == padded_points  # 24 frames padded to 64
    assert full.frame_losses.shape == (2, 24) and torch.isfinite(full.loss)
    # Level 0 comes first: the 24 real frames of the first (unpadded) video, which official padding changes.
    assert (vision.cls_logits[0, :24] - reference.cls_logits[0, :24]).abs().max() > 1e-3


# ------------------------------------------------------------------------------- per-frame losses, targets
def test_frame_losses_decompose_the_detection_loss(tokenizer):
    model = tiny_model(tokenizer)
    features, _, labels = batch(length=32, pad=0)  # 32 frames: every pyramid point lies inside the window
    with torch.no_grad():
        out = model(input_features=features, labels=labels, use_language=False)
    normalizer = float(model.detector.loss_normalizer)
    unnormalised = (out.cls_loss + model.config.regression_loss_weight * out.reg_loss) * normalizer
    torch.testing.assert_close(out.frame_losses.sum(), unnormalised, rtol=1e-5, atol=1e-5)
    assert (out.frame_losses >= 0).all()


def test_frame_classes_take_the_shortest_overlapping_action(tokenizer):
    model = tiny_model(tokenizer)
    labels = [
        {"class_labels": torch.tensor([0, 1]), "segments": torch.tensor([[1.0, 8.0], [5.5, 6.5]])},
        {"class_labels": torch.tensor([], dtype=torch.long), "segments": torch.zeros(0, 2)},
    ]
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[0, 9] = False
    classes = model.frame_classes(labels, 10, mask)
    assert classes[0].tolist() == [-1, 0, 0, 0, 0, 0, 1, 0, 0, -1]
    assert classes[1].tolist() == [-1] * 10


def test_advantage_targets_follow_the_recorded_class_means(tokenizer):
    model = tiny_model(tokenizer)
    # Sums and counts of a vision-only epoch (class 2 unseen) -> L̄_v = [0.5, 2.0, -]
    model.set_vision_class_statistics(torch.tensor([5.0, 8.0, 0.0]), torch.tensor([10.0, 4.0, 0.0]))
    torch.testing.assert_close(model.vision_class_loss, torch.tensor([0.5, 2.0, 0.0]))
    frame_losses = torch.tensor([[0.2, 0.7, 1.5, 0.1]])
    frame_classes = torch.tensor([[0, 0, 1, 2]])
    targets, valid = model.advantage_targets(frame_losses, frame_classes)
    torch.testing.assert_close(targets, torch.tensor([[0.3, -0.2, 0.5, 0.0]]))
    assert valid.tolist() == [[True, True, True, False]]
    # A later epoch that does not see class 1 keeps its previous mean.
    model.set_vision_class_statistics(torch.tensor([3.0, 0.0, 4.0]), torch.tensor([3.0, 0.0, 2.0]))
    torch.testing.assert_close(model.vision_class_loss, torch.tensor([1.0, 2.0, 2.0]))

    # In a vision-language forward, L_adv (Eq. 3) is the mean squared error over every real frame, the target
    # being 0 off-action, and the total loss is L_dh + 0.1 L_tg + 0.1 L_adv.
    features, mask, labels = batch()
    with torch.no_grad():
        out = model(input_features=features, attention_mask=mask, labels=labels)
    targets, on_action = model.advantage_targets(out.frame_losses, out.frame_classes)
    off_action = out.frame_mask & (out.frame_classes < 0)
    assert on_action.sum() == (out.frame_classes >= 0).sum() > 0 and off_action.any()
    assert (targets[off_action] == 0).all()
    squared = (out.language_advantage - targets) ** 2
    by_hand = squared[out.frame_mask].sum() / out.frame_mask.sum()  # padded frames excluded
    torch.testing.assert_close(out.advantage_loss, by_hand)
    assert not torch.isclose(out.advantage_loss, squared[on_action].mean())  # not the action frames only
    torch.testing.assert_close(out.loss, out.detection_loss + 0.1 * out.text_loss + 0.1 * out.advantage_loss)


def test_gradients_reach_every_trainable_parameter(tokenizer):
    model = tiny_model(tokenizer).train()
    model.set_vision_class_statistics(torch.ones(3), torch.ones(3))
    with torch.no_grad():
        model.advantage_head.bias.fill_(0.5)
    features, mask, labels = batch()
    model(input_features=features, attention_mask=mask, labels=labels).loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    frozen = [n for n, p in model.language_model.named_parameters() if p.requires_grad and "lora_" not in n]
    assert frozen == []  # LoRA: only the adapters train in the LM
    assert model.special_token_offsets.grad.abs().sum() > 0
    assert any(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)


# ------------------------------------------------------------------------------------ the LM's input
def manual_special_states(model, features, answer_ids=None):
    """Hidden states at the [cls] tokens and L_tg for ONE unpadded video, built by hand from the config."""
    config, lm = model.config, model.language_model
    embed = lm.get_input_embeddings()
    n = features.shape[0]
    visual = model.visual_projection(features)
    special = embed(torch.tensor(config.special_token_ids)) + model.special_token_offsets
    prompt = embed(torch.tensor(config.prompt_token_ids))
    if config.special_token_layout == "blocked":
        frames = torch.cat([visual] + [special[k].expand(n, -1) for k in range(3)])
        cls_index = torch.arange(n) + n
    else:
        frames = torch.stack([visual] + [special[k].expand(n, -1) for k in range(3)], dim=1).reshape(4 * n, -1)
        cls_index = 4 * torch.arange(n) + 1
    parts = [frames, prompt] if config.prompt_position == "after_special_tokens" else [prompt, frames]
    if config.prompt_position == "before_visual":
        cls_index = cls_index + prompt.shape[0]
    if answer_ids is not None:
        parts.append(embed(torch.tensor(answer_ids)))
    sequence = torch.cat(parts)[None]
    out = lm(inputs_embeds=sequence, output_hidden_states=True)
    hidden = out.hidden_states[-1][0]
    text_loss = None
    if answer_ids is not None:
        start = sequence.shape[1] - len(answer_ids)
        text_loss = F.cross_entropy(out.logits[0, start - 1 : -1], torch.tensor(answer_ids))
    return hidden[cls_index], text_loss


@pytest.mark.parametrize("layout,position", [("blocked", "after_special_tokens"), ("interleaved", "before_visual")])
def test_language_model_input_layout(tokenizer, layout, position):
    model = tiny_model(tokenizer, special_token_layout=layout, prompt_position=position)
    features, mask, labels = batch()
    with torch.no_grad():
        out = model(input_features=features, attention_mask=mask, labels=labels, output_text_logits=True)
        answers = model._answer_token_ids(labels)
        for b in range(2):
            n = int(mask[b].sum())
            states, text_loss = manual_special_states(model, features[b, :n], answers[b])
            lang_cls = model.cls_projection(states)
            # λ F_lang,cls reconstructs F_cls: compare through the advantage-independent projection instead
            hidden = model._language_features(features[b : b + 1, :n], mask[b : b + 1, :n].bool(), None, False)[0]
            torch.testing.assert_close(hidden[0], lang_cls, rtol=1e-4, atol=1e-5)
            single = model(input_features=features[b : b + 1, :n], labels=labels[b : b + 1])
            torch.testing.assert_close(single.text_loss, text_loss, rtol=1e-4, atol=1e-5)
    assert out.text_logits.shape == (2, model.config.text_config.vocab_size)
    # The answer is the ranked ground-truth list followed by the end-of-sequence token.
    assert tokenizer.decode(answers[0]) == "1. open door: 2-9\n2. throw ball: 12-20<|im_end|>"


@pytest.mark.parametrize(
    "layout,position",
    [
        ("blocked", "after_special_tokens"),
        ("interleaved", "after_special_tokens"),
        ("blocked", "before_visual"),
        ("interleaved", "before_visual"),
    ],
)
def test_padding_does_not_change_the_real_frames(tokenizer, layout, position):
    model = tiny_model(tokenizer, special_token_layout=layout, prompt_position=position)
    with torch.no_grad():
        model.advantage_head.bias.fill_(0.3)
    features, mask, _ = batch(length=24, pad=8)
    with torch.no_grad():
        padded = model(input_features=features, attention_mask=mask)
        alone = model(input_features=features[1:, :16])
    torch.testing.assert_close(padded.language_advantage[1, :16], alone.language_advantage[0], rtol=1e-4, atol=1e-5)
    real = padded.masks[1]
    assert real.sum() == alone.masks[0].sum()
    torch.testing.assert_close(padded.cls_logits[1][real], alone.cls_logits[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(padded.offsets[1][real], alone.offsets[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("position,changes", [("after_special_tokens", False), ("before_visual", True)])
def test_descriptions_reach_the_special_tokens_only_when_they_come_first(tokenizer, position, changes):
    model = tiny_model(tokenizer, prompt_position=position)
    with torch.no_grad():
        model.advantage_head.bias.fill_(0.3)
    features, mask, _ = batch()
    with torch.no_grad():
        before = model(input_features=features, attention_mask=mask)
        model.set_class_descriptions(derange_descriptions(model.config.class_descriptions))
        after = model(input_features=features, attention_mask=mask)
    assert (not torch.allclose(before.language_advantage, after.language_advantage)) is changes


# --------------------------------------------------------------------------------------- configuration
def test_config_validates_fields_and_builds_presets():
    for field, value in [
        ("special_token_layout", "mixed"),
        ("prompt_position", "end"),
        ("language_tuning", "qlora"),
        ("vision_tuning", "partial"),
        ("lora_rank", 0),
        ("text_loss_weight", -1.0),
        ("prompt_template", "no placeholder"),
        ("special_tokens", ["[cls]", "[cls]", "[adv]"]),
    ]:
        with pytest.raises(ValueError, match=field):
            ActionVLMConfig(**{field: value})
    with pytest.raises(ValueError, match="class_descriptions"):
        ActionVLMConfig(num_classes=3, class_descriptions=["a", "b"])
    with pytest.raises(ValueError, match="input_dim"):
        ActionVLMConfig(vision_config={"model_type": "videomae", "hidden_size": 64}, input_dim=32)
    with pytest.raises(ValueError, match="text_config"):
        ActionVLMForTemporalLocalization(ActionVLMConfig())
    with pytest.raises(ValueError, match="unknown ActionVLM preset"):
        ActionVLMConfig.from_preset("actionvlm-xl-7b")

    sizes = {"s": 384, "b": 768, "l": 1024}
    lm_sizes = {"1.5b": 1536, "3b": 2048}
    assert sorted(ACTIONVLM_PRESETS) == [
        "actionvlm-b-1.5b",
        "actionvlm-b-3b",
        "actionvlm-l-3b",
        "actionvlm-s-1.5b",
        "actionvlm-s-3b",
    ]
    for name in ACTIONVLM_PRESETS:
        _, vit, lm = name.split("-")
        config = ActionVLMConfig.from_preset(name, num_classes=20)
        assert config.input_dim == config.vision_config.hidden_size == sizes[vit]
        assert config.text_config.hidden_size == lm_sizes[lm]
        assert config.vision_tuning == ("adapter" if vit == "l" else "full")
        assert (config.lora_rank, config.lora_alpha, config.text_loss_weight, config.advantage_loss_weight) == (
            128,
            256,
            0.1,
            0.1,
        )
        reloaded = ActionVLMConfig.from_dict(config.to_dict())
        assert reloaded.text_config.to_dict() == config.text_config.to_dict()


def test_prompt_and_answer_text():
    prompt = format_action_prompt(["jump", "run"], ["leaves the ground.", ""])
    assert prompt.endswith(
        "The actions include: jump, run.\nHere we provide the descriptions of each action:\n"
        "jump: leaves the ground.\nrun: run"
    )
    ranked = format_action_prompt(
        ["jump", "run"], ["leaves the ground.", ""], RANKED_LIST_PROMPT_TEMPLATE, RANKED_LIST_ACTION_TEMPLATE
    )  # the earlier instruction, still available
    assert "- jump: leaves the ground.\n- run: run\n" in ranked
    answer = format_proposal_answer([[10.2, 20.6], [1.0, 4.0], [10.2, 12.0]], [1, 0, 0], ["jump", "run"])
    assert answer == "1. jump: 1-4\n2. jump: 10-12\n3. run: 10-21"
    assert (
        format_proposal_answer([[10.2, 20.6], [1.0, 4.0]], [1, 0], ["jump", "run"], order="length", max_proposals=1)
        == "1. run: 10-21"
    )
    assert format_proposal_answer(torch.zeros(0, 2), [], ["jump"]) == "none"
    with pytest.raises(ValueError, match="outside"):
        format_proposal_answer([[0, 1]], [5], ["jump"])


# ------------------------------------------------------------------------------ real backbones, save/load
@pytest.fixture(scope="module")
def backbone_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbones")
    torch.manual_seed(0)
    lm, lm_tokenizer = tiny_qwen2(hidden_size=32, num_layers=2)
    lm.save_pretrained(root / "qwen2")
    lm_tokenizer.save_pretrained(root / "qwen2")
    tiny_videomae(image_size=32, num_frames=4, hidden_size=32).save_pretrained(root / "videomae")
    return root


def test_from_backbones_save_and_reload(backbone_dirs, tmp_path):
    synthetic = synthetic_tal_metadata(
        make_synthetic_tal_dataset(num_classes=3, num_confusable_pairs=1, num_videos={"test": 1})
    )
    model = ActionVLMForTemporalLocalization.from_backbones(
        backbone_dirs / "qwen2",
        id2label=dict(enumerate(synthetic["class_names"])),
        class_descriptions=synthetic["class_descriptions"],
        input_dim=12,
        **HEAD,
    ).eval()
    saved = AutoModel.from_pretrained(backbone_dirs / "qwen2")
    # The special tokens were added after the original vocabulary, and the embedding grew to hold them.
    vocab = saved.get_input_embeddings().weight.shape[0]
    assert model.config.special_token_ids == [vocab, vocab + 1, vocab + 2]
    assert model.language_model.get_input_embeddings().weight.shape[0] == vocab + 3
    torch.testing.assert_close(
        model.language_model.get_input_embeddings().weight[:vocab], saved.get_input_embeddings().weight
    )
    decoder_weight = model.language_model.model.layers[0].mlp.up_proj.base_layer.weight
    torch.testing.assert_close(decoder_weight, saved.layers[0].mlp.up_proj.weight)
    assert "jump" not in model.tokenizer.decode(model.config.prompt_token_ids)
    assert synthetic["class_descriptions"][0] in model.tokenizer.decode(model.config.prompt_token_ids)

    model.set_vision_class_statistics(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 1.0]))
    features, mask, _ = batch()
    with torch.no_grad():
        expected = model(input_features=features, attention_mask=mask)
    model.save_pretrained(tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert "ActionVLM" in card and "arXiv:2601.21078" in card and "prompt_position=after_special_tokens" in card
    loaded = AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is ActionVLMForTemporalLocalization
    assert (
        type(momentzoo.AutoModelForTemporalLocalization.from_pretrained(tmp_path)) is ActionVLMForTemporalLocalization
    )
    with torch.no_grad():
        actual = loaded(input_features=features, attention_mask=mask)
    for key in ("cls_logits", "offsets", "language_advantage", "language_weight"):
        assert torch.equal(actual[key], expected[key]), key
    torch.testing.assert_close(loaded.vision_class_loss, torch.tensor([1.0, 2.0, 3.0]))
    assert loaded.tokenizer is not None and len(loaded.tokenizer) == len(model.tokenizer)
    assert loaded.tokenizer.convert_tokens_to_ids("[adv]") == model.config.special_token_ids[2]
    trainable = {n for n, p in loaded.named_parameters() if p.requires_grad and n.startswith("language_model.")}
    assert trainable and all("lora_" in n for n in trainable)


def test_from_backbones_with_a_videomae_encoder_and_temporal_adapters(backbone_dirs):
    model = ActionVLMForTemporalLocalization.from_backbones(
        backbone_dirs / "qwen2",
        backbone_dirs / "videomae",
        tokenizer=backbone_dirs / "qwen2",
        num_classes=3,
        vision_tuning="adapter",
        **HEAD,
    )
    encoder = AutoModel.from_pretrained(backbone_dirs / "videomae").eval()
    assert model.config.input_dim == 32
    assert not any(p.requires_grad for p in model.vision_model.parameters())
    assert all(p.requires_grad for p in model.temporal_adapters.parameters())
    assert [n for n, _ in model.parameter_groups()["vision"]] == []
    generator = torch.Generator().manual_seed(1)
    pixels = torch.randn(2, 8, 3, 32, 32, generator=generator)  # two 4-frame clips per video
    frame_mask = torch.ones(2, 8, dtype=torch.long)
    frame_mask[1, 4:] = 0
    model.eval()
    with torch.no_grad():
        # Zero-initialised adapters: the adapted encoder starts as the pretrained one, mean-pooled over space.
        tokens = model.encode_video(pixels)
        reference = encoder(pixel_values=pixels.reshape(4, 4, 3, 32, 32)).last_hidden_state
        reference = reference.view(4, 2, -1, 32).mean(2).reshape(2, 4, 32)
        torch.testing.assert_close(tokens, reference, rtol=1e-5, atol=1e-5)
        out = model(pixel_values=pixels, attention_mask=frame_mask)
    assert out.frame_mask.tolist() == [[True] * 4, [True, True, False, False]]  # one token per 2-frame tubelet
    assert model.video_feature_geometry() == {"feature_stride": 2, "num_frames": 2}
    model.train()
    labels = [
        {"class_labels": torch.tensor([0]), "segments": torch.tensor([[0.0, 2.0]])},
        {"class_labels": torch.tensor([1]), "segments": torch.tensor([[0.0, 1.0]])},
    ]
    model(pixel_values=pixels, attention_mask=frame_mask, labels=labels, use_language=False).loss.backward()
    assert model.temporal_adapters[0].up.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="multiple of the encoder's clip length"):
        model(pixel_values=pixels[:, :6])


def test_from_backbones_takes_the_text_model_of_a_vision_language_checkpoint(tmp_path):
    """An InternVL-hf checkpoint (the paper's VLM family): its decoder and LM head become the causal LM."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    tokenizer = tiny_tokenizer()
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=[28, 28],
            patch_size=[14, 14],
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
    )
    vlm = InternVLForConditionalGeneration(config).eval()
    vlm.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model = ActionVLMForTemporalLocalization.from_backbones(tmp_path, num_classes=3, input_dim=12, **HEAD).eval()
    assert model.config.text_config.model_type == "qwen2"
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        torch.testing.assert_close(
            model.language_model.get_decoder()(input_ids=ids).last_hidden_state,
            vlm.model.language_model(input_ids=ids).last_hidden_state,
        )


# ------------------------------------------------------------------------------------------- training
class _EpochRecorder(TrainerCallback):
    def __init__(self, counter):
        self.counter, self.per_epoch = counter, []

    def on_epoch_end(self, args, state, control, **kwargs):
        self.per_epoch.append(len(self.counter))
        self.counter.clear()


@pytest.fixture(scope="module")
def trained(backbone_dirs, tmp_path_factory):
    data = make_synthetic_tal_dataset(
        num_classes=4,
        num_confusable_pairs=1,
        feature_dim=16,
        signal_strength=1.0,
        num_videos={"train": 32, "test": 12},
        min_length=48,
        max_length=64,
        min_action_length=6,
        max_action_length=24,
        max_actions_per_video=3,
    )
    meta = synthetic_tal_metadata(data)
    torch.manual_seed(0)
    model = ActionVLMForTemporalLocalization.from_backbones(
        backbone_dirs / "qwen2",
        id2label=dict(enumerate(meta["class_names"])),
        class_descriptions=meta["class_descriptions"],
        input_dim=16,
        **HEAD,
    )
    untrained = evaluate_modality_bias(model, data["test"])
    collator = TemporalLocalizationCollator(max_seq_len=64, training=False)
    probe = collator([data["train"].with_format("numpy")[i] for i in range(8)])
    model.eval()
    with torch.no_grad():
        probe_before = float(model(**probe).frame_losses.sum())

    lm_calls = []
    hook = model.language_model.get_decoder().register_forward_hook(lambda *a: lm_calls.append(1))
    recorder = _EpochRecorder(lm_calls)
    args = LanguageAdvantageTrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("actionvlm_train")),
        num_train_epochs=6,
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        language_learning_rate=1e-3,
        vision_learning_rate=0.0,
        logging_steps=8,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = LanguageAdvantageTrainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        data_collator=TemporalLocalizationCollator(max_seq_len=64),
        callbacks=[recorder],
    )
    reduced, accumulated = [], []
    reduce = trainer.accelerator.reduce
    trainer.accelerator.reduce = lambda tensor, reduction="sum": (
        reduced.append((tensor.clone(), reduction)) or reduce(tensor, reduction=reduction)
    )
    accumulate = trainer.accumulate_class_statistics
    trainer.accumulate_class_statistics = lambda losses, classes: (
        accumulated.append((trainer.current_epoch, losses.detach().clone(), classes.clone()))
        or accumulate(losses, classes)
    )
    trainer.train()
    hook.remove()
    model.eval()
    with torch.no_grad():
        probe_after = float(model(**probe).frame_losses.sum())
    return dict(
        model=model,
        trainer=trainer,
        data=data,
        untrained=untrained,
        lm_calls=recorder.per_epoch,
        reduced=reduced,
        accumulated=accumulated,
        probe=(probe_before, probe_after),
    )


def test_trainer_alternates_vision_only_and_vision_language_epochs(trained):
    trainer = trained["trainer"]
    assert trainer.epoch_history == ["vision", "vision-language"] * 3
    calls = trained["lm_calls"]
    assert calls[0::2] == [0, 0, 0]  # the LM is never called in a vision-only epoch
    assert all(c == 8 for c in calls[1::2])  # 32 videos / batch 4: one LM pass per step
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert [h["vision_only_epoch"] for h in logs] == [1.0, 0.0] * 3
    assert all("text_loss" in h and "advantage_loss" in h for h in logs[1::2])
    assert not any("text_loss" in h for h in logs[0::2])


def test_trainer_reduces_and_stores_the_class_statistics(trained):
    model, reduced, accumulated = trained["model"], trained["reduced"], trained["accumulated"]
    assert len(reduced) == 3 and all(r == "sum" and t.shape == (2, 4) for t, r in reduced)
    assert {epoch for epoch, _, _ in accumulated} == {0, 2, 4}
    sums, counts = torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    for epoch, losses, classes in accumulated:
        if epoch == 4:  # Algorithm 1: every sample's mean loss over its frames of class c, once per sample
            for sample_losses, sample_classes in zip(losses, classes):
                for c in sample_classes[sample_classes >= 0].unique().tolist():
                    sums[c] += sample_losses[sample_classes == c].double().mean()
                    counts[c] += 1
    torch.testing.assert_close(reduced[-1][0], torch.stack([sums, counts]))
    assert (counts > 0).all()
    torch.testing.assert_close(model.vision_class_frames, counts.float())
    torch.testing.assert_close(model.vision_class_loss, (sums / counts).float())


def test_trainer_uses_one_learning_rate_per_module_group(trained):
    optimizer = trained["trainer"].optimizer
    rates = {}
    for group in optimizer.param_groups:
        rates.setdefault(group["group_name"], set()).add(group["initial_lr"])
    assert rates == {"head": {3e-3}, "language": {1e-3}}  # no video encoder here
    lora = {id(p) for n, p in trained["model"].named_parameters() if "lora_" in n}
    language = {id(p) for g in optimizer.param_groups if g["group_name"] == "language" for p in g["params"]}
    assert language == lora
    defaults = LanguageAdvantageTrainingArguments(output_dir="unused")
    assert (defaults.learning_rate, defaults.vision_learning_rate, defaults.language_learning_rate) == (
        1e-4,
        5e-6,
        5e-6,
    )


def test_training_lowers_the_loss_and_beats_the_untrained_model(trained):
    before, after = trained["probe"]
    assert after < 0.7 * before
    results = evaluate_modality_bias(trained["model"], trained["data"]["test"])
    print(
        f"average mAP: untrained {trained['untrained']['average_mAP']:.3f}, trained {results['average_mAP']:.3f}; "
        f"probe loss {before:.1f} -> {after:.1f}"
    )
    assert results["average_mAP"] > trained["untrained"]["average_mAP"] + 0.1
    assert results["average_mAP"] > 0.15
    # Diagnostics: mLA per class in [0, 1); descriptions restored; with the instruction before the special tokens
    # (the default) mismatched descriptions reach the predictions, so LAP measures something.
    assert set(results["mLA"]) == set(trained["model"].config.class_names)
    assert all(0 <= v < 1 for v in results["mLA"].values())
    assert trained["model"].config.prompt_position == "before_visual"
    assert math.isfinite(results["LAP"])  # 0 here only if training gated language off (λ_lang = 0 everywhere)
    print(f"LAP {results['LAP']:.4f}, mLA {results['mLA_overall']:.4f}")
    assert trained["model"].config.class_descriptions == synthetic_tal_metadata(trained["data"])["class_descriptions"]


def test_derange_descriptions_moves_every_description():
    descriptions = [f"description {i}" for i in range(7)]
    for seed in range(5):
        shuffled = derange_descriptions(descriptions, seed)
        assert sorted(shuffled) == descriptions
        assert all(a != b for a, b in zip(shuffled, descriptions))
    with pytest.raises(ValueError, match="two classes"):
        derange_descriptions(["only one"])


# ------------------------------------------------------------------------------- paper recipe (issue 15)
@pytest.mark.parametrize(("position", "reaches"), [("before_visual", True), ("after_special_tokens", False)])
def test_descriptions_reach_the_special_tokens_only_when_the_instruction_comes_first(tokenizer, position, reaches):
    # LAP (mAP drop under mismatched descriptions) can only differ from 0 if the descriptions reach the special tokens.
    model = tiny_model(tokenizer, prompt_position=position)
    for parameter in model.advantage_head.parameters():  # a language weight of 0 would hide any change
        torch.nn.init.constant_(parameter, 1.0)
    features, mask, _ = batch()
    with torch.no_grad():
        matched = model(input_features=features, attention_mask=mask)
        model.set_class_descriptions(derange_descriptions(list(model.config.class_descriptions)))
        mismatched = model(input_features=features, attention_mask=mask)
    changed = not torch.allclose(matched.cls_logits, mismatched.cls_logits)
    assert changed is reaches
    assert (matched.language_weight[mask.bool()] > 0).all()


def test_vision_loss_average_is_algorithm_1_per_sample_mean_or_per_frame(tokenizer, tmp_path):
    frame_losses = torch.tensor([[1.0, 3.0, 5.0, 0.5], [2.0, 9.0, 9.0, 9.0]])
    frame_classes = torch.tensor([[0, 0, 1, -1], [0, -1, -1, -1]])
    expected = {
        "per_sample": ([(2.0 + 2.0) / 2, 5.0, 0.0], [2.0, 1.0, 0.0]),  # mean of each sample's class mean
        "per_frame": ([(1.0 + 3.0 + 2.0) / 3, 5.0, 0.0], [3.0, 1.0, 0.0]),
    }
    for average, (means, counts) in expected.items():
        model = tiny_model(tokenizer, vision_loss_average=average)
        trainer = LanguageAdvantageTrainer(
            model=model,
            args=LanguageAdvantageTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"),
        )
        trainer.begin_epoch(0)
        trainer.accumulate_class_statistics(frame_losses, frame_classes)
        trainer.end_epoch()
        torch.testing.assert_close(model.vision_class_loss, torch.tensor(means))
        torch.testing.assert_close(model.vision_class_frames, torch.tensor(counts))
    assert ActionVLMConfig(num_classes=2).vision_loss_average == "per_sample"
    with pytest.raises(ValueError, match="vision_loss_average"):
        ActionVLMConfig(num_classes=2, vision_loss_average="per_video")


def test_thumos14_recipe_is_the_papers():
    import json
    from pathlib import Path

    import yaml

    from momentzoo.models.actionformer import THUMOS14_CLASSES
    from momentzoo.models.actionvlm.processing_actionvlm import format_action_prompt

    root = Path(__file__).resolve().parents[3] / "examples" / "configs"
    recipe = yaml.safe_load((root / "actionvlm_thumos14.yaml").read_text())
    assert (recipe["num_train_epochs"], recipe["per_device_train_batch_size"]) == (120, 1)
    assert recipe["model_config"]["nms_sigma"] == 0.7  # the authors' THUMOS14 config
    assert (recipe["learning_rate"], recipe["language_learning_rate"], recipe["vision_only_interval"]) == (
        1e-4,
        5e-6,
        2,
    )
    descriptions = json.loads((root.parent.parent / recipe["class_descriptions_file"]).read_text())
    assert list(descriptions) == list(THUMOS14_CLASSES) and all(len(d) > 40 for d in descriptions.values())
    config = ActionVLMConfig(class_descriptions=[descriptions[name] for name in THUMOS14_CLASSES])
    assert (config.prompt_position, config.special_token_layout, config.vision_loss_average) == (
        "before_visual",
        "blocked",
        "per_sample",
    )
    prompt = format_action_prompt(
        config.class_names, config.class_descriptions, config.prompt_template, config.action_template
    )
    assert prompt.startswith(
        "This is a video reasoning for action localisation task. You should locate the start "
        "and end frames of the action in the video provided. The actions include: BaseballPitch, "
    )
    assert "Here we provide the descriptions of each action:\nBaseballPitch: The individual starts by" in prompt
