#!/usr/bin/env python
"""Train ActionVLM (language-advantage debiasing for TAL) on pre-extracted features with alternating vision-only /
vision-language epochs, then evaluate it with `tal_map` and report its mean language weight λ_lang per class.

    python examples/train_actionvlm.py --config examples/configs/actionvlm_synthetic.yaml
    accelerate launch --config_file examples/accelerate_configs/deepspeed_zero2.yaml --num_processes 4 \
        examples/train_actionvlm.py --config examples/configs/actionvlm_thumos14.yaml

Every key of the YAML file is an argument of `ModelArguments`, `TALDataArguments` or
`momentzoo.training.LanguageAdvantageTrainingArguments` (`TrainingArguments` plus `vision_learning_rate`,
`language_learning_rate` and `vision_only_interval`); the command line overrides the file. The model is built with
`ActionVLMForTemporalLocalization.from_backbones` on `language_model` (a hub id or path of any causal LM, e.g.
`Qwen/Qwen2.5-1.5B-Instruct`, the LM of InternVL3-2B; `tiny` builds a random 2-layer Qwen2 with a locally trained
tokenizer, for the synthetic set and tests). The class descriptions T_desc come from the synthetic set's metadata,
from `class_descriptions_file` (JSON `{class name: description}`), or are left out (names only).

The dataset carries pre-extracted features (`features` rows), or videos (a `video` column): then the model gets
its own video encoder (`--vision_model`, a VideoMAE, with temporal adapters by default) and trains end to end from
the frames, sampled at `--video_fps` (`TemporalVideoCollator`, ActionFormer's random truncation in tokens); the
evaluation split is encoded once by the trained encoder and scored in windows of tokens:

    python examples/train_actionvlm.py --config examples/configs/actionvlm_synthetic_video.yaml

Training runs
`LanguageAdvantageTrainer`; at the end the main process writes `eval_results.json` (with mLA per class),
`predictions.json`, `ground_truth.json` and the model card, and `--push_to_hub` uploads the folder.
"""

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field

from transformers import set_seed

import momentzoo
from momentzoo.data import (
    TemporalFeatureDataset,
    TemporalVideoCollator,
    synthetic_tal_metadata,
)
from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization
from momentzoo.training.actionvlm import LanguageAdvantageTrainer, LanguageAdvantageTrainingArguments
from momentzoo.training.actionvlm.modality_bias import mean_language_advantage, predict_with_language_weights
from momentzoo.training.resume import resolve_resume_checkpoint
from momentzoo.training.tal import class_names_of, encode_video_dataset
from momentzoo.training.tal_script import TALDataArguments as DataArguments
from momentzoo.training.tal_script import (
    as_dict,
    check_model_matches_dataset,
    dataset_class_fields,
    dataset_config_fields,
    example_parser,
    finish_tal_training,
    load_splits,
    setup_script,
    training_collator,
)

logger = logging.getLogger("train_actionvlm")


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Continue from this ActionVLM checkpoint instead of building a new model."}
    )
    language_model: str = field(
        default="Qwen/Qwen2.5-1.5B-Instruct",
        metadata={"help": "Causal LM (hub id or path) for from_backbones; 'tiny': a random 2-layer Qwen2 (tests)."},
    )
    tokenizer: str | None = field(default=None, metadata={"help": "Tokenizer (default: the language model's)."})
    tiny_language_model_hidden_size: int = field(default=32, metadata={"help": "Width of the 'tiny' LM."})
    tiny_language_model_layers: int = field(default=2, metadata={"help": "Layers of the 'tiny' LM."})
    model_config: dict | str | None = field(
        default=None,
        metadata={
            "help": "ActionVLMConfig fields (the ActionFormer head, LoRA, prompt layout...); "
            "input_dim, classes and feature geometry come from the dataset."
        },
    )
    class_descriptions_file: str | None = field(
        default=None, metadata={"help": "JSON {class name: description} for T_desc (synthetic: from its metadata)."}
    )
    vision_model: str | None = field(
        default=None,
        metadata={
            "help": "VideoMAE encoder (hub id or path) for a dataset of videos, e.g. "
            "MCG-NJU/videomae-base; 'tiny': a random 1-layer VideoMAE (tests)."
        },
    )
    vision_tuning: str = field(default="adapter", metadata={"help": "'adapter', 'full' or 'frozen' encoder."})
    video_fps: float | None = field(default=None, metadata={"help": "Frames per second sampled from the videos."})
    video_root: str | None = field(default=None, metadata={"help": "Folder that relative video paths are under."})


def class_descriptions(model_args: ModelArguments, data, names: list[str]) -> list[str] | None:
    if model_args.class_descriptions_file:
        with open(model_args.class_descriptions_file) as f:
            table = json.load(f)
        missing = [name for name in names if name not in table]
        if missing:
            raise ValueError(f"{model_args.class_descriptions_file} has no description for {missing}")
        return [str(table[name]) for name in names]
    try:
        metadata = synthetic_tal_metadata(data)
    except ValueError:
        return None  # not the synthetic set: names only
    return list(metadata["class_descriptions"])


