"""MLLM4WTAL: config defaults (lambda1 = lambda2 = 1.5, mu1 = 1.0) and validation, the KSM and CSR priors and losses
on small tensors, interactive distillation, the composition over DELU, bad input, and the common model tests."""

import math
from typing import ClassVar

import pytest
import torch
from common_model_tests import ModelTesterMixin, one_thread  # noqa: F401 (autouse fixture)

import momentzoo  # noqa: F401  (registers mllm4wtal)
from momentzoo.models.delu import DELUConfig
from momentzoo.models.mllm4wtal import (
    MLLM4WTALConfig,
    interactive_distillation_loss,
    key_match_loss,
    reconstruction_mask,
)
from momentzoo.testing.mllm4wtal import tiny_mllm4wtal
from momentzoo.training.mllm4wtal import (
    SimilarPairBatchSampler,
    WeakTALCollator,
    check_weak_dataset,
    drop_ambiguous,
    make_synthetic_wtal_dataset,
    wtal_averages,
)


def test_config_defaults_are_the_papers():
    config = MLLM4WTALConfig()
    assert (config.key_match_weight, config.key_prior_weight, config.reconstruction_weight) == (1.5, 1.5, 1.0)
    assert isinstance(config.base_config, DELUConfig) and config.num_classes == 20
    assert config.text_model_name_or_path == "openai/clip-vit-base-patch16" and config.text_config.hidden_size == 512
    assert config.window_merge_nms_kwargs() == config.base_config.window_merge_nms_kwargs()
    assert (config.max_seq_len, config.inference_window, config.fps) == (320, (None, 0.0), 25.0)


def test_classes_given_at_the_top_go_to_the_base():
    config = MLLM4WTALConfig(id2label={0: "a", 1: "b"})
    assert config.base_config.id2label == {0: "a", 1: "b"} and config.id2label == {0: "a", 1: "b"}
    assert MLLM4WTALConfig(num_labels=3).base_config.num_classes == 3
    # explicit classes win over the base config's, as `from_pretrained(ckpt, id2label=...)` needs for re-heading
    reheaded = MLLM4WTALConfig(base_config={"id2label": {0: "x"}}, id2label={0: "a", 1: "b"})
    assert reheaded.base_config.id2label == reheaded.id2label == {0: "a", 1: "b"}
    with pytest.raises(ValueError, match="id2label"):
        MLLM4WTALConfig(id2label={0: "a", 2: "b"})


# ---------------------------------------------------------------------------------------------------- KSM
def test_key_match_loss_hand_computed():
    # 2 videos of 1 snippet (k = 1): scores = similarity itself; distinct descriptions -> plain symmetric InfoNCE.
    sim = torch.tensor([[[2.0, 0.0]], [[1.0, 1.0]]])  # (B, T, B)
    mask = torch.ones(2, 1, dtype=torch.bool)
    same = torch.eye(2, dtype=torch.bool)
    v2t = (-(2 - math.log(math.exp(2) + 1)) - (1 - math.log(2 * math.e))) / 2
    t2v = (-(2 - math.log(math.exp(2) + math.e)) - (1 - math.log(1 + math.e))) / 2
    assert key_match_loss(sim, mask, same, 7).item() == pytest.approx((v2t + t2v) / 2, rel=1e-6)
    # identical descriptions share the target: half on each
    both = torch.ones(2, 2, dtype=torch.bool)
    expected_v2t = (
        -0.5 * (2 - math.log(math.exp(2) + 1))
        - 0.5 * (0 - math.log(math.exp(2) + 1))
        - 0.5 * (1 - math.log(2 * math.e)) * 2
    ) / 2
    loss = key_match_loss(sim, mask, both, 7)
    t2v_both = (
        -0.5 * (2 - math.log(math.exp(2) + math.e))
        - 0.5 * (1 - math.log(math.exp(2) + math.e))
        - 0.5 * (0 - math.log(1 + math.e))
        - 0.5 * (1 - math.log(1 + math.e))
    ) / 2
    assert loss.item() == pytest.approx((expected_v2t + t2v_both) / 2, rel=1e-6)


