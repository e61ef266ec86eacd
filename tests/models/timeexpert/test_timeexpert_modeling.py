"""TimeExpert: gating equations, losses, head switching in generate, upcycling and ARIA loading, the common model
tests and bad input."""

import pytest
import torch
from common_model_tests import ModelTesterMixin, one_thread  # noqa: F401
from transformers import AriaTextConfig, AriaTextForCausalLM, LogitsProcessor, Qwen2Config, Qwen2ForCausalLM

from momentzoo.models.timeexpert import TimeExpertEvent, TimeExpertMoE, TimeExpertProcessor
from momentzoo.models.timeexpert.modeling_timeexpert import (
    balance_loss,
    dynamic_gate_logits,
    least_utilised_assignment,
    router_z_loss,
    straight_through_sign_gate,
)
from momentzoo.testing.backbones import _qwen2_text_kwargs
from momentzoo.testing.timeexpert import tiny_timeexpert, tiny_timeexpert_config, tiny_timeexpert_tokenizer

TOKENIZER = tiny_timeexpert_tokenizer()


def _sample(processor, frames: int):
    times = [float(i) for i in range(frames)]
    events = [
        TimeExpertEvent(timestamps=[1.0, frames - 1.0]),
        TimeExpertEvent(scores=[2.5], caption="a person opens the door"),
    ]
    return processor(
        times, "find the moment: a person opens the door.", events, task="moment_retrieval", duration=float(frames)
    )


class TestTimeExpertCommon(ModelTesterMixin):
    model_type = "timeexpert"
    lengths = (5, 3)
    non_default_config_kwargs = {
        "gate_alpha": 0.25,
        "num_experts": 3,
        "layer_num_experts": [3, 5],
        "router_z_loss_coef": 1e-4,
        "num_shared_experts": 2,
    }
    invalid_config_kwargs = [
        ({"num_experts": 0}, "num_experts"),
        ({"gate_alpha": -1.0}, "gate_alpha"),
        ({"layer_num_experts": [2]}, "layer_num_experts"),
        ({"activation_rate_momentum": 1.0}, "activation_rate_momentum"),
        ({"video_token_id": 10**6}, "video_token_id"),
    ]

    def get_config(self, **overrides):
        return tiny_timeexpert_config(TOKENIZER, **overrides)

    def make_inputs(self, model, lengths):
        processor = TimeExpertProcessor.from_config(TOKENIZER, model.config)
        samples = [_sample(processor, n) for n in lengths]
        width = max(len(s["input_ids"]) for s in samples)
        ids = torch.zeros(len(lengths), width, dtype=torch.long)
        labels = torch.full_like(ids, -100)
        mask = torch.zeros_like(ids)
        feats = torch.zeros(len(lengths), max(lengths), 4, model.config.vision_feature_dim)
        frame_mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        for i, (s, n) in enumerate(zip(samples, lengths)):
            ids[i, : len(s["input_ids"])] = torch.tensor(s["input_ids"])
            labels[i, : len(s["labels"])] = torch.tensor(s["labels"])
            mask[i, : len(s["input_ids"])] = 1
            feats[i, :n] = torch.randn(
                n, 4, model.config.vision_feature_dim, generator=torch.Generator().manual_seed(n)
            )
            frame_mask[i, :n] = 1
        self._lengths = {n: len(s["input_ids"]) for s, n in zip(samples, lengths)}
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "frame_features": feats,
            "frame_mask": frame_mask,
            "task_ids": torch.tensor([2, 1][: len(lengths)]),
        }

    def real_step_outputs(self, outputs, index, length):
        tokens = self._lengths[length]
        return {"logits": outputs.logits[index, :tokens], "active_experts": outputs.active_experts[index, :tokens]}

    def test_padding_does_not_change_real_steps(self):
        # the alone batch must carry the same task type as the padded batch's row
        model = self.make_model().eval()
        padded_inputs = self.make_inputs(model, self.lengths)
        with torch.no_grad():
            padded = model(**padded_inputs)
            for index, length in enumerate(self.lengths):
                alone_inputs = self.make_inputs(model, (length,))
                alone_inputs["task_ids"] = padded_inputs["task_ids"][index : index + 1]
                alone = model(**alone_inputs)
                for key, value in self.real_step_outputs(alone, 0, length).items():
                    torch.testing.assert_close(
                        self.real_step_outputs(padded, index, length)[key], value, atol=1e-5, rtol=1e-4
                    )


