"""What every TAL example script shares around its `TemporalLocalizationTrainer`: the command line (TRL's
`TrlParser`, `example_parser`), the data arguments (`TALDataArguments`), loading the dataset they name (the
synthetic set, a momentzoo builder on the user's files, or a saved / exported / Hub dataset), fitting a model's
configuration to that dataset, and, after training, the final `trainer.evaluate` (tal_map), the files `momentzoo
evaluate` reads, the model card with the results and `trainer.push_to_hub()`.

    load_tal_dataset("synthetic", {"num_classes": 8, "seed": 0})
    load_tal_dataset("thumos14", {"annotation_file": "thumos14.json", "features_dir": "i3d_features/"})
    load_tal_dataset("out/thumos14")          # a folder written by dataset_scripts/thumos14.py or save_to_disk
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import transformers

from ..data.collators import TemporalLocalizationCollator
from .tal import class_names_of, format_map_table, write_predictions_json, write_references_json

__all__ = [
    "DefaultsOnceHelpFormatter",
    "default_report_to",
    "example_parser",
    "as_dict",
    "TALDataArguments",
    "TAL_BUILDERS",
    "load_tal_dataset",
    "dataset_config_fields",
    "dataset_class_fields",
    "check_model_matches_dataset",
    "setup_script",
    "load_splits",
    "training_collator",
    "finish_tal_training",
]


# ------------------------------------------------------------------------------------------- arguments
class DefaultsOnceHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` shows each argument's default once (appended as "(default: X)" unless its help already says it)
    and one flag style, `--snake_case` (the `--kebab-case` aliases `HfArgumentParser` adds still parse)."""

    def _format_action_invocation(self, action):
        snake = [option for option in action.option_strings if "-" not in option.lstrip("-")]
        if snake and len(snake) < len(action.option_strings):
            action = copy.copy(action)
            action.option_strings = snake
        return super()._format_action_invocation(action)

    def _get_help_string(self, action):
        if action.required or "default" in (action.help or "").lower():
            return action.help
        return super()._get_help_string(action)


def default_report_to() -> str:
    """The examples' experiment tracker: trackio when installed (it logs locally; a Hub Space only when asked), else
    none."""
    return "trackio" if importlib.util.find_spec("trackio") is not None else "none"


def example_parser(dataclass_types):
    """The example scripts' parser: TRL's `TrlParser` (`--config FILE.yaml` sets defaults, the command line
    overrides, unknown keys are an error), with `report_to` defaulting to trackio when installed and `--help`
    showing each default once. Use `.parse_args_and_config(argv)`:

        model_args, data_args, training_args = example_parser(
            (ModelArguments, DataArguments, TrainingArguments)).parse_args_and_config()   # --config cfg.yaml
    """
    from trl import TrlParser

    parser = TrlParser(dataclass_types, formatter_class=DefaultsOnceHelpFormatter)
    if any(action.dest == "report_to" for action in parser._actions):
        parser.set_defaults(report_to=default_report_to())
    return parser