def test_key_prior_is_sigmoid_of_scaled_cosine_with_own_description():
    torch.manual_seed(0)
    model, tokenizer = tiny_mllm4wtal()
    model.eval()
    features = torch.randn(2, 6, 16)
    keys = tokenizer(
        ["key moments: a door swinging on its hinges.", "key moments: a ball flying away."],
        padding=True,
        return_tensors="pt",
    )
    out = model(features, key_input_ids=keys.input_ids, key_attention_mask=keys.attention_mask)
    with torch.no_grad():
        hidden = model.text_model(input_ids=keys.input_ids, attention_mask=keys.attention_mask).last_hidden_state
        eos = keys.attention_mask.sum(1) - 1  # CLIP's pooling: the state at each description's end-of-text token
        assert bool((keys.input_ids[torch.arange(2), eos] == tokenizer.eos_token_id).all())
        pooled = hidden[torch.arange(2), eos]
        snippets = model.key_projection(out.features)
        cos = torch.nn.functional.cosine_similarity(snippets, pooled[:, None, :], dim=-1)
    expected = torch.sigmoid(model.config.key_logit_scale_init * cos + model.config.key_logit_bias_init)
    torch.testing.assert_close(out.key_prior, expected, atol=1e-5, rtol=1e-5)
    assert out.complete_prior.shape == (2, 6) and bool(((out.complete_prior > 0) & (out.complete_prior < 1)).all())


def test_descriptions_sharing_a_prefix_get_different_embeddings():
    # transformers' CLIP pools configs with eos_token_id == 2 (the tiny tokenizer's) at the highest token id; on these
    # two descriptions that is the same prefix word, which would give both the same embedding
    model, tokenizer = tiny_mllm4wtal()
    texts = ["key moments: water streaming into the glass.", "key moments: water streaming into the glass; an arm."]
    keys = tokenizer(texts, padding=True, return_tensors="pt")
    pooled, _ = model.encode_text(keys.input_ids, keys.attention_mask)
    legacy = model.text_model(input_ids=keys.input_ids, attention_mask=keys.attention_mask).pooler_output
    assert torch.allclose(legacy[0], legacy[1])  # the premise: the legacy rule confuses them
    assert not torch.allclose(pooled[0], pooled[1], atol=1e-3)


# ---------------------------------------------------------------------------------------------------- CSR
def test_reconstruction_mask_skips_special_tokens():
    word_mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    masked = reconstruction_mask(word_mask, 1 / 3, generator_training=False)
    # candidates exclude BOS (0) and EOS (last real); every 3rd candidate: positions 1 and 4; row 2 has only 1
    assert masked.tolist() == [
        [False, True, False, False, True, False, False],
        [False, True, False, False, False, False, False],
    ]
    torch.manual_seed(0)
    train = reconstruction_mask(word_mask, 0.5, generator_training=True)
    assert train.any(dim=1).all() and not (train & ~word_mask).any() and not train[:, 0].any()
    with pytest.raises(ValueError, match=r"batch index \[0\]"):
        reconstruction_mask(torch.tensor([[1, 1, 0]], dtype=torch.bool), 0.5, False)


def test_reconstruction_ranking_hinge_and_prior_weighting():
    torch.manual_seed(0)
    model, tokenizer = tiny_mllm4wtal()
    model.eval()
    texts = tokenizer(
        ["the person opens the door: starts with a hand on the handle of a closed door."], return_tensors="pt"
    )
    features = torch.randn(1, 8, 16)
    out = model(features, complete_input_ids=texts.input_ids, complete_attention_mask=texts.attention_mask)
    reconstruction, rank = model.reconstruction_losses(out, texts.input_ids, texts.attention_mask)
    # recompute CE by hand for prior and complement
    _, words = model.encode_text(texts.input_ids, texts.attention_mask)
    masked = reconstruction_mask(texts.attention_mask.bool(), model.config.reconstruction_mask_ratio, False)
    ces = []
    for prior in (out.complete_prior, 1 - out.complete_prior):
        hidden = model.reconstructor(words, texts.attention_mask.bool(), masked, out.features, out.mask, prior)
        table = torch.nn.functional.normalize(model.text_model.get_input_embeddings().weight, dim=-1)
        logits = (
            model.config.reconstruction_logit_scale_init
            * torch.nn.functional.normalize(hidden[masked], dim=-1)
            @ table.T
        )
        log_probs = logits.log_softmax(-1)
        targets = texts.input_ids[masked]
        ces.append(-log_probs[torch.arange(len(targets)), targets].mean())
    torch.testing.assert_close(reconstruction, ces[0])
    torch.testing.assert_close(rank, (ces[0] - ces[1] + model.config.reconstruction_margin).clamp(min=0))
    # a prior of (almost) zero on a snippet removes it from the cross-attention: changing that snippet changes the
    # output orders of magnitude less than when its prior is 1
    features2 = out.features.clone()
    features2[0, 3] += 1.0
    effects = []
    for weight in (0.0, 1.0):
        prior = torch.ones(1, 8)
        prior[0, 3] = weight
        a = model.reconstructor(words, texts.attention_mask.bool(), masked, out.features, out.mask, prior)
        b = model.reconstructor(words, texts.attention_mask.bool(), masked, features2, out.mask, prior)
        effects.append((a - b).abs().max().item())
    assert effects[0] < 1e-3 * effects[1], effects


