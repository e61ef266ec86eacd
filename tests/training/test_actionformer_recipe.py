"""ActionFormer's official training recipe: weight EMA (a Trainer callback, saved with checkpoints, the final
weights) and the official weight-decay groups."""

import torch
from safetensors.torch import load_file
from torch.utils.data import Dataset
from transformers import TrainingArguments

from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
from momentzoo.testing.actionformer import tiny_actionformer_config
from momentzoo.training.actionformer import ActionFormerTrainer, ModelEMACallback, official_decay_parameter_names


class _Videos(Dataset):
    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.features = torch.randn(4, 32, 12, generator=generator)

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return {
            "input_features": self.features[index],
            "labels": {"class_labels": torch.tensor([index % 3]), "segments": torch.tensor([[4.0, 12.0]])},
        }


def _collate(rows):
    return {"input_features": torch.stack([r["input_features"] for r in rows]), "labels": [r["labels"] for r in rows]}


def _trainer(tmp_path, callbacks, **overrides):
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config(max_seq_len=32))
    values = {
        "output_dir": str(tmp_path),
        "max_steps": 3,
        "per_device_train_batch_size": 2,
        "learning_rate": 0.1,
        "optim": "sgd",
        "lr_scheduler_type": "constant",
        "weight_decay": 0.05,
        "report_to": "none",
        "use_cpu": True,
        "save_strategy": "steps",
        "save_steps": 2,
        "disable_tqdm": True,
        "remove_unused_columns": False,
    }
    values.update(overrides)
    return ActionFormerTrainer(
        model=model,
        args=TrainingArguments(**values),
        train_dataset=_Videos(),
        data_collator=_collate,
        callbacks=callbacks,
    )


class _Recorder(ModelEMACallback):
    """Records the raw weights after every step (before the EMA swap at the end)."""

    def __init__(self, decay):
        super().__init__(decay)
        self.steps = []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        super().on_train_begin(args, state, control, model=model, **kwargs)
        self.steps.append({n: p.detach().clone() for n, p in model.named_parameters()})

    def on_step_end(self, args, state, control, model=None, **kwargs):
        super().on_step_end(args, state, control, model=model, **kwargs)
        self.steps.append({n: p.detach().clone() for n, p in model.named_parameters()})


def test_ema_callback_averages_every_step_saves_it_and_ends_with_the_ema_weights(tmp_path):
    recorder = _Recorder(decay=0.9)
    trainer = _trainer(tmp_path, [recorder])
    trainer.train()
    name = "reg_head.offset.weight"
    expected = recorder.steps[0][name]
    for weights in recorder.steps[1:]:
        expected = 0.9 * expected + 0.1 * weights[name]
    final = dict(trainer.model.named_parameters())[name]
    torch.testing.assert_close(final, expected)  # the model ends with the EMA, which save_model then writes
    assert not torch.allclose(final, recorder.steps[-1][name])
    saved = load_file(tmp_path / "checkpoint-2" / "ema.safetensors")  # saved with the checkpoint
    at_step_2 = 0.9 * (0.9 * recorder.steps[0][name] + 0.1 * recorder.steps[1][name]) + 0.1 * recorder.steps[2][name]
    torch.testing.assert_close(saved[name], at_step_2)
    assert "loss_normalizer" not in saved  # buffers stay the live model's

    resumed = _Recorder(decay=0.9)  # resuming from the checkpoint continues its average: one more step (3)
    checkpoint = str(tmp_path / "checkpoint-2")
    again = _trainer(tmp_path, [resumed], resume_from_checkpoint=checkpoint)
    again.train(resume_from_checkpoint=checkpoint)
    assert len(resumed.steps) == 2
    final = dict(again.model.named_parameters())[name]
    torch.testing.assert_close(final, 0.9 * saved[name] + 0.1 * resumed.steps[1][name])


def test_official_decay_groups_exempt_scales_layer_scales_norms_and_biases(tmp_path):
    trainer = _trainer(tmp_path, [])
    decayed = set(official_decay_parameter_names(trainer.model))
    assert "reg_head.scales.0.scale" not in decayed and "model.backbone.stem.0.drop_path_attn.scale" not in decayed
    assert "model.backbone.stem.0.norm1.weight" not in decayed and "cls_head.classifier.bias" not in decayed
    assert {
        "cls_head.classifier.weight",
        "model.backbone.stem.0.attn.query.weight",
        "model.backbone.projection.0.weight",
        "model.backbone.stem.0.attn.query_conv.weight",
    } <= decayed
    optimizer = trainer.create_optimizer()
    by_id = {id(p): n for n, p in trainer.model.named_parameters()}
    groups = {g["weight_decay"]: {by_id[id(p)] for p in g["params"]} for g in optimizer.param_groups}
    assert groups[0.05] == decayed and "reg_head.scales.3.scale" in groups[0.0]
    # as the official make_optimizer: decay exactly on Linear / Conv1d weights
    assert all(n.endswith(".weight") and "norm" not in n for n in groups[0.05])
