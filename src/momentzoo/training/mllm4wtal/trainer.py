"""The DELU / MLLM4WTAL training recipe: a `Trainer` that feeds the uncertainty curriculum its progress."""

from transformers import Trainer

__all__ = ["WTALTrainer"]


class WTALTrainer(Trainer):
    """`Trainer` for `DELUModel` and `MLLM4WTALModel`: every training forward gets `training_progress` = global step
    / max steps, which drives DELU's uncertainty-guided curriculum (`delta = 1 - 2 * progress`). Use it with
    `remove_unused_columns=False` and a `WeakTALCollator`."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            inputs = dict(inputs, training_progress=self.state.global_step / max(self.state.max_steps, 1))
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