# ------------------------------------------------------------------------------------------ gating equations
def test_gate_logits_follow_the_equation():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -3.0]])
    rates = torch.tensor([[0.2, 0.4, 0.0], [1.0, 0.0, 0.5]])
    alpha = 0.5
    cos = torch.tensor([[1.0, 2**-0.5, 0.0], [0.0, 2**-0.5, -1.0]])
    torch.testing.assert_close(dynamic_gate_logits(x, w, rates, alpha), (cos + alpha * rates) / (1 + alpha))


def test_sign_gate_values_and_straight_through_gradient():
    logits = torch.tensor([[0.5, -0.5, 0.0]], requires_grad=True)
    threshold = torch.tensor([0.0, -1.0, 0.3], requires_grad=True)
    g = straight_through_sign_gate(logits, threshold)
    margin = torch.sigmoid(logits) - torch.sigmoid(threshold)
    torch.testing.assert_close(g.detach(), torch.sign(margin.detach()))
    assert g.detach().tolist() == [[1.0, 1.0, -1.0]]
    g.sum().backward()
    s = torch.sigmoid(logits.detach())
    torch.testing.assert_close(logits.grad, s * (1 - s))  # d/dz of σ(z) − σ(G): the sign passes the gradient through
    t = torch.sigmoid(threshold.detach())
    torch.testing.assert_close(threshold.grad, -t * (1 - t))


def test_least_utilised_fallback_updates_counts_token_by_token():
    counts = torch.tensor([3, 0, 1, 0])
    # one at a time: e1 (0), e3 (0), e1 (1), e2 (1), e3 (1), e1 (2)
    assert least_utilised_assignment(counts, 6).tolist() == [1, 3, 1, 2, 3, 1]
    assert least_utilised_assignment(counts, 0).tolist() == []


def test_empty_active_set_goes_to_the_least_utilised_expert():
    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER)).train()
    layer = model.moe_layers[0]
    with torch.no_grad():
        layer.gate.threshold.fill_(10.0)  # σ(z) < σ(10) for every expert: every active set is empty
    x = torch.randn(5, model.config.text_config.hidden_size)
    counts = torch.tensor([4, 1, 0, 2])
    gates, active, _, empty = layer.route(
        x, torch.zeros(5, dtype=torch.long), torch.ones(5, dtype=torch.bool), torch.zeros(6, 4), counts
    )
    assert empty.all()
    assert active.sum(dim=-1).tolist() == [1] * 5
    # counts 4,1,0,2: e2 (->1); e1/e2 tie at 1 -> e1 (->2); e2 (->2); e1/e2/e3 tie at 2 -> e1; e2
    assert active.nonzero()[:, 1].tolist() == [2, 1, 2, 1, 2]
    assert (gates[active] == 1).all()
    layer.eval()  # inference: every empty token to the least-utilised expert, independent of the batch
    _, active, _, _ = layer.route(
        x, torch.zeros(5, dtype=torch.long), torch.ones(5, dtype=torch.bool), torch.zeros(6, 4), counts
    )
    assert active.nonzero()[:, 1].tolist() == [2] * 5


