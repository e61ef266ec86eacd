"""Command-line arguments for the example scripts: `HfArgumentParser` dataclasses with defaults from a YAML file.

    model_args, data_args, training_args = parse_args_with_config(
        (ModelArguments, DataArguments, TrainingArguments))       # sys.argv: --config cfg.yaml [--key value ...]

Every top-level key of the YAML file sets the default of the argument of that name (a key no dataclass has is an
error naming it and the file); arguments given on the command line override the file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser

__all__ = ["parse_args_with_config", "load_yaml_config", "as_dict"]


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
