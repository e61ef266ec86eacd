"""Exponential moving average of a model's weights as a `transformers.TrainerCallback` (ActionFormer's `ModelEma`:
`ema = decay * ema + (1 - decay) * weights` after every optimizer step; the official evaluation uses the EMA).

The average is saved beside every checkpoint as `ema.safetensors` (and read back when training resumes from that
checkpoint: `TrainingArguments.resume_from_checkpoint` a path, or True for the last one in `output_dir`); at the end of training it replaces the model's weights, so `trainer.save_model()` writes the EMA weights
and evaluation runs on them, as the official code evaluates `state_dict_ema`."""

from __future__ import annotations

import os

import torch
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

__all__ = ["EMA_WEIGHTS_NAME", "ModelEMACallback"]

EMA_WEIGHTS_NAME = "ema.safetensors"


class ModelEMACallback(TrainerCallback):
    """Keep an EMA of the model's parameters (the official `ModelEma` averages its `state_dict`, which holds only
    parameters; momentzoo's buffers, such as ActionFormer's positive-count EMA, stay the live model's). `decay` 0.999
    is the official value."""

    def __init__(self, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ModelEMACallback: decay must be in [0, 1), got {decay!r}")
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] | None = None

    @torch.no_grad()
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.shadow = {name: value.detach().clone() for name, value in model.named_parameters()}
        resume = args.resume_from_checkpoint
        if resume is True or resume in ("True", "true"):  # Trainer's "the last checkpoint of output_dir"
            resume = get_last_checkpoint(args.output_dir)
        if isinstance(resume, str) and os.path.isfile(os.path.join(resume, EMA_WEIGHTS_NAME)):
            saved = load_file(os.path.join(resume, EMA_WEIGHTS_NAME))
            for name, value in saved.items():
                if name not in self.shadow:
                    raise ValueError(f"{resume}/{EMA_WEIGHTS_NAME}: {name!r} is not a weight of the model")
                self.shadow[name].copy_(value)

    @torch.no_grad()
    def on_step_end(self, args, state, control, model=None, **kwargs):
        for name, value in model.named_parameters():
            self.shadow[name].mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
            os.makedirs(folder, exist_ok=True)
            save_file({k: v.contiguous().cpu() for k, v in self.shadow.items()}, os.path.join(folder, EMA_WEIGHTS_NAME))

    @torch.no_grad()
    def on_train_end(self, args, state, control, model=None, **kwargs):
        for name, value in model.named_parameters():
            value.copy_(self.shadow[name])