def as_dict(value, name: str) -> dict:
    """A dict argument given as a mapping (YAML) or a JSON string (command line)."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"{name} must be a JSON object, got {value!r} ({err})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
    return dict(value)


@dataclass
class TALDataArguments:
    """Where the TAL data comes from and how training crops it (the `DataArguments` of
    `examples/train_actionformer.py` and `examples/train_actionvlm.py`; how evaluation runs is in
    `TemporalLocalizationTrainingArguments`)."""

    dataset: str = field(
        default="synthetic",
        metadata={
            "help": "'synthetic', a builder (thumos14, activitynet, epic_kitchens), or a dataset folder / Hub id."
        },
    )
    dataset_kwargs: dict | str | None = field(
        default=None,
        metadata={
            "help": "Synthetic-set fields, builder fields (annotation_file, features_dir, ...) "
            "or load_dataset arguments (JSON on the command line)."
        },
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default="test", metadata={"help": "Split to score at the end (none: skip)."})
    max_seq_len: int | None = field(
        default=None, metadata={"help": "Training crop in feature steps (default: the model's max_seq_len)."}
    )
    trunc_thresh: float = field(default=0.5, metadata={"help": "Keep a cropped action if this fraction is inside."})
    crop_ratio: list[float] | None = field(
        default=None,
        metadata={"help": "Also crop shorter videos to a random [lo, hi] fraction (ActionFormer: 0.9 1.0)."},
    )
    padding: str = field(default="longest", metadata={"help": "'longest' or 'max_length' (pad to max_seq_len)."})
    max_train_videos: int | None = field(default=None, metadata={"help": "Use only the first N training videos."})
    max_eval_videos: int | None = field(default=None, metadata={"help": "Score only the first N evaluation videos."})
    cache_dir: str | None = field(default=None, metadata={"help": "Cache of dataset builders / load_dataset."})

    def __post_init__(self):
        if self.padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {self.padding!r}")
        if self.eval_split in ("", "none", "None"):
            self.eval_split = None


# Builder name -> class name in momentzoo.data.builders (TAL builders only).
TAL_BUILDERS = {
    "thumos14": "Thumos14Builder",
    "activitynet": "ActivityNetBuilder",
    "epic_kitchens": "EpicKitchensBuilder",
}


def _synthetic_video_splits(output_dir: str, num_videos: dict | None = None, seed: int = 0, **kwargs):
    """The synthetic mp4s of `make_synthetic_video_dataset`, one folder and seed per split."""
    from ..data.synthetic_video import make_synthetic_video_dataset

    num_videos = dict(num_videos or {"train": 8, "test": 4})
    return datasets.DatasetDict(
        {
            split: make_synthetic_video_dataset(Path(output_dir) / split, num_videos=count, seed=seed + i, **kwargs)
            for i, (split, count) in enumerate(num_videos.items())
        }
    )


def load_tal_dataset(name: str, kwargs: dict | None = None, cache_dir: str | None = None) -> datasets.DatasetDict:
    """A `DatasetDict` of TAL rows.

    Args:
        name: `"synthetic"` (`momentzoo.data.make_synthetic_tal_dataset`, `kwargs` are `SyntheticTALConfig`
            fields), `"synthetic_video"` (the mp4s of `make_synthetic_video_dataset` written under
            `kwargs["output_dir"]`, `num_videos` per split), a builder name in `TAL_BUILDERS` (`kwargs` are its config fields: `annotation_file`,
            `features_dir`, ...), a folder saved with `save_to_disk`, or a folder / Hub id `datasets.load_dataset`
            reads (the Parquet folders of `dataset_scripts/`; `kwargs` go to `load_dataset`).
        cache_dir: where builders and `load_dataset` cache their Arrow files.
    """
    kwargs = dict(kwargs or {})
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"dataset must be 'synthetic', one of {sorted(TAL_BUILDERS)}, or a path / Hub id; got {name!r}"
        )
    if name == "synthetic":
        from ..data.synthetic import make_synthetic_tal_dataset

        return make_synthetic_tal_dataset(**kwargs)
    if name == "synthetic_video":
        return _synthetic_video_splits(**kwargs)
    if name in TAL_BUILDERS:
        from ..data import builders

        builder = getattr(builders, TAL_BUILDERS[name])(cache_dir=cache_dir, **kwargs)
        builder.download_and_prepare()
        return builder.as_dataset()
    path = Path(name)
    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.Dataset):
            raise ValueError(f"{path} holds a single split; save a DatasetDict (split name -> Dataset)")
        return loaded
    if kwargs.get("split") is not None:
        raise ValueError("dataset_kwargs must not set 'split': the script picks its splits by name")
    return datasets.load_dataset(name, cache_dir=cache_dir, **kwargs)


_GEOMETRY = ("fps", "feature_stride", "num_frames")


def dataset_config_fields(dataset, model_config: dict | None = None) -> dict:
    """`model_config` completed from `dataset` (TAL rows with `features`): `input_dim`, `id2label` and the first
    row's `fps`, `feature_stride`, `num_frames` (the config's defaults for metadata that lacks them). A field the
    caller sets that contradicts the data (`input_dim`, `num_classes`, `id2label`) is a ValueError."""
    feature = dataset.features.get("features") if hasattr(dataset, "features") else None
    shape = getattr(feature, "shape", None)
    if not shape or shape[-1] is None:
        raise ValueError("the dataset has no 'features' column of fixed width (Array2D((None, D)))")
    input_dim = int(shape[-1])
    fields = dataset_class_fields(dataset, model_config)
    if fields.get("input_dim", input_dim) != input_dim:
        raise ValueError(f"model_config.input_dim={fields['input_dim']} but the dataset's features are {input_dim}-d")
    if len(dataset):
        first = dataset.select_columns([c for c in _GEOMETRY if c in dataset.column_names])[0]
        for key in _GEOMETRY:
            if key in first and key not in fields:
                fields[key] = int(first[key]) if key != "fps" else float(first[key])
    fields["input_dim"] = input_dim
    return fields


def dataset_class_fields(dataset, model_config: dict | None = None) -> dict:
    """`model_config` completed with the dataset's classes (`id2label`); a `num_classes` or `id2label` the caller
    sets that contradicts them is a ValueError. For video datasets, whose feature width is the encoder's."""
    fields = dict(model_config or {})
    names = class_names_of(dataset)
    id2label = {i: name for i, name in enumerate(names)}
    given = fields.pop("id2label", None)
    if given is not None and {int(k): v for k, v in given.items()} != id2label:
        raise ValueError(f"model_config.id2label {given} differs from the dataset's classes {names}")
    if fields.get("num_classes", len(names)) != len(names):
        raise ValueError(f"model_config.num_classes={fields['num_classes']} but the dataset has {len(names)} classes")
    fields.pop("num_classes", None)
    fields["id2label"] = id2label
    return fields


