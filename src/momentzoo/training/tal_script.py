"""The steps every TAL example script shares around its `Trainer`: loading the splits its data arguments name, and,
after training, scoring the evaluation split with `tal_map`, writing the files `momentzoo evaluate` reads, the
model card with the results, and the optional Hub upload."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import transformers

from ..data.collators import TemporalLocalizationCollator
from ..hub import push_to_hub, save_model_card
from .arguments import as_dict
from .tal_arguments import TALDataArguments
from .tal_datasets import load_tal_dataset
from .tal_evaluation import evaluate_tal, format_map_table, write_predictions_json, write_references_json

__all__ = ["setup_script", "load_splits", "training_collator", "finish_tal_training"]


def setup_script(training_args, logger: logging.Logger) -> bool:
    """Logging as transformers' examples do; the collator needs the raw columns (`remove_unused_columns=False`);
    the Hub upload is taken out of `Trainer` (it would write its own card) and done by `finish_tal_training`.
    Returns whether to push."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO,
                        handlers=[logging.StreamHandler(sys.stdout)])
    if not training_args.should_log:
        logger.setLevel(logging.WARNING)
        transformers.utils.logging.set_verbosity_warning()
    training_args.remove_unused_columns = False
    push, training_args.push_to_hub = training_args.push_to_hub, False
    return push


def load_splits(data_args: TALDataArguments):
    """`(dataset_dict, train_split, eval_split_or_None)` with `max_train_videos` / `max_eval_videos` applied."""
    data = load_tal_dataset(data_args.dataset, as_dict(data_args.dataset_kwargs, "dataset_kwargs"),
                            cache_dir=data_args.cache_dir)
    for split in (data_args.train_split, data_args.eval_split):
        if split is not None and split not in data:
            raise ValueError(f"split {split!r} not in the dataset (splits: {list(data)})")
    train = data[data_args.train_split]
    if data_args.max_train_videos is not None:
        train = train.select(range(min(data_args.max_train_videos, len(train))))
    evaluation = None
    if data_args.eval_split is not None:
        evaluation = data[data_args.eval_split]
        if data_args.max_eval_videos is not None:
            evaluation = evaluation.select(range(min(data_args.max_eval_videos, len(evaluation))))
    return data, train, evaluation


def training_collator(data_args: TALDataArguments, config) -> TemporalLocalizationCollator:
    """The training collator of the TAL examples: ActionFormer's random truncation to the data arguments' window
    (the model's `max_seq_len` unless set)."""
    return TemporalLocalizationCollator(
        max_seq_len=data_args.max_seq_len or config.max_seq_len,
        training=True,
        trunc_thresh=data_args.trunc_thresh,
        crop_ratio=tuple(data_args.crop_ratio) if data_args.crop_ratio else None,
        padding=data_args.padding,
    )


def finish_tal_training(trainer, data_args: TALDataArguments, training_args, evaluation, push: bool, name: str,
                        script: str, forward_kwargs: dict | None = None, extra=None) -> dict:
    """Save the model (with its card), then on the main process score `evaluation` with `tal_map`, write
    `eval_results.json`, `predictions.json`, `ground_truth.json`, re-render the card with the results and push when
    asked. `extra(model, evaluation)` may return more results for `eval_results.json` (not for the card)."""
    trainer.save_model()  # the model's save_pretrained writes its card (main process only)
    summary = {}
    output_dir = Path(training_args.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    card = dict(model_card_kwargs(model), model_id=training_args.hub_model_id or str(output_dir),
                datasets=[data_args.dataset])
    if evaluation is not None and trainer.is_world_process_zero():
        metrics, predictions = evaluate_tal(
            model, evaluation, iou_thresholds=data_args.iou_thresholds, window_size=data_args.eval_window_size,
            window_overlap=data_args.eval_window_overlap, batch_size=training_args.per_device_eval_batch_size,
            progress=not training_args.disable_tqdm, forward_kwargs=forward_kwargs,
        )
        write_predictions_json(predictions, output_dir / "predictions.json")
        write_references_json(evaluation, output_dir / "ground_truth.json", subset=data_args.eval_split)
        results = {k: v for k, v in metrics.items() if k != "per_class_AP"}
        everything = dict(metrics, **(extra(model, evaluation) if extra is not None else {}))
        (output_dir / "eval_results.json").write_text(json.dumps(everything, indent=1))
        print(f"\ntal_map on {data_args.dataset}/{data_args.eval_split} ({len(evaluation)} videos), mAP in %:")
        print(format_map_table({name: metrics}, data_args.iou_thresholds))
        card.update(results=results, training_details=(
            f"Trained with `{script}` for {training_args.num_train_epochs:g} epochs on the `{data_args.train_split}` "
            f"split; evaluated on `{data_args.eval_split}` ({len(evaluation)} videos)."))
        save_model_card(model, output_dir, **card)
        summary = everything
    if push and trainer.is_world_process_zero():
        repo_id = training_args.hub_model_id or output_dir.name
        card.pop("model_id")
        push_to_hub(output_dir, repo_id, token=training_args.hub_token, private=training_args.hub_private_repo,
                    card_kwargs=card, ignore_patterns=["checkpoint-*", "checkpoint-*/**"])
    trainer.accelerator.wait_for_everyone()
    return summary


def model_card_kwargs(model) -> dict:
    method = getattr(model, "model_card_kwargs", None)
    return dict(method() or {}) if callable(method) else {}
