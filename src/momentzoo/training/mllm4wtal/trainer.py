"""The DELU / MLLM4WTAL training recipe: a `TemporalLocalizationTrainer` that feeds the uncertainty curriculum its
progress, samples DELU's batches of similar pairs and evaluates with DELU's protocol."""

from dataclasses import dataclass, field

import torch

from ...models.mllm4wtal import MLLM4WTALConfig
from ..trainer import TemporalLocalizationTrainer, TemporalLocalizationTrainingArguments
from .evaluation import WTAL_IOU_THRESHOLDS, drop_ambiguous, wtal_averages
from .sampler import SimilarPairBatchSampler

__all__ = ["WTALTrainer", "WTALTrainingArguments"]


@dataclass
class WTALTrainingArguments(TemporalLocalizationTrainingArguments):
    """`TemporalLocalizationTrainingArguments` with DELU's evaluation protocol: mAP at tIoU 0.1, 0.2, ..., 0.7 (and
    the averages over 0.1:0.5, 0.3:0.7 and 0.1:0.7), detections overlapping an `ambiguous_column` segment dropped."""

    iou_thresholds: list[float] = field(
        default_factory=lambda: list(WTAL_IOU_THRESHOLDS), metadata={"help": "tIoU thresholds of the mAP."}
    )
    ambiguous_column: str | None = field(
        default="ambiguous_segments",
        metadata={"help": "Column of segments (seconds) whose overlapping detections are not scored (THUMOS14's)."},
    )


class WTALTrainer(TemporalLocalizationTrainer):
    """`TemporalLocalizationTrainer` for `DELUModel` and `MLLM4WTALModel`:

    * every training forward gets `training_progress` = global step / max steps, which drives DELU's
      uncertainty-guided curriculum (`delta = 1 - 2 * progress`);
    * with `label_column` (the video-level labels of the training rows), training batches come from
      `SimilarPairBatchSampler`: the base config's `num_similar_pairs` pairs sharing a class first (the co-activity
      loss compares them), then random videos, as DELU samples; without it, the usual shuffled batches;
    * `evaluate` scores segment ground truth with DELU's protocol (`WTALTrainingArguments`): tal_map at the
      arguments' thresholds plus the WTAL averages, detections on ambiguous segments dropped. MLLM4WTAL evaluation
      windows carry no descriptions, so they report no loss.

    Use it with a `WeakTALCollator` for training."""

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
        base = config.base_config if isinstance(config, MLLM4WTALConfig) else config
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

    def evaluation_inputs(self, batch: dict) -> dict:
        if isinstance(self.accelerator.unwrap_model(self.model).config, MLLM4WTALConfig):
            batch = {k: v for k, v in batch.items() if k != "labels"}  # its loss needs the training descriptions
        return batch

    def score_videos(self, predictions, dataset):
        column = getattr(self.args, "ambiguous_column", "ambiguous_segments")
        if column is not None and column in dataset.column_names:
            rows = dataset.select_columns(["video_id", column])
            predictions = drop_ambiguous(predictions, {r["video_id"]: r[column] for r in rows})
        predictions, scores = super().score_videos(predictions, dataset)
        thresholds = {f"mAP@{t}" for t in WTAL_IOU_THRESHOLDS}
        if thresholds <= set(scores):
            scores.update(wtal_averages(scores))
        return predictions, scores