def test_interactive_distillation_hand_computed_and_gradients():
    attention = torch.tensor([[0.5, 0.1]], requires_grad=True)
    key = torch.tensor([[0.6, 0.0]], requires_grad=True)
    complete = torch.tensor([[0.2, 0.2]], requires_grad=True)
    mask = torch.ones(1, 2, dtype=torch.bool)
    loss = interactive_distillation_loss(attention, key, complete, mask)
    priors = [0.4, 0.1]
    teach = ((0.5 - priors[0]) ** 2 + (0.1 - priors[1]) ** 2) / 2
    learn = 0.5 * (((0.6 - 0.5) ** 2 + (0.0 - 0.1) ** 2) / 2 + ((0.2 - 0.5) ** 2 + (0.2 - 0.1) ** 2) / 2)
    inside = (0.4 + 0.0) / 2
    assert loss.item() == pytest.approx(teach + learn + inside, rel=1e-6)
    loss.backward()
    torch.testing.assert_close(attention.grad, torch.tensor([[0.1, 0.0]]))  # only the teach term reaches it


def test_total_loss_adds_the_weighted_terms_to_delus():
    torch.manual_seed(0)
    model, _ = tiny_mllm4wtal(key_match_weight=2.0, distillation_weight=0.5)
    model.eval()
    inputs = TestMLLM4WTALCommon().make_inputs(model, (12, 9))
    out = model(**inputs)
    c, base = model.config, model.config.base_config
    weights = torch.tensor(
        [
            base.edl_loss_weight,
            base.uncertainty_guide_loss_weight,
            base.mil_loss_weight,
            base.mil_suppressed_loss_weight,
            base.contrastive_loss_weight,
            base.mutual_loss_weight,
            base.norm_loss_weight,
            base.guide_loss_weight,
            c.key_match_weight,
            c.key_prior_weight,
            c.reconstruction_weight,
            c.reconstruction_weight,
            c.distillation_weight,
        ]
    )
    torch.testing.assert_close(out.loss, (weights * out.loss_terms).sum())
    assert len(out.loss_terms) == len(model.loss_names)


def test_inference_is_the_bases():
    torch.manual_seed(0)
    model, _ = tiny_mllm4wtal()
    model.eval()
    features = torch.randn(1, 20, 16)
    out = model(features)
    assert out.complete_prior is None and out.key_prior is None  # inference skips the priors
    alone = model.base(features)
    torch.testing.assert_close(out.cas, alone.cas)
    meta = [{"duration": 30.0}]
    assert model.post_process(out, meta) == model.base.post_process(alone, meta)
    assert not any(p.requires_grad for p in model.text_model.parameters())


# ---------------------------------------------------------------------------------------------- bad input
def test_training_without_descriptions_is_an_error():
    model, _ = tiny_mllm4wtal()
    with pytest.raises(ValueError, match="needs the descriptions"):
        model(torch.randn(1, 8, 16), labels=torch.tensor([[1.0, 0, 0]]))


def test_bad_rows_are_named_and_nothing_is_dropped():
    data = make_synthetic_wtal_dataset(
        num_classes=4,
        num_confusable_pairs=1,
        feature_dim=16,
        num_videos={"train": 4},
        min_length=40,
        max_length=48,
        max_action_length=16,
    )
    rows = data["train"]
    ids = rows["video_id"]
    broken = rows.map(
        lambda row, i: {
            "video_labels": [] if i == 0 else row["video_labels"],
            "key_description": None if i == 1 else row["key_description"],
            "complete_description": "   " if i == 2 else row["complete_description"],
        },
        with_indices=True,
    )
    with pytest.raises(ValueError, match="3 problem") as error:
        check_weak_dataset(broken)
    message = str(error.value)
    assert f"{ids[0]}: no video-level label" in message and f"{ids[1]}: missing key_description" in message
    assert f"{ids[2]}: empty complete_description" in message and ids[3] not in message
    with pytest.raises(ValueError, match="describe"):
        check_weak_dataset(rows.remove_columns("key_description"))
    _, tokenizer = tiny_mllm4wtal()
    collator = WeakTALCollator(num_classes=4, tokenizer=tokenizer)
    for index, match in ((0, "no video-level label"), (1, "missing key_description"), (2, "empty complete_desc")):
        with pytest.raises(ValueError, match=f"{ids[index]}.*{match}"):
            collator([broken[3], broken[index]])
    batch = collator([rows[i] for i in range(4)])
    assert batch["input_features"].shape[0] == 4 and batch["labels"].sum(dim=1).min() >= 1