def check_model_matches_dataset(model, dataset) -> None:
    """A pretrained model fine-tuned or evaluated on `dataset` must share its classes and feature width."""
    names = class_names_of(dataset)
    model_names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    if names != model_names:
        raise ValueError(f"the model's classes {model_names} differ from the dataset's {names}")
    feature = dataset.features.get("features")
    width = getattr(feature, "shape", (None, None))[-1]
    input_dim = model.config.input_dim
    if width is not None and int(width) != int(input_dim):
        raise ValueError(f"the model takes {input_dim}-d features but the dataset's are {width}-d")


def setup_script(training_args, logger: logging.Logger) -> None:
    """Logging as transformers' examples do."""
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO,
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    if not training_args.should_log:
        logger.setLevel(logging.WARNING)
        transformers.utils.logging.set_verbosity_warning()


def load_splits(data_args: TALDataArguments):
    """`(dataset_dict, train_split, eval_split_or_None)` with `max_train_videos` / `max_eval_videos` applied."""
    data = load_tal_dataset(
        data_args.dataset, as_dict(data_args.dataset_kwargs, "dataset_kwargs"), cache_dir=data_args.cache_dir
    )
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


def finish_tal_training(trainer, data_args: TALDataArguments, training_args, evaluation, name: str, extra=None) -> dict:
    """After training: save the model, score `evaluation` with `trainer.evaluate` (tal_map; the windows shared by
    all processes), write `eval_results.json`, `predictions.json` and `ground_truth.json` (the files `momentzoo
    evaluate` reads) on the main process, render the model card with the results and push with
    `trainer.push_to_hub()` when `--push_to_hub`. `extra(model, evaluation)` may add results to
    `eval_results.json` (not to the card)."""
    trainer.save_model()
    summary = {}
    output_dir = Path(training_args.output_dir)
    if evaluation is not None:
        trainer.evaluate(evaluation)
        if trainer.is_world_process_zero():
            model = trainer.accelerator.unwrap_model(trainer.model)
            metrics = trainer.last_eval_results
            write_predictions_json(trainer.last_eval_predictions, output_dir / "predictions.json")
            write_references_json(evaluation, output_dir / "ground_truth.json", subset=data_args.eval_split)
            summary = dict(metrics, **(extra(model, evaluation) if extra is not None else {}))
            (output_dir / "eval_results.json").write_text(json.dumps(summary, indent=1))
            print(f"\ntal_map on {data_args.dataset}/{data_args.eval_split} ({len(evaluation)} videos), mAP in %:")
            print(format_map_table({name: metrics}, training_args.iou_thresholds))
    trainer.create_model_card(dataset=data_args.dataset)
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset=data_args.dataset)
    trainer.accelerator.wait_for_everyone()
    return summary
