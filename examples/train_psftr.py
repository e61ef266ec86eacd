#!/usr/bin/env python
"""Train PSFTR on the seen classes of one zero-shot split, then score its unseen classes with `tal_map`.

    python examples/train_psftr.py --config examples/configs/psftr_synthetic.yaml
    python examples/train_psftr.py --config examples/configs/psftr_thumos14.yaml --split_index 3 --split_ratio 50_50
    accelerate launch examples/train_psftr.py --config examples/configs/psftr_activitynet.yaml

Every key of the YAML file is an argument of `ModelArguments`, `ZeroShotDataArguments` or
`transformers.TrainingArguments`; the command line overrides the file. THUMOS14 and ActivityNet use the standard
seen/unseen lists shipped with momentzoo (`momentzoo.data.load_zero_shot_classes`); the synthetic set uses a
seeded random split of its classes, and its features carry the text embedding of their class (see
`momentzoo.data.synthetic_zero_shot`), as CLIP features do. Training runs momentzoo's `TemporalLocalizationTrainer` (a `transformers.Trainer`) on 128-step slices
overlapping by 0.75 (the paper's); evaluation slides 0.25-overlap slices over the unseen-class videos and merges
them with NMS. `eval_zero_shot.py` runs every split and reports the mean.
"""

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers
from transformers import TrainingArguments, set_seed

import momentzoo
from momentzoo.data import TemporalLocalizationCollator, sliding_windows
from momentzoo.data.synthetic import SyntheticTALConfig
from momentzoo.data.synthetic_zero_shot import make_synthetic_zero_shot_dataset
from momentzoo.models.psftr import PSFTRModel
from momentzoo.training.resume import resolve_resume_checkpoint
from momentzoo.training.tal import (
    ZERO_SHOT_IOU_THRESHOLDS,
    evaluate_zero_shot,
    format_zero_shot_table,
    zero_shot_classes,
    zero_shot_data,
)
from momentzoo.training.tal_script import as_dict, example_parser, load_tal_dataset
from momentzoo.training.trainer import TemporalLocalizationTrainer

logger = logging.getLogger("train_psftr")


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from this PSFTR checkpoint (Hub id or path) instead of a new model."}
    )
    text_model: str = field(
        default="openai/clip-vit-base-patch16",
        metadata={
            "help": "CLIP checkpoint of the text encoder (Hub id or path), or 'tiny' for momentzoo's offline "
            "tiny CLIP (random weights: the synthetic demo)."
        },
    )
    model_config: dict | str | None = field(
        default=None, metadata={"help": "PSFTRConfig fields for a new model (JSON on the command line)."}
    )


