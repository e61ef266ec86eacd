#!/usr/bin/env python
"""Train MLLM4WTAL (or its DELU base alone) from video-level labels and MLLM descriptions, then evaluate it with DELU's
protocol (mAP at tIoU 0.1:0.7 and the averages over 0.1:0.5, 0.3:0.7 and 0.1:0.7).

    python examples/train_mllm4wtal.py --config examples/configs/mllm4wtal_synthetic.yaml
    momentzoo describe --dataset thumos14_weak --dataset_kwargs '{"annotation_dir": ..., "features_file": ...}' \
        --video_root thumos14_videos/ --model Qwen/Qwen2.5-VL-7B-Instruct --output_dir thumos14_described
    accelerate launch examples/train_mllm4wtal.py --config examples/configs/mllm4wtal_thumos14.yaml

Every key of the YAML file is an argument of `ModelArguments`, `DataArguments` or `WTALTrainingArguments`.
Training runs `WTALTrainer` (DELU's curriculum progress) on `WeakTALCollator` batches (DELU's random crop to
`max_seq_len`, video-level labels from `label_column`, tokenized descriptions). The end is the shared TAL script's
(`finish_tal_training`): the model and its card are saved, the evaluation split is scored by `Trainer.evaluate` with
DELU's protocol (`WTALTrainingArguments`) and the result files are written to `output_dir`.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoTokenizer, set_seed

from momentzoo.models.delu import DELUConfig, DELUModel
from momentzoo.models.mllm4wtal import MLLM4WTALModel
from momentzoo.training.mllm4wtal import (
    WeakTALCollator,
    WTALTrainer,
    WTALTrainingArguments,
    check_weak_dataset,
    load_wtal_dataset,
)
from momentzoo.training.tal_script import (
    as_dict,
    dataset_config_fields,
    example_parser,
    finish_tal_training,
    setup_script,
)

logger = logging.getLogger("train_mllm4wtal")


@dataclass
class ModelArguments:
    model_type: str = field(default="mllm4wtal", metadata={"help": "'mllm4wtal' or 'delu' (the base alone)."})
    base_config: dict | str | None = field(
        default=None, metadata={"help": "DELUConfig fields (JSON); input_dim, classes, geometry come from the data."}
    )
    model_config: dict | str | None = field(
        default=None, metadata={"help": "Other MLLM4WTALConfig fields (loss weights, reconstruction size ...)."}
    )
    text_model: str = field(
        default="openai/clip-vit-base-patch16",
        metadata={"help": "Frozen CLIP text encoder (hub id or path), or 'tiny' (momentzoo.testing, offline demos)."},
    )


@dataclass
class DataArguments:
    dataset: str = field(default="synthetic_wtal", metadata={"help": "synthetic_wtal, thumos14_weak, or a folder."})
    dataset_kwargs: dict | str | None = field(default=None, metadata={"help": "Builder / generator fields (JSON)."})
    train_split: str = field(default="train")
    eval_split: str | None = field(default="test")
    label_column: str = field(default="video_labels", metadata={"help": "Video-level labels to train on."})
    cache_dir: str | None = field(default=None)


def build_model(model_args: ModelArguments, train):
    base = DELUConfig(**dataset_config_fields(train, as_dict(model_args.base_config, "base_config")))
    if model_args.model_type == "delu":
        return DELUModel(base), None
    if model_args.model_type != "mllm4wtal":
        raise ValueError(f"model_type must be 'mllm4wtal' or 'delu', got {model_args.model_type!r}")
    fields = as_dict(model_args.model_config, "model_config")
    if model_args.text_model == "tiny":
        from momentzoo.testing.mllm4wtal import tiny_mllm4wtal

        return tiny_mllm4wtal(base_config=base, **fields)
    model = MLLM4WTALModel.from_backbones(model_args.text_model, base_config=base, **fields)
    return model, AutoTokenizer.from_pretrained(model_args.text_model)


def main(argv=None) -> dict:
    model_args, data_args, training_args = example_parser(
        (ModelArguments, DataArguments, WTALTrainingArguments)
    ).parse_args_and_config(argv)
    setup_script(training_args, logger)
    set_seed(training_args.seed)
    data = load_wtal_dataset(
        data_args.dataset, as_dict(data_args.dataset_kwargs, "dataset_kwargs"), cache_dir=data_args.cache_dir
    )
    train = data[data_args.train_split]
    evaluation = data[data_args.eval_split] if data_args.eval_split else None
    check_weak_dataset(train, data_args.label_column, descriptions=model_args.model_type == "mllm4wtal")

    model, tokenizer = build_model(model_args, train)
    base = model.config if model_args.model_type == "delu" else model.config.base_config
    collator = WeakTALCollator(
        num_classes=base.num_classes,
        max_seq_len=base.max_seq_len,
        label_column=data_args.label_column,
        tokenizer=tokenizer,
        max_description_length=model.config.max_description_length if tokenizer is not None else 77,
        seed=training_args.seed,
    )
    trainer = WTALTrainer(
        model=model,
        args=training_args,
        train_dataset=train,
        data_collator=collator,
        label_column=data_args.label_column,
    )  # DELU's batches of similar pairs
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.log_metrics("train", train_result.metrics)
    if tokenizer is not None and trainer.is_world_process_zero():
        tokenizer.save_pretrained(training_args.output_dir)

    results = finish_tal_training(trainer, data_args, training_args, evaluation, model_args.model_type)
    if results:
        print(json.dumps({k: round(100 * v, 2) for k, v in results.items() if k.startswith("average_mAP@")}))
    return {"train": train_result.metrics, "eval": results, "output_dir": str(Path(training_args.output_dir))}


if __name__ == "__main__":
    main()