def build_model(model_args: ModelArguments, data, train, work: str) -> ActionVLMForTemporalLocalization:
    if model_args.model_name_or_path:
        model = momentzoo.AutoModelForTemporalLocalization.from_pretrained(model_args.model_name_or_path)
        check_model_matches_dataset(model, train)
        return model
    model_config = as_dict(model_args.model_config, "model_config")
    vision_model = model_args.vision_model
    if vision_model is None:
        fields = dataset_config_fields(train, model_config)
    else:  # the features are the encoder's: only the classes come from the data
        fields = dict(dataset_class_fields(train, model_config), vision_tuning=model_args.vision_tuning)
        if vision_model == "tiny":
            from momentzoo.testing import tiny_videomae

            vision_model = os.path.join(work, "tiny-videomae")
            tiny_videomae(image_size=32, num_frames=4, hidden_size=32).save_pretrained(vision_model)
        fields["vision_model"] = vision_model
    language_model, tokenizer = model_args.language_model, model_args.tokenizer
    if language_model == "tiny":
        from momentzoo.testing import tiny_qwen2

        lm, lm_tokenizer = tiny_qwen2(
            hidden_size=model_args.tiny_language_model_hidden_size, num_layers=model_args.tiny_language_model_layers
        )
        language_model = os.path.join(work, "tiny-qwen2")
        lm.save_pretrained(language_model)
        lm_tokenizer.save_pretrained(language_model)
    return ActionVLMForTemporalLocalization.from_backbones(
        language_model,
        tokenizer=tokenizer,
        class_descriptions=class_descriptions(model_args, data, class_names_of(train)),
        **fields,
    )


def video_training_collator(model, model_args: ModelArguments, data_args) -> TemporalVideoCollator:
    """ActionFormer's random truncation to `max_seq_len` tokens, in whole encoder clips of frames."""
    clip = model.config.vision_config.num_frames
    tokens = data_args.max_seq_len or model.config.max_seq_len
    max_frames = tokens * model.video_feature_geometry()["feature_stride"] // clip * clip
    return TemporalVideoCollator.from_model(
        model,
        fps=model_args.video_fps,
        max_frames=max_frames or clip,
        video_root=model_args.video_root,
        trunc_thresh=data_args.trunc_thresh,
        crop_ratio=tuple(data_args.crop_ratio) if data_args.crop_ratio else None,
    )


def language_weights(model, evaluation) -> dict:
    """mLA: the mean λ_lang over each class's ground-truth frames, and over all of them."""
    found = predict_with_language_weights(model, evaluation)
    sums, counts = found["weight_sums"], found["frame_counts"]
    total = float(counts.sum())
    per_class = mean_language_advantage(sums, counts, model.config.class_names)
    print(
        "mean language weight λ_lang per class (ground-truth frames): "
        + ", ".join(f"{name} {value:.3f}" for name, value in per_class.items())
    )
    return {"mLA": per_class, "mLA_overall": float(sums.sum()) / total if total else float("nan")}


def main(argv=None) -> dict:
    model_args, data_args, training_args = example_parser(
        (ModelArguments, DataArguments, LanguageAdvantageTrainingArguments)
    ).parse_args_and_config(argv)
    setup_script(training_args, logger)
    set_seed(training_args.seed)
    data, train, evaluation = load_splits(data_args)
    videos = "features" not in train.column_names
    if videos and "video" not in train.column_names:
        raise ValueError(
            "examples/train_actionvlm.py needs pre-extracted features or videos: the dataset has neither "
            f"a 'features' nor a 'video' column (columns: {train.column_names})"
        )
    if videos and (model_args.video_fps is None or not (model_args.vision_model or model_args.model_name_or_path)):
        raise ValueError(
            "a dataset of videos needs --video_fps and a model with a video encoder (--vision_model, "
            "or --model_name_or_path of one)"
        )

    with tempfile.TemporaryDirectory(prefix="actionvlm-backbone-") as work:
        model = build_model(model_args, data, train, work)
    if videos:
        collator = video_training_collator(model, model_args, data_args)
        train_dataset = train
        training_args.eval_video_fps = model_args.video_fps  # evaluation encodes the videos at the training rate
    else:
        collator, train_dataset = training_collator(data_args, model.config), TemporalFeatureDataset(train)
    trainer = LanguageAdvantageTrainer(
        model=model, args=training_args, train_dataset=train_dataset, eval_dataset=evaluation, data_collator=collator
    )
    train_result = trainer.train(
        resume_from_checkpoint=resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    )
    trainer.log_metrics("train", train_result.metrics)
    logger.info("epoch schedule: %s", ", ".join(trainer.epoch_history))
    if videos and evaluation is not None:
        # encoded once by the trained encoder, then scored as features (windows of tokens)
        evaluation = encode_video_dataset(
            trainer.accelerator.unwrap_model(trainer.model),
            evaluation,
            fps=model_args.video_fps,
            video_root=model_args.video_root,
            progress=not training_args.disable_tqdm,
        )
    evaluation_results = finish_tal_training(
        trainer, data_args, training_args, evaluation, "ActionVLM", extra=language_weights
    )
    return {"train": train_result.metrics, "schedule": trainer.epoch_history, "eval": evaluation_results}


if __name__ == "__main__":
    main()
