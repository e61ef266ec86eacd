#!/usr/bin/env python
"""Train ActionFormer on a temporal action localization dataset, then evaluate it with the `tal_map` metric.

    python examples/train_actionformer.py --config examples/configs/actionformer_synthetic.yaml
    accelerate launch --config_file examples/accelerate_configs/multi_gpu.yaml --num_processes 4 \
        examples/train_actionformer.py --config examples/configs/actionformer_thumos14_i3d.yaml
    python examples/train_actionformer.py --config ... --push_to_hub --hub_model_id user/actionformer-thumos14

Every key of the YAML file is an argument of `ModelArguments`, `DataArguments` or `transformers.TrainingArguments`;
the command line overrides the file (`--num_train_epochs 5`). Training runs `transformers.Trainer` with
`TemporalLocalizationCollator` (ActionFormer's random truncation to `max_seq_len`); data parallel runs take the
same steps as one process with the global batch (ActionFormer's loss normaliser counts the global batch). At the
end the main process saves the model with its card, scores the evaluation split with `tal_map` and writes
`eval_results.json`, `predictions.json` and `ground_truth.json` (the files `momentzoo evaluate` reads) into
`output_dir`; `--push_to_hub` then uploads the folder with the card (results included).
"""

import json
import logging
import sys
from dataclasses import dataclass, field

import transformers
from transformers import Trainer, TrainingArguments, set_seed

import momentzoo
from momentzoo.data import TemporalFeatureDataset, TemporalLocalizationCollator
from momentzoo.hub import push_to_hub, save_model_card
from momentzoo.models.actionformer import ActionFormerConfig, ActionFormerForTemporalLocalization
from momentzoo.training.arguments import as_dict, parse_args_with_config
from momentzoo.training.tal_datasets import load_tal_dataset
from momentzoo.training.tal_evaluation import (
    evaluate_tal,
    format_map_table,
    write_predictions_json,
    write_references_json,
)
from momentzoo.training.tal_models import check_model_matches_dataset, dataset_config_fields

logger = logging.getLogger("train_actionformer")


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from this checkpoint (Hub id or path) instead of a new model."}
    )
    model_config: dict | str | None = field(
        default=None,
        metadata={"help": "ActionFormerConfig fields for a new model (JSON on the command line); input_dim, classes "
                          "and feature geometry come from the dataset. Default: the paper's THUMOS14 I3D setting."},
    )


@dataclass
class DataArguments:
    dataset: str = field(
        default="synthetic",
        metadata={"help": "'synthetic', a builder (thumos14, activitynet, epic_kitchens), or a dataset folder / Hub id."},
    )
    dataset_kwargs: dict | str | None = field(
        default=None, metadata={"help": "Synthetic-set fields, builder fields (annotation_file, features_dir, ...) "
                                        "or load_dataset arguments (JSON on the command line)."}
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default="test", metadata={"help": "Split to score at the end (none: skip)."})
    max_seq_len: int | None = field(
        default=None, metadata={"help": "Training crop in feature steps (default: the model's max_seq_len)."}
    )
    trunc_thresh: float = field(default=0.5, metadata={"help": "Keep a cropped action if this fraction is inside."})
    crop_ratio: list[float] | None = field(
        default=None, metadata={"help": "Also crop shorter videos to a random [lo, hi] fraction (ActionFormer: 0.9 1.0)."}
    )
    padding: str = field(default="longest", metadata={"help": "'longest' or 'max_length' (pad to max_seq_len)."})
    eval_window_size: int | None = field(
        default=None, metadata={"help": "Evaluate in sliding windows of this many steps (default: whole videos)."}
    )
    eval_window_overlap: float = field(default=0.25, metadata={"help": "Overlap of consecutive evaluation windows."})
    iou_thresholds: list[float] = field(
        default_factory=lambda: [0.3, 0.4, 0.5, 0.6, 0.7], metadata={"help": "tIoU thresholds of the mAP."}
    )
    max_train_videos: int | None = field(default=None, metadata={"help": "Use only the first N training videos."})
    max_eval_videos: int | None = field(default=None, metadata={"help": "Score only the first N evaluation videos."})
    cache_dir: str | None = field(default=None, metadata={"help": "Cache of dataset builders / load_dataset."})


