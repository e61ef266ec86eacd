"""What every TAL example script shares around its `Trainer`: the data arguments (`TALDataArguments`), loading the
dataset they name (the synthetic set, a momentzoo builder on the user's files, or a saved / exported / Hub dataset),
fitting a model's configuration to that dataset, and, after training, scoring the evaluation split with `tal_map`,
writing the files `momentzoo evaluate` reads, the model card with the results, and the optional Hub upload.

    load_tal_dataset("synthetic", {"num_classes": 8, "seed": 0})
    load_tal_dataset("thumos14", {"annotation_file": "thumos14.json", "features_dir": "i3d_features/"})
    load_tal_dataset("out/thumos14")          # a folder written by dataset_scripts/thumos14.py or save_to_disk
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import transformers
import yaml
from transformers import HfArgumentParser

from ..data.collators import TemporalLocalizationCollator
from ..hub import push_to_hub, save_model_card
from .tal import class_names_of, evaluate_tal, format_map_table, write_predictions_json, write_references_json

__all__ = [
    "parse_args_with_config",
    "load_yaml_config",
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
# Command-line arguments for the example scripts: `HfArgumentParser` dataclasses with defaults from a YAML file.
#
#     model_args, data_args, training_args = parse_args_with_config(
#         (ModelArguments, DataArguments, TrainingArguments))       # sys.argv: --config cfg.yaml [--key value ...]
#
# Every top-level key of the YAML file sets the default of the argument of that name (a key no dataclass has is an
# error naming it and the file); arguments given on the command line override the file.


def load_yaml_config(path) -> dict[str, Any]:
    """The mapping at the top of a YAML file (a ValueError naming the file otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ValueError(f"{path}: the top level must be a mapping of argument names to values")
    return data


def parse_args_with_config(dataclass_types, args: Sequence[str] | None = None) -> tuple:
    """Parse `args` (default `sys.argv[1:]`) into instances of `dataclass_types`, taking defaults from the YAML
    file named by `--config` when given."""
    parser = HfArgumentParser(dataclass_types)
    parser.add_argument("--config", default=None, metavar="FILE.yaml",
                        help="YAML file whose keys set the defaults of these arguments (the command line overrides)")
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(args)
    if known.config:
        values = load_yaml_config(known.config)
        destinations = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - destinations)
        if unknown:
            raise ValueError(f"{known.config}: unknown argument(s) {unknown}")
        parser.set_defaults(**values)
        # argparse checks required arguments before defaults: those the file gives are no longer required
        for action in parser._actions:
            if action.dest in values:
                action.required = False
    outputs = parser.parse_args_into_dataclasses(args=args, look_for_args_file=False)
    # `--config` itself comes back in a trailing Namespace: drop it
    return tuple(output for output in outputs if not isinstance(output, argparse.Namespace))


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
    """Where the TAL data comes from, how training crops it and how the final evaluation runs (the `DataArguments`
    of `examples/train_actionformer.py` and `examples/train_actionvlm.py`)."""

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

    def __post_init__(self):
        if self.padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {self.padding!r}")
        if not 0 <= self.eval_window_overlap < 1:
            raise ValueError(f"eval_window_overlap must be in [0, 1), got {self.eval_window_overlap!r}")
        if not self.iou_thresholds or any(not 0 < t <= 1 for t in self.iou_thresholds):
            raise ValueError(f"iou_thresholds must be values in (0, 1], got {self.iou_thresholds!r}")
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
    return datasets.DatasetDict({
        split: make_synthetic_video_dataset(Path(output_dir) / split, num_videos=count, seed=seed + i, **kwargs)
        for i, (split, count) in enumerate(num_videos.items())
    })


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
        raise ValueError(f"dataset must be 'synthetic', one of {sorted(TAL_BUILDERS)}, or a path / Hub id; got {name!r}")
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
    return dict(model.model_card_kwargs() or {})
