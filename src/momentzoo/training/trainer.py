"""momentzoo's `Trainer` for temporal action localization.

`Trainer.evaluate` scores the evaluation videos with the `tal_map` metric: the videos are cut into sliding windows,
each process predicts its share of the windows, the window predictions are gathered
(`accelerator.gather_for_metrics`) and merged per video with the model's NMS, and mAP is computed over the whole
split. So `eval_strategy`, `metric_for_best_model="average_mAP"`, `load_best_model_at_end`, `report_to` and
`trainer_state.json` all see mAP. `Trainer.push_to_hub()` (and `create_model_card`) write the momentzoo model card
of the trained model, titled by the repo id, with the latest evaluation metrics.

    args = TemporalLocalizationTrainingArguments("out", eval_strategy="epoch", metric_for_best_model="average_mAP",
                                                 load_best_model_at_end=True, save_strategy="epoch")
    trainer = TemporalLocalizationTrainer(model=model, args=args, train_dataset=train, eval_dataset=test,
                                          data_collator=collator)
    trainer.train()
    trainer.push_to_hub(dataset="thumos14")   # README.md: the model family's card, mAP in its model-index
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments
from transformers.trainer_utils import speed_metrics

from ..data.collators import TemporalLocalizationCollator
from ..data.windows import TemporalFeatureDataset, merge_window_predictions, sliding_windows
from ..hub import MomentzooModelCardMixin, hub_repo_id, save_model_card
from ..metrics.tal_map.tal_map import DEFAULT_IOU_THRESHOLDS
from ..models.temporal_localization import TemporalLocalizationConfigMixin
from .tal import _check_classes, class_names_of, encode_video_dataset, score_predictions, window_merge_nms_kwargs

__all__ = [
    "MomentzooTrainerCardMixin",
    "TemporalLocalizationTrainer",
    "TemporalLocalizationTrainingArguments",
    "latest_eval_metrics",
]

# Trainer.evaluate's bookkeeping, not model metrics.
_NOT_METRICS = ("loss", "runtime", "samples_per_second", "steps_per_second", "epoch")


def latest_eval_metrics(log_history: list[dict]) -> dict[str, float]:
    """The metrics of the last `Trainer.evaluate` in a trainer state's log history, without the `eval_` prefix
    and the bookkeeping (loss, runtime, speed, epoch)."""
    for entry in reversed(log_history):
        metrics = {k.removeprefix("eval_"): v for k, v in entry.items() if k.startswith("eval_")}
        if metrics:
            return {
                k: float(v)
                for k, v in metrics.items()
                if k not in _NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)
            }
    return {}


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class MomentzooTrainerCardMixin:
    """For a `transformers.Trainer` subclass (before it in the bases): `create_model_card`, which
    `Trainer.push_to_hub()` calls after saving, renders the momentzoo card of the trained model (`hub.py`) as
    `output_dir/README.md`. It keeps `Trainer.create_model_card`'s signature; extra keywords go to the card."""

    def create_model_card(
        self,
        language: str | None = None,
        license: str | None = None,
        tags: str | list[str] | None = None,
        model_name: str | None = None,
        finetuned_from: str | None = None,
        tasks: str | list[str] | None = None,
        dataset_tags: str | list[str] | None = None,
        dataset: str | list[str] | None = None,
        dataset_args: str | list[str] | None = None,
        **card_kwargs,
    ) -> None:
        if not self.is_world_process_zero():
            return
        model = self.accelerator.unwrap_model(self.model)
        if not isinstance(model, MomentzooModelCardMixin):
            return super().create_model_card(
                language=language,
                license=license,
                tags=tags,
                model_name=model_name,
                finetuned_from=finetuned_from,
                tasks=tasks,
                dataset_tags=dataset_tags,
                dataset=dataset,
                dataset_args=dataset_args,
            )
        output_dir = Path(self.args.output_dir)
        repo_id = self.hub_model_id or self.args.hub_model_id or model_name or output_dir.resolve().name
        card = dict(model.model_card_kwargs())
        # A checkpoint fine-tuned from a Hub model names it; a new model names the backbones it was built on.
        started_from = finetuned_from or hub_repo_id(model.config.name_or_path)
        if started_from and started_from != repo_id:
            card["base_model"] = [started_from]
        datasets = _as_list(dataset) or _as_list(dataset_tags)
        results = latest_eval_metrics(self.state.log_history)
        epochs = f" ({self.state.epoch:g} epochs)" if self.state.epoch else ""
        details = (
            f"Trained with momentzoo's `{type(self).__name__}` for {self.state.global_step} steps{epochs}: learning "
            f"rate {self.args.learning_rate:g}, {self.args.per_device_train_batch_size} videos per device and step, "
            f"seed {self.args.seed}." + (" Evaluated during training with `Trainer.evaluate`." if results else "")
        )
        card.update(
            model_id=repo_id,
            datasets=datasets or None,
            results=results or None,
            tags=_as_list(tags) or None,
            language=language,
            training_details=details,
        )
        card.update(card_kwargs)
        if license is not None:
            card["license"] = license
        save_model_card(model, output_dir, **card)


