#!/usr/bin/env python
"""Train ActionFormer on a temporal action localization dataset, then evaluate it with the `tal_map` metric.

    python examples/train_actionformer.py --config examples/configs/actionformer_synthetic.yaml
    accelerate launch --config_file examples/accelerate_configs/multi_gpu.yaml --num_processes 4 \
        examples/train_actionformer.py --config examples/configs/actionformer_thumos14_i3d.yaml
    python examples/train_actionformer.py --config ... --push_to_hub --hub_model_id user/actionformer-thumos14

Every key of the YAML file is an argument of `ModelArguments`, `DataArguments` or `TemporalLocalizationTrainingArguments`;
the command line overrides the file (`--num_train_epochs 5`). Training runs `ActionFormerTrainer` (momentzoo's
`TemporalLocalizationTrainer`, which evaluates mAP through `Trainer.evaluate`, with the official weight-decay groups:
no decay on biases, LayerNorms, `Scale`s and LayerScales) with `TemporalLocalizationCollator` (ActionFormer's random
truncation to `max_seq_len`) and the official weight EMA (`--ema_decay 0.999`; saved as `ema.safetensors` in every
checkpoint; at the end the EMA weights become the model's, which is saved and evaluated, as the official code
evaluates its EMA); data parallel runs take the
same steps as one process with the global batch (ActionFormer's loss normaliser counts the global batch). At the
end the main process saves the model with its card, scores the evaluation split with `tal_map` and writes
`eval_results.json`, `predictions.json` and `ground_truth.json` (the files `momentzoo evaluate` reads) into
`output_dir`; `--push_to_hub` then uploads the folder with the card (results included).
"""

import logging
from dataclasses import dataclass, field

from transformers import set_seed

import momentzoo
from momentzoo.data import TemporalFeatureDataset
from momentzoo.models.actionformer import ActionFormerConfig, ActionFormerForTemporalLocalization
from momentzoo.training.actionformer import ActionFormerTrainer, ModelEMACallback
from momentzoo.training.resume import resolve_resume_checkpoint
from momentzoo.training.tal_script import TALDataArguments as DataArguments
from momentzoo.training.tal_script import (
    as_dict,
    check_model_matches_dataset,
    dataset_config_fields,
    example_parser,
    finish_tal_training,
    load_splits,
    setup_script,
    training_collator,
)
from momentzoo.training.trainer import TemporalLocalizationTrainingArguments

logger = logging.getLogger("train_actionformer")


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from this checkpoint (Hub id or path) instead of a new model."}
    )
    model_config: dict | str | None = field(
        default=None,
        metadata={
            "help": "ActionFormerConfig fields for a new model (JSON on the command line); input_dim, classes "
            "and feature geometry come from the dataset. Default: the paper's THUMOS14 I3D setting."
        },
    )
    ema_decay: float = field(
        default=0.999, metadata={"help": "Decay of the weight EMA the final model takes (official 0.999; 0: no EMA)."}
    )


def build_model(model_args: ModelArguments, train_split) -> ActionFormerForTemporalLocalization:
    if model_args.model_name_or_path:
        model = momentzoo.AutoModelForTemporalLocalization.from_pretrained(model_args.model_name_or_path)
        check_model_matches_dataset(model, train_split)
        return model
    fields = dataset_config_fields(train_split, as_dict(model_args.model_config, "model_config"))
    return ActionFormerForTemporalLocalization(ActionFormerConfig(**fields))


def main(argv=None) -> dict:
    model_args, data_args, training_args = example_parser(
        (ModelArguments, DataArguments, TemporalLocalizationTrainingArguments)
    ).parse_args_and_config(argv)
    setup_script(training_args, logger)
    set_seed(training_args.seed)
    _, train, evaluation = load_splits(data_args)

    model = build_model(model_args, train)
    collator = training_collator(data_args, model.config)
    callbacks = [ModelEMACallback(model_args.ema_decay)] if model_args.ema_decay > 0 else []
    trainer = ActionFormerTrainer(
        model=model,
        args=training_args,
        train_dataset=TemporalFeatureDataset(train),
        eval_dataset=evaluation,
        data_collator=collator,
        callbacks=callbacks,
    )
    train_result = trainer.train(
        resume_from_checkpoint=resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    )
    trainer.log_metrics("train", train_result.metrics)
    evaluation_results = finish_tal_training(trainer, data_args, training_args, evaluation, "ActionFormer")
    return {"train": train_result.metrics, "eval": evaluation_results}


if __name__ == "__main__":
    main()