def test_moe_output_is_the_mean_over_the_active_set_plus_shared():
    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER)).eval()
    layer = model.moe_layers[0]
    x = torch.randn(1, 3, model.config.text_config.hidden_size)
    model._routing(torch.zeros(1, 3, dtype=torch.long), None, None)
    layer.routing = model._routing(torch.zeros(1, 3, dtype=torch.long), None, torch.tensor([2]))
    with torch.no_grad():
        out = layer(x)
        gates, active, _, _ = layer.route(
            x[0],
            torch.full((3,), 2),
            torch.ones(3, dtype=torch.bool),
            layer.gate.activation_rate,
            layer.gate.expert_counts,
        )
    for t in range(3):
        expected = layer.shared_experts(x[0, t])
        experts = active[t].nonzero().flatten().tolist()
        routed = 0
        for e in experts:
            gate, up = (x[0, t] @ layer.experts.gate_up_proj[e]).chunk(2)
            routed = routed + gates[t, e] * ((torch.nn.functional.silu(gate) * up) @ layer.experts.down_proj[e])
        torch.testing.assert_close(out[0, t], expected + routed / len(experts), atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------------------------------------- losses
def test_z_loss_and_balance_loss_by_hand():
    logits = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    expected_z = ((torch.log(torch.tensor(2.0))) ** 2 + torch.log(torch.e + torch.tensor(1.0)) ** 2) / 2
    torch.testing.assert_close(router_z_loss(logits), expected_z)
    soft = torch.tensor([1.0, 3.0])
    counts = torch.tensor([3, 1])
    torch.testing.assert_close(balance_loss(soft, counts), torch.tensor((0.25 - 0.75) ** 2 + (0.75 - 0.25) ** 2))


def test_total_loss_combines_heads_z_loss_and_aux():
    model = TimeExpertMoE(
        tiny_timeexpert_config(TOKENIZER, router_z_loss_coef=0.5, balance_loss_coef=0.25, gate_norm_loss_coef=0.125)
    ).eval()
    inputs = TestTimeExpertCommon().make_inputs(model, (3,))
    layers = model.moe_layers
    seen = []
    hooks = [layer.register_forward_hook(lambda module, args, output: seen.append(module.losses)) for layer in layers]
    with torch.no_grad():
        out = model(**inputs)
    for hook in hooks:
        hook.remove()
    assert all(layer.losses is None for layer in layers)  # nothing with a graph stays on the modules
    z = torch.stack([losses["z_loss"] for losses in seen]).mean()
    bal = torch.stack([losses["balance_loss"] for losses in seen]).mean()
    norm = torch.stack([layer.gate.weight.norm(dim=-1).sum() for layer in layers]).mean()
    torch.testing.assert_close(out.aux_loss, 0.25 * bal + 0.125 * norm)
    torch.testing.assert_close(out.loss, out.lm_loss + 0.5 * z + out.aux_loss)
    # each target is scored by its own head: a time target's loss is the CE over the 13 time logits only
    layout = model.config.token_layout
    targets = inputs["labels"][0, 1:]
    position = int((targets == layout.time_sync_id).nonzero()[0])
    time_logits = out.logits[0, position, layout.time_offset : layout.score_offset]
    manual = -torch.log_softmax(time_logits, -1)[layout.time_sync_id - layout.time_offset]
    valid = targets != -100
    flat = [
        -torch.log_softmax(out.logits[0, p, lo:hi], -1)[int(targets[p]) - lo]
        for p in valid.nonzero().flatten()
        for lo, hi in [
            [
                (0, layout.time_offset),
                (layout.time_offset, layout.score_offset),
                (layout.score_offset, layout.vocab_size),
            ][layout.head_of(int(targets[p]))]
        ]
    ]
    torch.testing.assert_close(out.lm_loss, torch.stack(flat).mean())
    assert manual in torch.stack(flat)


# --------------------------------------------------------------------------------------- head switching
class _ForceSyncAt(LogitsProcessor):
    """Pushes every <sync> id to the top at the given generation steps (the head switch then keeps the right one)."""

    def __init__(self, sync_ids, prompt_length, steps):
        self.sync_ids, self.prompt_length, self.steps = list(sync_ids), prompt_length, set(steps)

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.prompt_length in self.steps:
            scores = scores.clone()
            scores[:, self.sync_ids] = 1e4
        return scores


def test_generate_switches_heads_at_each_sync():
    model, tokenizer = tiny_timeexpert()
    model.eval()
    layout = model.config.token_layout
    processor = TimeExpertProcessor.from_config(tokenizer, model.config)
    sample = processor([0.0, 1.0, 2.0], "find the moment: a person opens the door.", task="moment_retrieval")
    ids = torch.tensor([sample["input_ids"]])
    steps = [2, 4, 6, 9, 10, 11]
    out = model.generate(
        input_ids=ids,
        frame_features=torch.randn(1, 3, 4, 16),
        task_ids=torch.tensor([2]),
        max_new_tokens=14,
        do_sample=False,
        logits_processor=[_ForceSyncAt(layout.sync_ids, ids.shape[1], steps)],
    )
    new = out[0, ids.shape[1] :].tolist()
    phase = 0
    for position, token in enumerate(new):
        head = layout.head_of(token)
        if token == layout.eos_token_id:
            assert phase == 0
            break
        assert head == [1, 2, 0][phase], f"token {position} ({token}) from head {head} in phase {phase}"
        assert token != model.config.video_token_id
        if token in layout.sync_ids:
            assert position in steps
            phase = (phase + 1) % 3
    assert [new[s] for s in steps[:3]] == [layout.time_sync_id, layout.score_sync_id, layout.text_sync_id]
    text = processor.decode(new)
    assert text.count("<sync>") >= 3


# ----------------------------------------------------------------------------------- initialisation
def test_sparse_upcycling_keeps_the_dense_function():
    tokenizer = tiny_timeexpert_tokenizer()
    text = dict(_qwen2_text_kwargs(tokenizer, 32, 2), intermediate_size=32)
    dense = Qwen2ForCausalLM(Qwen2Config(**text)).eval()
    ids = torch.tensor([tokenizer("a person opens the door")["input_ids"]])
    with torch.no_grad():
        expected = dense(input_ids=ids).logits
    model = TimeExpertMoE.from_backbones(
        dense,
        tokenizer=tokenizer,
        num_experts=4,
        expert_intermediate_size=32,
        num_shared_experts=1,
        vision_feature_dim=16,
    ).eval()
    layer = model.moe_layers[0]
    assert torch.equal(layer.experts.gate_up_proj[0], layer.experts.gate_up_proj[3])
    with torch.no_grad():
        out = model(input_ids=ids).logits[..., : model.config.text_config.vocab_size]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="expert_intermediate_size"):
        TimeExpertMoE.from_backbones(
            Qwen2ForCausalLM(Qwen2Config(**text)), tokenizer=tokenizer, num_experts=2, expert_intermediate_size=16
        )