def build_model(model_args: ModelArguments, train_split) -> ActionFormerForTemporalLocalization:
    if model_args.model_name_or_path:
        model = momentzoo.AutoModelForTemporalLocalization.from_pretrained(model_args.model_name_or_path)
        check_model_matches_dataset(model, train_split)
        return model
    fields = dataset_config_fields(train_split, as_dict(model_args.model_config, "model_config"))
    return ActionFormerForTemporalLocalization(ActionFormerConfig(**fields))


def main(argv=None) -> dict:
    model_args, data_args, training_args = parse_args_with_config(
        (ModelArguments, DataArguments, TrainingArguments), argv
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO,
                        handlers=[logging.StreamHandler(sys.stdout)])
    if not training_args.should_log:
        logger.setLevel(logging.WARNING)
        transformers.utils.logging.set_verbosity_warning()
    # The collator reads the raw columns (segments, labels, geometry), not forward()'s arguments.
    training_args.remove_unused_columns = False
    # The Hub upload happens once at the end, with momentzoo's card (Trainer would write its own).
    push, training_args.push_to_hub = training_args.push_to_hub, False
    set_seed(training_args.seed)

    data = load_tal_dataset(data_args.dataset, as_dict(data_args.dataset_kwargs, "dataset_kwargs"),
                            cache_dir=data_args.cache_dir)
    for split in (data_args.train_split, data_args.eval_split):
        if split is not None and split not in data:
            raise ValueError(f"split {split!r} not in the dataset (splits: {list(data)})")
    train = data[data_args.train_split]
    if data_args.max_train_videos is not None:
        train = train.select(range(min(data_args.max_train_videos, len(train))))

    model = build_model(model_args, train)
    collator = TemporalLocalizationCollator(
        max_seq_len=data_args.max_seq_len or model.config.max_seq_len,
        training=True,
        trunc_thresh=data_args.trunc_thresh,
        crop_ratio=tuple(data_args.crop_ratio) if data_args.crop_ratio else None,
        padding=data_args.padding,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=TemporalFeatureDataset(train),
                      data_collator=collator)
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()  # the model's save_pretrained writes its card (main process only)
    trainer.log_metrics("train", train_result.metrics)

    summary = {"train": train_result.metrics}
    if data_args.eval_split is not None and trainer.is_world_process_zero():
        evaluation = data[data_args.eval_split]
        if data_args.max_eval_videos is not None:
            evaluation = evaluation.select(range(min(data_args.max_eval_videos, len(evaluation))))
        model = trainer.accelerator.unwrap_model(trainer.model)
        metrics, predictions = evaluate_tal(
            model, evaluation, iou_thresholds=data_args.iou_thresholds, window_size=data_args.eval_window_size,
            window_overlap=data_args.eval_window_overlap, batch_size=training_args.per_device_eval_batch_size,
            progress=not training_args.disable_tqdm,
        )
        output_dir = training_args.output_dir
        write_predictions_json(predictions, f"{output_dir}/predictions.json")
        write_references_json(evaluation, f"{output_dir}/ground_truth.json", subset=data_args.eval_split)
        with open(f"{output_dir}/eval_results.json", "w") as f:
            json.dump(metrics, f, indent=1)
        print(f"\ntal_map on {data_args.dataset}/{data_args.eval_split} ({len(evaluation)} videos):")
        print(format_map_table({"ActionFormer": metrics}, data_args.iou_thresholds))
        results = {k: v for k, v in metrics.items() if k != "per_class_AP"}
        card = dict(model_id=training_args.hub_model_id or output_dir, datasets=[data_args.dataset], results=results,
                    training_details=f"Trained with `examples/train_actionformer.py` for "
                                     f"{training_args.num_train_epochs:g} epochs on the `{data_args.train_split}` split; "
                                     f"evaluated on `{data_args.eval_split}` ({len(evaluation)} videos).")
        save_model_card(model, output_dir, **card)
        summary["eval"] = results
        if push:
            repo_id = training_args.hub_model_id or output_dir.rstrip("/").split("/")[-1]
            card.pop("model_id")
            push_to_hub(output_dir, repo_id, token=training_args.hub_token, private=training_args.hub_private_repo,
                        card_kwargs=card, ignore_patterns=["checkpoint-*", "checkpoint-*/**"])
    elif push and trainer.is_world_process_zero():
        push_to_hub(training_args.output_dir, training_args.hub_model_id or training_args.output_dir,
                    token=training_args.hub_token, private=training_args.hub_private_repo)
    trainer.accelerator.wait_for_everyone()
    return summary


if __name__ == "__main__":
    main()