# ---------------------------------------------------------------------------------------------- common tests
class TestMLLM4WTALCommon(ModelTesterMixin):
    model_type = "mllm4wtal"
    non_default_config_kwargs: ClassVar[dict] = {
        "key_match_weight": 1.0,
        "reconstruction_weight": 0.5,
        "reconstruction_mask_ratio": 0.25,
        "distillation_weight": 2.0,
    }
    invalid_config_kwargs: ClassVar[list] = [
        ({"key_match_weight": -1.0}, "key_match_weight"),
        ({"reconstruction_num_heads": 3}, "reconstruction_num_heads"),
        ({"reconstruction_mask_ratio": 0.0}, "reconstruction_mask_ratio"),
        ({"base_config": 3}, "base_config"),
        ({"text_config": {"model_type": "bert"}}, "text_config"),
    ]

    def make_inputs(self, model, lengths):
        config = model.config
        features = torch.zeros(len(lengths), max(lengths), config.input_dim)
        mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        labels = torch.zeros(len(lengths), config.num_classes)
        vocab = config.text_config.vocab_size
        bos, eos = config.text_config.bos_token_id, config.text_config.eos_token_id
        texts = {"key": [], "complete": []}
        for i, length in enumerate(lengths):
            generator = torch.Generator().manual_seed(length)
            features[i, :length] = torch.randn(length, config.input_dim, generator=generator)
            mask[i, :length] = 1
            labels[i, length % 3] = labels[i, 0] = 1.0
            for name, size in (("key", 4 + length % 3), ("complete", 7 + length % 4)):
                words = torch.randint(10, vocab, (size,), generator=generator)
                texts[name].append(torch.cat((torch.tensor([bos]), words, torch.tensor([eos]))))
        inputs = {"input_features": features, "attention_mask": mask, "labels": labels, "training_progress": 0.25}
        for name, rows in texts.items():
            ids = torch.full((len(rows), max(len(r) for r in rows)), eos)
            attention = torch.zeros_like(ids)
            for i, row in enumerate(rows):
                ids[i, : len(row)], attention[i, : len(row)] = row, 1
            inputs[f"{name}_input_ids"], inputs[f"{name}_attention_mask"] = ids, attention
        return inputs

    def real_step_outputs(self, outputs, index, length):
        return {
            "cas": outputs.cas[index, :length],
            "attention": outputs.attention[index, :length],
            "complete_prior": outputs.complete_prior[index, :length],
            "key_prior": outputs.key_prior[index, :length],
        }


def test_similar_pair_batches_share_a_class():
    labels = [[0], [1], [0, 2], [1], [2], [0]]
    sampler = SimilarPairBatchSampler(labels, batch_size=5, num_pairs=2, num_batches=20, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 20 and all(len(b) == 5 for b in batches)
    for batch in batches:
        for i in (0, 2):
            assert set(labels[batch[i]]) & set(labels[batch[i + 1]]), batch
    assert batches != list(sampler)  # a new draw every epoch
    with pytest.raises(ValueError, match="batch_size"):
        SimilarPairBatchSampler(labels, batch_size=3, num_pairs=2)


def test_delu_protocol_averages_and_ambiguous_segments():
    metrics = {f"mAP@{t}": t for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)}
    averages = wtal_averages(metrics)
    assert averages["average_mAP@0.1:0.5"] == pytest.approx(0.3)
    assert averages["average_mAP@0.3:0.7"] == pytest.approx(0.5)
    assert averages["average_mAP@0.1:0.7"] == pytest.approx(0.4)
    predictions = {
        "a": [
            {"segment": [1.0, 2.0], "score": 0.9, "label": 0},
            {"segment": [2.0, 3.0], "score": 0.8, "label": 0},
            {"segment": [5.0, 6.0], "score": 0.7, "label": 1},
        ],
        "b": [{"segment": [1.0, 2.0], "score": 0.5, "label": 0}],
    }
    kept = drop_ambiguous(predictions, {"a": [[2.5, 5.0]]})
    # [2, 3] overlaps [2.5, 5]; [5, 6] only touches it (no positive overlap); video b has no ambiguous segment
    assert [d["segment"] for d in kept["a"]] == [[1.0, 2.0], [5.0, 6.0]] and kept["b"] == predictions["b"]