@dataclass
class ZeroShotDataArguments:
    dataset: str = field(
        default="synthetic",
        metadata={
            "help": "'synthetic', a builder (thumos14, activitynet), or a dataset folder / Hub id of TAL rows "
            "with CLIP features."
        },
    )
    dataset_kwargs: dict | str | None = field(
        default=None, metadata={"help": "Synthetic-set, builder or load_dataset arguments (JSON on the command line)."}
    )
    benchmark: str = field(
        default="synthetic", metadata={"help": "'THUMOS14' or 'ActivityNet' (shipped split lists), or 'synthetic'."}
    )
    split_ratio: str = field(default="75_25", metadata={"help": "'75_25' or '50_50' (seen / unseen classes)."})
    split_index: int = field(default=0, metadata={"help": "Which of the 10 splits (0-9)."})
    split_seed: int = field(default=0, metadata={"help": "Seed of the random splits of the synthetic set."})
    train_split: str = field(default="train", metadata={"help": "Split to train on (its seen classes)."})
    eval_split: str = field(default="test", metadata={"help": "Split to score (its unseen classes)."})
    semantic_strength: float = field(
        default=1.0, metadata={"help": "Synthetic set: RMS per dimension of the class text embedding in the features."}
    )
    slice_size: int | None = field(default=None, metadata={"help": "Slice length (default: config.slice_size, 128)."})
    train_slice_overlap: float | None = field(default=None, metadata={"help": "Default: config's (0.75)."})
    inference_slice_overlap: float | None = field(default=None, metadata={"help": "Default: config's (0.25)."})
    iou_thresholds: list[float] | None = field(
        default=None, metadata={"help": "tIoU thresholds (default: the benchmark's: 0.3-0.7, ActivityNet 0.5-0.95)."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Cache of dataset builders / load_dataset."})


def load_text_encoder(text_model: str):
    """`(text tower or CLIPModel, tokenizer)` for `PSFTRModel.from_backbones`: a checkpoint, or the tiny CLIP."""
    if text_model == "tiny":
        from momentzoo.testing import tiny_clip

        return tiny_clip()
    return text_model, None


def build_model(model_args: ModelArguments, seen: list[str]) -> PSFTRModel:
    """A new PSFTR over the CLIP text encoder with the seen classes as its training classes, or a checkpoint."""
    if model_args.model_name_or_path:
        model = momentzoo.AutoModelForTemporalLocalization.from_pretrained(model_args.model_name_or_path)
        if not isinstance(model, PSFTRModel):
            raise ValueError(f"{model_args.model_name_or_path} is a {type(model).__name__}, not a PSFTR checkpoint")
        model.config.id2label = dict(enumerate(seen))
        model.config.label2id = {name: i for i, name in enumerate(seen)}
        model.config.num_classes = len(seen)
        return model
    text_model, tokenizer = load_text_encoder(model_args.text_model)
    fields = as_dict(model_args.model_config, "model_config")
    return PSFTRModel.from_backbones(text_model, tokenizer=tokenizer, id2label=dict(enumerate(seen)), **fields)


def make_synthetic_data(data_args: ZeroShotDataArguments, model: PSFTRModel):
    """The synthetic set with CLIP-like features: each action carries the text embedding (from `model`'s text
    encoder) of its class name."""
    kwargs = as_dict(data_args.dataset_kwargs, "dataset_kwargs")
    config = SyntheticTALConfig(**{**kwargs, "feature_dim": model.config.input_dim})
    with torch.no_grad():
        return make_synthetic_zero_shot_dataset(
            model.embed_class_names, config, semantic_strength=data_args.semantic_strength
        )


def run_split(
    model_args: ModelArguments, data_args: ZeroShotDataArguments, training_args: TrainingArguments, data=None
) -> dict:
    """Train on the seen classes of split `data_args.split_index` and return the unseen-class `tal_map` metrics.
    The model is saved (with its tokenizer and card) in `training_args.output_dir`, with `eval_results.json`.
    `data`: the loaded dataset (real datasets; loaded here when None)."""
    set_seed(training_args.seed)
    kwargs = as_dict(data_args.dataset_kwargs, "dataset_kwargs")
    if data_args.dataset == "synthetic":  # its features need the text encoder: made once the model exists
        names = SyntheticTALConfig(**kwargs).class_names
    else:
        if data is None:
            data = load_tal_dataset(data_args.dataset, kwargs, cache_dir=data_args.cache_dir)
        names = data[data_args.train_split].features["labels"].feature.names
    classes = zero_shot_classes(
        data_args.benchmark, names, data_args.split_ratio, data_args.split_index, data_args.split_seed
    )
    model = build_model(model_args, classes["seen"])
    if data_args.dataset == "synthetic":
        data = make_synthetic_data(data_args, model)
    train, evaluation, classes = zero_shot_data(
        data,
        data_args.benchmark,
        data_args.split_ratio,
        data_args.split_index,
        data_args.train_split,
        data_args.eval_split,
        seed=data_args.split_seed,
    )
    config = model.config
    slice_size = data_args.slice_size or config.slice_size
    train_overlap = data_args.train_slice_overlap
    train_overlap = config.train_slice_overlap if train_overlap is None else train_overlap
    eval_overlap = data_args.inference_slice_overlap
    eval_overlap = config.inference_slice_overlap if eval_overlap is None else eval_overlap
    thresholds = data_args.iou_thresholds or ZERO_SHOT_IOU_THRESHOLDS.get(
        data_args.benchmark, ZERO_SHOT_IOU_THRESHOLDS["THUMOS14"]
    )
    logger.info(
        "split %s/%d: %d seen classes (%d training videos), %d unseen (%d evaluation videos)",
        data_args.split_ratio,
        data_args.split_index,
        len(classes["seen"]),
        len(train),
        len(classes["unseen"]),
        len(evaluation),
    )

    # The collator reads the raw columns (segments, labels, geometry), not forward()'s arguments.
    training_args.remove_unused_columns = False
    collator = TemporalLocalizationCollator(max_seq_len=slice_size, training=True)
    trainer = TemporalLocalizationTrainer(
        model=model,
        args=training_args,
        data_collator=collator,
        train_dataset=sliding_windows(train, slice_size, train_overlap),
    )
    train_result = trainer.train(
        resume_from_checkpoint=resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    )
    trainer.save_model()  # weights, tokenizer and model card
    trainer.log_metrics("train", train_result.metrics)
    metrics = {}
    if trainer.is_world_process_zero():
        model = trainer.accelerator.unwrap_model(trainer.model)
        metrics, _ = evaluate_zero_shot(
            model,
            evaluation,
            classes["unseen"],
            iou_thresholds=thresholds,
            window_size=slice_size,
            window_overlap=eval_overlap,
            batch_size=training_args.per_device_eval_batch_size,
        )
        result = {
            "split_ratio": data_args.split_ratio,
            "split_index": data_args.split_index,
            "seen_classes": classes["seen"],
            "unseen_classes": classes["unseen"],
            "train": train_result.metrics,
            "unseen": metrics,
        }
        Path(training_args.output_dir, "eval_results.json").write_text(json.dumps(result, indent=1))
    return metrics


def main(argv=None) -> dict:
    model_args, data_args, training_args = example_parser(
        (ModelArguments, ZeroShotDataArguments, TrainingArguments)
    ).parse_args_and_config(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO,
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    if not training_args.should_log:
        logger.setLevel(logging.WARNING)
        transformers.utils.logging.set_verbosity_warning()
    metrics = run_split(model_args, data_args, training_args)
    if metrics:
        thresholds = [float(k.split("@")[1]) for k in metrics if k.startswith("mAP@")]
        title = f"PSFTR zero-shot, {data_args.benchmark} {data_args.split_ratio.replace('_', '/')}, unseen classes"
        print("\n" + format_zero_shot_table({data_args.split_index: metrics}, thresholds, title))
    return metrics


if __name__ == "__main__":
    main()