@dataclass
class TemporalLocalizationTrainingArguments(TrainingArguments):
    """`TrainingArguments` with how `TemporalLocalizationTrainer.evaluate` scores the evaluation videos."""

    eval_window_size: int | None = field(
        default=None,
        metadata={
            "help": "Evaluate in sliding windows of this many feature steps (default: the model's declared "
            "inference window, config.inference_window)."
        },
    )
    eval_window_overlap: float | None = field(
        default=None,
        metadata={"help": "Overlap of consecutive evaluation windows (default: the model's declared one)."},
    )
    iou_thresholds: list[float] = field(
        default_factory=lambda: list(DEFAULT_IOU_THRESHOLDS), metadata={"help": "tIoU thresholds of the mAP."}
    )
    eval_video_fps: float | None = field(
        default=None,
        metadata={
            "help": "Frames per second at which evaluation videos are encoded (end-to-end models; "
            "default: each video's own rate)."
        },
    )
    # The collators need the raw columns (features, geometry, segments), not just forward()'s arguments.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep the dataset columns for the collator."})

    def __post_init__(self):
        super().__post_init__()
        if self.eval_window_overlap is not None and not 0 <= self.eval_window_overlap < 1:
            raise ValueError(f"eval_window_overlap must be in [0, 1), got {self.eval_window_overlap!r}")
        if not self.iou_thresholds or any(not 0 < t <= 1 for t in self.iou_thresholds):
            raise ValueError(f"iou_thresholds must be values in (0, 1], got {self.iou_thresholds!r}")
        if self.eval_window_size is not None and self.eval_window_size < 1:
            raise ValueError(f"eval_window_size must be None or a positive int, got {self.eval_window_size!r}")


