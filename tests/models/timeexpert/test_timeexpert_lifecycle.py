"""TimeExpert's expert lifecycle: removing and adding experts keeps the model runnable, it trains on, the optimizer
state follows, and save/reload is bit-exact; the Trainer callback does it every T_update steps."""

import torch
from common_model_tests import one_thread  # noqa: F401
from test_timeexpert_modeling import TestTimeExpertCommon
from transformers import AutoModel

from momentzoo.models.timeexpert import TimeExpertMoE
from momentzoo.testing.timeexpert import tiny_timeexpert_config, tiny_timeexpert_tokenizer
from momentzoo.training.timeexpert import apply_expert_update, plan_expert_update

TOKENIZER = tiny_timeexpert_tokenizer()


def _inputs(model):
    return TestTimeExpertCommon().make_inputs(model, (4, 3))


def test_plan_removes_rare_experts_and_adds_one_for_unrouted_tokens():
    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER, min_activation_rate=0.1))
    gate = model.moe_layers[0].gate
    gate.activation_rate[:] = 0.5
    gate.activation_rate[:, 2] = 0.05  # rare for every task type
    gate.activation_rate[3, 1] = 0.0
    gate.unrouted_sum[:] = 0.0
    gate.unrouted_sum[0] = 6.0
    gate.unrouted_count.fill_(3)
    model.moe_layers[1].gate.activation_rate[:] = 0.5
    remove, add = plan_expert_update(model)
    assert remove == {0: [2]}
    assert list(add) == [0]
    expected = torch.zeros(model.config.text_config.hidden_size)
    expected[0] = 1.0  # R_S / ||R_S||
    torch.testing.assert_close(add[0][0], expected)


def test_update_keeps_the_model_runnable_training_and_reloadable(tmp_path):
    torch.manual_seed(0)
    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER, min_activation_rate=0.3)).train()
    inputs = _inputs(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(3):
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    layer = model.moe_layers[0]
    old_gate_up = layer.experts.gate_up_proj
    old_moment = optimizer.state[old_gate_up]["exp_avg"].clone()
    for other in model.moe_layers:
        other.gate.activation_rate.fill_(0.5)
        other.gate.unrouted_count.zero_()
    layer.gate.activation_rate[:, 1] = 0.1  # expert 1 is rare for every task type
    layer.gate.unrouted_sum[:] = 1.0
    layer.gate.unrouted_count.fill_(2)
    change = apply_expert_update(model, optimizer)
    kept = torch.tensor([0, 2, 3])
    assert change == {"removed": {0: 1}, "added": {0: 1}}
    assert model.config.layer_num_experts[0] == len(kept) + 1 == layer.num_experts
    new_gate_up = layer.experts.gate_up_proj
    assert new_gate_up is not old_gate_up and old_gate_up not in optimizer.state
    assert torch.equal(optimizer.state[new_gate_up]["exp_avg"][: len(kept)], old_moment[kept])
    assert not optimizer.state[new_gate_up]["exp_avg"][-1].any()
    assert any(p is new_gate_up for group in optimizer.param_groups for p in group["params"])
    assert layer.gate.threshold[-1] == 0 and torch.isclose(layer.gate.weight[-1].norm(), torch.tensor(1.0))

    before = new_gate_up.detach().clone()
    for _ in range(2):  # trains on, the new parameters included
        loss = model(**inputs).loss
        assert torch.isfinite(loss)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert not torch.equal(before, layer.experts.gate_up_proj)

    model.eval()
    with torch.no_grad():
        expected = model(**inputs)
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert loaded.config.layer_num_experts == model.config.layer_num_experts
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    assert all(torch.equal(state[k], loaded_state[k]) for k in state)
    with torch.no_grad():
        out = loaded(**inputs)
    assert torch.equal(out.logits, expected.logits)


def test_callback_updates_every_interval_inside_trainer(tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from momentzoo.training.timeexpert import TimeExpertLifecycleCallback

    model = TimeExpertMoE(tiny_timeexpert_config(TOKENIZER, min_activation_rate=0.99, expert_update_interval=2))
    inputs = _inputs(model)
    rows = [{k: v[i % 2] for k, v in inputs.items()} for i in range(8)]
    dataset = Dataset.from_list([{k: v.tolist() for k, v in r.items()} for r in rows]).with_format("torch")
    callback = TimeExpertLifecycleCallback()
    args = TrainingArguments(
        tmp_path,
        per_device_train_batch_size=2,
        max_steps=4,
        learning_rate=1e-3,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset, callbacks=[callback])
    trainer.train()
    assert [h["step"] for h in callback.history] == [2, 4]
    assert model.config.layer_num_experts is not None and min(model.config.layer_num_experts) >= 1
    trainer.save_model(tmp_path / "final")
    assert AutoModel.from_pretrained(tmp_path / "final").config.layer_num_experts == model.config.layer_num_experts


def test_callback_refuses_multi_process_runs():
    from types import SimpleNamespace

    import pytest

    from momentzoo.training.timeexpert import TimeExpertLifecycleCallback

    with pytest.raises(ValueError, match="single process.*2 processes"):
        TimeExpertLifecycleCallback().on_train_begin(SimpleNamespace(world_size=2), None, None)
    with pytest.raises(ValueError, match="update_interval"):
        TimeExpertLifecycleCallback(update_interval=0)
