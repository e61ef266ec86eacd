"""The DELU / MLLM4WTAL training recipe: a `Trainer` that feeds the uncertainty curriculum its progress and samples
DELU's batches of similar pairs."""

import torch
from transformers import Trainer

from ..trainer import MomentzooTrainerCardMixin
from .sampler import SimilarPairBatchSampler

__all__ = ["WTALTrainer"]


class WTALTrainer(MomentzooTrainerCardMixin, Trainer):
    """`Trainer` for `DELUModel` and `MLLM4WTALModel`:

    * every training forward gets `training_progress` = global step / max steps, which drives DELU's
      uncertainty-guided curriculum (`delta = 1 - 2 * progress`);
    * with `label_column` (the video-level labels of the training rows), training batches come from
      `SimilarPairBatchSampler`: the base config's `num_similar_pairs` pairs sharing a class first (the co-activity
      loss compares them), then random videos, as DELU samples; without it, the usual shuffled batches.

    Use it with `remove_unused_columns=False` and a `WeakTALCollator`."""

    def __init__(self, *args, label_column: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_column = label_column

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            inputs = dict(inputs, training_progress=self.state.global_step / max(self.state.max_steps, 1))
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    def get_train_dataloader(self):
        if self.label_column is None:
            return super().get_train_dataloader()
        config = self.accelerator.unwrap_model(self.model).config
        base = getattr(config, "base_config", config)
        sampler = SimilarPairBatchSampler(
            self.train_dataset[self.label_column], self._train_batch_size, base.num_similar_pairs, seed=self.args.seed
        )
        loader = torch.utils.data.DataLoader(
            self.train_dataset,
            batch_sampler=sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)
