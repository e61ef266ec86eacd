#!/usr/bin/env python
"""Train TimeExpert (one of its three stages) with `transformers.Trainer`, then score moment retrieval (R1@m, mIoU).

    python examples/train_timeexpert.py --config examples/configs/timeexpert_synthetic.yaml
    accelerate launch --config_file examples/accelerate_configs/deepspeed_zero2.yaml examples/train_timeexpert.py \
        --config examples/configs/timeexpert_stage3_sft.yaml

Every key of the YAML file is an argument of `ModelArguments`, `TimeExpertDataArguments` or
`transformers.TrainingArguments`; the command line overrides the file. A new model is built with
`TimeExpertMoE.from_backbones` (`--language_model`: a dense causal LM is sparsely upcycled, an ARIA text model gives
its MoE weights; `--language_model tiny`: momentzoo's offline tiny Qwen2); later stages start from the previous
stage's output (`--model_name_or_path`). `--stage` picks what trains (`momentzoo.training.timeexpert.stages`); the
expert lifecycle callback grows and prunes experts every `expert_update_interval` steps in the `moe` and `sft` stages
(single process only: DDP and DeepSpeed cannot follow parameters that change shape). Rows hold pre-extracted per-step
`features` (or `frame_features` + `frame_times`), `duration`, and the task's columns (`query` + `windows` for
moment retrieval; see `momentzoo.training.timeexpert.data`). To resume, pass `--resume_from_checkpoint DIR`: the
model is rebuilt from that checkpoint's config, so its grown or pruned expert set matches the saved optimizer.
"""

import json
import logging
from dataclasses import dataclass, field

import torch
from transformers import Trainer, TrainingArguments, set_seed

import momentzoo  # noqa: F401  (registers TimeExpert with the Auto classes)
from momentzoo.models.timeexpert import TASK_TYPES, TimeExpertMoE, TimeExpertProcessor
from momentzoo.training.resume import resolve_resume_checkpoint
from momentzoo.training.tal_script import as_dict, example_parser
from momentzoo.training.timeexpert import (
    TIMEEXPERT_STAGES,
    TimeExpertCollator,
    TimeExpertLifecycleCallback,
    evaluate_moment_retrieval,
    set_stage_trainable,
)

logger = logging.getLogger("train_timeexpert")


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(default=None, metadata={"help": "Continue from this TimeExpert checkpoint."})
    language_model: str = field(
        default="Qwen/Qwen2.5-7B-Instruct",
        metadata={
            "help": "Dense causal LM to upcycle or ARIA text model (hub id or path), or "
            "'tiny' (offline tiny Qwen2, random weights)."
        },
    )
    vision_model: str | None = field(
        default=None,
        metadata={"help": "Frame encoder (hub id or path); none: the rows hold pre-extracted frame features."},
    )
    model_config: dict | str | None = field(
        default=None, metadata={"help": "TimeExpertConfig fields (JSON on the CLI)."}
    )
    stage: str = field(default="sft", metadata={"help": f"One of {list(TIMEEXPERT_STAGES)}."})
    expert_lifecycle: bool = field(
        default=True, metadata={"help": "Add/remove experts every expert_update_interval steps (moe and sft stages)."}
    )


@dataclass
class TimeExpertDataArguments:
    dataset: str = field(default="synthetic", metadata={"help": "'synthetic' or a dataset folder (save_to_disk)."})
    dataset_kwargs: dict | str | None = field(default=None, metadata={"help": "Synthetic grounding set arguments."})
    task: str | None = field(
        default="moment_retrieval", metadata={"help": f"One of {list(TASK_TYPES)}, or none: each row's `task` column."}
    )
    num_frames: int = field(default=8, metadata={"help": "Frames sampled per video."})
    max_length: int = field(default=2048, metadata={"help": "Longest token sequence (Table 1: 2048)."})
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default="test", metadata={"help": "Split scored after training (moment retrieval)."})
    max_new_tokens: int = field(default=64, metadata={"help": "Answer length at evaluation."})


def load_splits(args: TimeExpertDataArguments):
    import datasets

    if args.dataset == "synthetic":
        from momentzoo.data.synthetic import make_synthetic_grounding_dataset

        return make_synthetic_grounding_dataset(**as_dict(args.dataset_kwargs, "dataset_kwargs")).with_format("numpy")
    return datasets.load_from_disk(args.dataset).with_format("numpy")


def build_model(args: ModelArguments, resume_from_checkpoint: str | None):
    source = resume_from_checkpoint or args.model_name_or_path
    if source:
        model = TimeExpertMoE.from_pretrained(source)
        if model.tokenizer is None:
            raise ValueError(f"{source} holds no tokenizer (save TimeExpert with its tokenizer)")
        return model, model.tokenizer
    config = as_dict(args.model_config, "model_config")
    if args.language_model == "tiny":
        from momentzoo.testing.timeexpert import tiny_timeexpert

        return tiny_timeexpert(**config)
    model = TimeExpertMoE.from_backbones(args.language_model, args.vision_model, dtype=torch.bfloat16, **config)
    return model, model.tokenizer


def main(argv=None):
    model_args, data_args, training_args = example_parser(
        (ModelArguments, TimeExpertDataArguments, TrainingArguments)
    ).parse_args_and_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    set_seed(training_args.seed)
    training_args.remove_unused_columns = False
    # checked (optimizer and scheduler state present), and read before building: the checkpoint's expert set wins
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    model, tokenizer = build_model(model_args, resume)
    counts = set_stage_trainable(model, model_args.stage)
    logger.info("stage %s: %s trainable, %s frozen parameters", model_args.stage, counts["trainable"], counts["frozen"])
    processor = TimeExpertProcessor.from_config(tokenizer, model.config)
    splits = load_splits(data_args)
    collator = TimeExpertCollator(
        processor, task=data_args.task, num_frames=data_args.num_frames, max_length=data_args.max_length
    )
    callbacks = []
    if model_args.expert_lifecycle and model_args.stage != "task_modules":
        callbacks.append(TimeExpertLifecycleCallback())
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=splits[data_args.train_split],
        data_collator=collator,
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model()
    result = {"experts_per_layer": model.config.experts_per_layer}
    if data_args.eval_split and data_args.task == "moment_retrieval" and trainer.is_world_process_zero():
        rows = [dict(row) for row in splits[data_args.eval_split]]
        result.update(
            evaluate_moment_retrieval(
                model,
                processor,
                rows,
                num_frames=data_args.num_frames,
                batch_size=training_args.per_device_eval_batch_size,
                max_new_tokens=data_args.max_new_tokens,
            )
        )
    if trainer.is_world_process_zero():
        print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