def test_aria_moe_weights_load_into_the_routed_and_shared_experts():
    tokenizer = tiny_timeexpert_tokenizer()
    aria = AriaTextForCausalLM(
        AriaTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=16,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            moe_num_experts=4,
            moe_topk=2,
            moe_num_shared_experts=2,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    ).eval()
    source = aria.model.layers[1].mlp  # from_backbones puts TimeExpert's layers into this LM
    model = TimeExpertMoE.from_backbones(aria, tokenizer=tokenizer, vision_feature_dim=16)
    assert model.config.experts_per_layer == [4, 4] and model.config.expert_intermediate_size == 16
    layer = model.moe_layers[1]
    assert torch.equal(layer.gate.weight, source.router.weight)
    assert torch.equal(layer.experts.gate_up_proj, source.experts.gate_up_proj)
    assert torch.equal(layer.experts.down_proj, source.experts.down_proj)
    assert torch.equal(layer.shared_experts.down_proj.weight, source.shared_experts.down_proj.weight)


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER)).eval()
    inputs = TestTimeExpertCommon().make_inputs(model, (3,))
    with pytest.raises(ValueError, match="task_ids must be indices"):
        model(**{**inputs, "task_ids": torch.tensor([7])})
    with pytest.raises(ValueError, match="video placeholder tokens"):
        model(**{**inputs, "frame_features": inputs["frame_features"][:, :2], "frame_mask": None})
    bad = inputs["frame_features"].clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(**{**inputs, "frame_features": bad})
    with pytest.raises(ValueError, match="pixel_values needs a vision encoder"):
        model(input_ids=inputs["input_ids"], pixel_values=torch.zeros(1, 3, 3, 8, 8))


def test_model_pickles_and_deep_copies_after_a_training_step():
    import copy
    import pickle

    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER)).train()
    inputs = TestTimeExpertCommon().make_inputs(model, (3,))
    model(**inputs).loss.backward()
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        with torch.no_grad():
            assert torch.equal(clone.eval()(**inputs).logits, model.eval()(**inputs).logits)


def test_from_backbones_takes_the_vision_tower_of_a_clip_checkpoint(tmp_path):
    from momentzoo.testing import tiny_clip

    clip, _ = tiny_clip(tokenizer=TOKENIZER)
    clip.save_pretrained(tmp_path / "clip")
    (tmp_path / "clip" / "preprocessor_config.json").write_text(
        '{"image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}'
    )
    dense = Qwen2ForCausalLM(Qwen2Config(**dict(_qwen2_text_kwargs(TOKENIZER, 32, 2), intermediate_size=32)))
    model = TimeExpertMoE.from_backbones(
        dense,
        vision_model=str(tmp_path / "clip"),
        tokenizer=TOKENIZER,
        num_experts=2,
        expert_intermediate_size=32,
        num_shared_experts=1,
        num_visual_tokens_per_frame=2,
    )
    assert model.config.vision_config.model_type == "clip_vision_model"
    assert model.config.image_mean == [0.48145466, 0.4578275, 0.40821073]  # from the checkpoint's preprocessor
    assert model.config.vision_feature_dim == clip.config.vision_config.hidden_size
    loaded = dict(model.vision_model.named_parameters())
    key = next(k for k in loaded if k.endswith("patch_embedding.weight"))
    assert torch.equal(loaded[key], clip.vision_model.embeddings.patch_embedding.weight)
    processor = TimeExpertProcessor.from_config(TOKENIZER, model.config)
    sample = processor([0.0, 1.0], "find the moment: a door.", [TimeExpertEvent([0.0, 1.0])], duration=2.0)
    out = model(
        input_ids=torch.tensor([sample["input_ids"]]),
        labels=torch.tensor([sample["labels"]]),
        pixel_values=torch.randn(1, 2, 3, 32, 32),
        task_ids=torch.tensor([2]),
    )
    assert torch.isfinite(out.loss)