class TemporalLocalizationTrainer(MomentzooTrainerCardMixin, Trainer):
    """`transformers.Trainer` for momentzoo's temporal action localization models, whose `evaluate` reports the
    `tal_map` metrics (`eval_mAP@t`, `eval_average_mAP`) and the windows' mean loss (`eval_loss`) of an
    evaluation dataset of TAL rows (see the module docstring). The evaluation settings come from
    `TemporalLocalizationTrainingArguments` (plain `TrainingArguments` use their defaults)."""

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        if dataset is None:
            raise ValueError("Trainer: evaluation requires an eval_dataset (TAL rows with segments and labels).")
        if isinstance(dataset, dict):  # several evaluation sets, as transformers' Trainer takes them
            metrics = {}
            for name, split in dataset.items():
                metrics.update(self.evaluate(split, ignore_keys, f"{metric_key_prefix}_{name}"))
            return metrics
        self._memory_tracker.start()
        start = time.time()
        predictions, loss = self.predict_videos(dataset)
        predictions, scores = self.score_videos(predictions, dataset)
        metrics = {k: float(v) for k, v in scores.items() if isinstance(v, (int, float))}
        if loss is not None:
            metrics["loss"] = loss
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in metrics.items()}
        metrics.update(speed_metrics(metric_key_prefix, start, num_samples=len(dataset)))
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        self._memory_tracker.stop_and_update_metrics(metrics)
        self.last_eval_predictions, self.last_eval_results = predictions, scores  # per video; tal_map in full
        return metrics

    def score_videos(self, predictions: dict[str, list[dict]], dataset) -> tuple[dict[str, list[dict]], dict]:
        """`(predictions, tal_map results)`: the merged per-video predictions scored against the dataset's segments
        at the arguments' `iou_thresholds`. Subclasses change the protocol here (WTAL drops ambiguous segments)."""
        thresholds = getattr(self.args, "iou_thresholds", DEFAULT_IOU_THRESHOLDS)
        return predictions, score_predictions(predictions, dataset, thresholds)

    def evaluation_inputs(self, batch: dict) -> dict:
        """The `forward` inputs of an evaluation batch of windows (features, mask and the windows' segment labels,
        for the evaluation loss). Subclasses drop what their model cannot take at evaluation."""
        return batch

    @torch.no_grad()
    def predict_videos(self, dataset) -> tuple[dict[str, list[dict]], float | None]:
        """`({video_id: [{"segment", "score", "label"}, ...]}, mean window loss or None)` on a TAL dataset (rows
        with `features`; a dataset of `video`s is first encoded by an end-to-end model's own encoder). Every
        process predicts its share of the windows; all processes get every video's merged predictions."""
        model = self.accelerator.unwrap_model(self.model)
        config = model.config
        if not isinstance(config, TemporalLocalizationConfigMixin):
            raise ValueError(f"{type(config).__name__} is not a temporal-localization config")
        # an open-vocabulary model scores the dataset's own classes; a closed-set one must have been trained on them
        class_kwargs = {"class_names": class_names_of(dataset)} if config.takes_class_names else {}
        if not class_kwargs:
            _check_classes(model, dataset)
        if "features" not in dataset.column_names:
            dataset = encode_video_dataset(model, dataset, fps=getattr(self.args, "eval_video_fps", None))
        size, overlap = config.inference_window  # the model's own protocol, unless the arguments set one
        size = getattr(self.args, "eval_window_size", None) or size
        given = getattr(self.args, "eval_window_overlap", None)
        overlap = overlap if given is None else given
        rows = TemporalFeatureDataset(dataset)
        windows = sliding_windows(rows, size, overlap) if size else rows
        collator = TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True)
        loader = self.accelerator.prepare(
            torch.utils.data.DataLoader(
                windows,
                batch_size=self.args.per_device_eval_batch_size,
                collate_fn=collator,
                num_workers=self.args.dataloader_num_workers,
            )
        )
        dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
        was_training = model.training
        model.eval()
        gathered = []
        loss_sum = torch.zeros(2, dtype=torch.float64, device=self.args.device)  # (sum of window losses, windows)
        try:
            for batch in loader:
                metadata = batch.pop("metadata")
                batch["input_features"] = batch["input_features"].to(dtype)
                outputs = model(**self.evaluation_inputs(batch), **class_kwargs)
                window_predictions = model.post_process(outputs, metadata, label_names=True, **class_kwargs)
                # one entry per window; the windows a process repeated to even out the last batch are dropped
                gathered.extend(
                    self.accelerator.gather_for_metrics(list(zip(window_predictions, metadata)), use_gather_object=True)
                )
                if outputs.loss is not None:  # the batch's mean loss, weighted by its windows
                    loss_sum += torch.stack(
                        [
                            outputs.loss.detach().double() * len(metadata),
                            torch.tensor(float(len(metadata)), dtype=torch.float64, device=outputs.loss.device),
                        ]
                    ).to(loss_sum.device)
        finally:
            model.train(was_training)
        merged = merge_window_predictions(
            [p for p, _ in gathered], [m for _, m in gathered], window_merge_nms_kwargs(config)
        )
        # mean loss over the windows of all processes (under data parallel, repeated last-batch windows count too)
        total, count = self.accelerator.reduce(loss_sum, reduction="sum").tolist()
        loss = total / count if count and math.isfinite(total) else None
        return merged, loss
