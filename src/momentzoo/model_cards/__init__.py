"""Model cards: the Jinja templates of every model family (`<model_type>.md`, `default.md` for a family without one)
and their rendering through `huggingface_hub.ModelCard.from_template`.

The templates live inside the package (not in a top-level folder) so that a regular, non-editable install ships
them; the top-level `model_cards/` of the repository holds the rendered card of every published preset
(`momentzoo cards` writes them). Pushing is `momentzoo.hub`.

    save_model_card(model, "ckpt", datasets=["thumos14"], results={"average_mAP": 0.66})

This module depends only on `momentzoo.auto` and `momentzoo.version`, never on a model, dataset or trainer, so a
model may import it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import PreTrainedConfig, PreTrainedModel

from ..auto import TASK_AUTO_CLASSES
from ..version import __version__

__all__ = [
    "MODEL_CARDS_DIR",
    "TASK_TAGS",
    "hub_repo_id",
    "model_card_template",
    "model_task",
    "render_model_card",
    "save_model_card",
    "human_count",
    "as_list",
    "eval_results",
    "results_table",
]

MODEL_CARDS_DIR = Path(__file__).resolve().parent
DEFAULT_TEMPLATE = "default"
# The Hub tag of each momentzoo task (what a user searches for).
TASK_TAGS = {
    "temporal-localization": "temporal-action-localization",
    "temporal-grounding": "temporal-video-grounding",
}
TASK_DESCRIPTIONS = {
    "temporal-localization": "temporal action localization: finding which actions happen in an untrimmed video and "
    "from when to when",
    "temporal-grounding": "temporal video grounding: finding the time window of a video that a sentence describes",
}
_MODEL_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")
# Bookkeeping fields every PreTrainedConfig carries; the card's configuration table shows the model's own fields.
_BASE_CONFIG_KEYS = frozenset(PreTrainedConfig().to_dict())


def model_card_template(model_type: str) -> Path:
    """The template of `model_type`: `model_cards/<model_type>.md` when it exists, else `model_cards/default.md`."""
    if not isinstance(model_type, str) or not _MODEL_TYPE.fullmatch(model_type):
        raise ValueError(
            f"model_type must be letters, digits, '_' or '-' (it names a template file), got {model_type!r}"
        )
    path = MODEL_CARDS_DIR / f"{model_type}.md"
    if path.is_file():
        return path
    default = MODEL_CARDS_DIR / f"{DEFAULT_TEMPLATE}.md"
    if not default.is_file():
        raise FileNotFoundError(f"model card template {default} is missing: the momentzoo install is incomplete")
    return default


def hub_repo_id(name: str | os.PathLike | None) -> str | None:
    """`name` when it is a Hub repo id (`org/name`, not an existing local path), else None: what a card may name
    as its base model or title, so that a local path never ends up on the Hub."""
    name = os.fspath(name) if isinstance(name, os.PathLike) else name
    if not isinstance(name, str) or not _REPO_ID.fullmatch(name) or os.path.exists(name):
        return None
    return name


def _card_title(model_id: str | os.PathLike, fallback: str) -> str:
    """The repo id, or for a local folder its name (the card is published, the path is not)."""
    return hub_repo_id(model_id) or Path(os.fspath(model_id)).name or fallback


def model_task(config_or_model: PreTrainedConfig | PreTrainedModel) -> tuple[str, type] | None:
    """The momentzoo task (`"temporal-localization"`, ...) and task model class registered for a config, or None."""
    config = getattr(config_or_model, "config", config_or_model)
    for task, auto_class in TASK_AUTO_CLASSES.items():
        mapping = auto_class._model_mapping
        if type(config) in mapping:
            return task, mapping[type(config)]
    return None


def _format_value(value: Any, limit: int = 80) -> str:
    if isinstance(value, Mapping) and "model_type" in value:  # a nested sub-model config
        name = value.get("_name_or_path") or ""
        text = f"{value['model_type']} config" + (f" ({name})" if name else "")
    else:
        text = json.dumps(value, default=str) if not isinstance(value, str) else value
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _config_table(config: PreTrainedConfig) -> str:
    fields = {k: v for k, v in config.to_dict().items() if k not in _BASE_CONFIG_KEYS and not k.startswith("_")}
    if not fields:
        return "The configuration has no fields of its own (see `config.json`)."
    rows = "\n".join(f"| `{key}` | {_format_value(value)} |" for key, value in fields.items())
    return "| field | value |\n|---|---|\n" + rows


def _labels(config: PreTrainedConfig) -> list[str]:
    """The class names, unless they are transformers' placeholders `LABEL_i`."""
    names = [str(config.id2label[i]) for i in sorted(config.id2label)] if config.id2label else []
    return [] if all(name == f"LABEL_{i}" for i, name in enumerate(names)) else names


def human_count(n: int | None) -> str | None:
    """1234567 -> "1.2M" (None stays None)."""
    if n is None:
        return None
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def eval_results(
    results: Mapping[str, float] | None, datasets: Sequence[str], task_tag: str
) -> list[EvalResult] | None:
    """The card's `model-index` entries: `results` (metric name -> number) measured on `datasets[0]`; None when there
    are no results or no dataset. A value that is not a number is a ValueError."""
    if not results:
        return None
    bad = {k: v for k, v in results.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
    if bad:
        raise ValueError(f"results must map metric names to numbers, got {bad}")
    if not datasets:
        return None
    return [
        EvalResult(
            task_type=task_tag,
            dataset_type=datasets[0],
            dataset_name=datasets[0],
            metric_type=name,
            metric_name=name,
            metric_value=float(value),
        )
        for name, value in results.items()
    ]


def results_table(results: Mapping[str, float] | None) -> str:
    """A Markdown table of `results` ("" when there are none)."""
    if not results:
        return ""
    return "| metric | value |\n|---|---|\n" + "\n".join(
        f"| {name} | {float(value):.4f} |" for name, value in results.items()
    )


def render_model_card(
    config_or_model: PreTrainedConfig | PreTrainedModel,
    *,
    model_id: str | None = None,
    num_parameters: int | None = None,
    license: str = "apache-2.0",
    datasets: str | Sequence[str] | None = None,
    base_model: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    results: Mapping[str, float] | None = None,
    tags: Sequence[str] | None = None,
    language: str | Sequence[str] | None = None,
    template_path: str | os.PathLike | None = None,
    **template_kwargs: Any,
) -> ModelCard:
    """Render the model card of a model (or of a config alone) from its family's template.

    `model_id` is the Hub id, shown as the title, the `model-index` name and in the usage snippet (a local path
    shows as its folder name); `results` maps metric names to values measured on `datasets[0]` (a table in the card
    and the card's `model-index`). The template sees the `config` itself (architecture text follows its fields);
    every other keyword (`model_summary`, `training_details`, `citation`, ...) is passed to it.

    The metadata names `library_name: transformers` and the momentzoo pipeline as `pipeline_tag`: momentzoo
    checkpoints are transformers checkpoints, and transformers' `pipeline(model="org/repo")` infers the task from
    `pipeline_tag` only for that library. The `momentzoo` tag marks them as momentzoo's.
    """
    model = config_or_model if isinstance(config_or_model, PreTrainedModel) else None
    config = config_or_model.config if model is not None else config_or_model
    if not isinstance(config, PreTrainedConfig):
        raise ValueError(f"expected a PreTrainedModel or PreTrainedConfig, got {type(config_or_model).__name__}")
    model_type = config.model_type
    found = model_task(config)
    if found is None:
        raise ValueError(
            f"config {type(config).__name__} (model_type {model_type!r}) is not registered with a momentzoo task; "
            "register it with momentzoo.register_model(config_class, model_class, task=...)"
        )
    task, task_model_class = found
    if model is not None and num_parameters is None:
        num_parameters = model.num_parameters()
    model_class = type(model).__name__ if model is not None else task_model_class.__name__
    model_id = _card_title(model_id or config.name_or_path or model_type, model_type)
    datasets, base_model = as_list(datasets), as_list(base_model)

    evaluated = eval_results(results, datasets, TASK_TAGS[task])
    card_data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag=TASK_TAGS[task],
        tags=list(dict.fromkeys(["momentzoo", TASK_TAGS[task], model_type, *(tags or [])])),
        datasets=datasets or None,
        base_model=base_model or None,
        metrics=list(metrics) if metrics else None,
        language=language,
        model_name=model_id if evaluated else None,
        eval_results=evaluated,
    )
    labels = _labels(config)
    variables = dict(
        model_id=model_id,
        model_type=model_type,
        model_class=model_class,
        config_class=type(config).__name__,
        task=task,
        task_tag=TASK_TAGS[task],
        task_description=TASK_DESCRIPTIONS[task],
        auto_class=TASK_AUTO_CLASSES[task].__name__,
        num_parameters=num_parameters,
        num_parameters_human=human_count(num_parameters),
        labels=labels,
        config_table=_config_table(config),
        results=dict(results or {}),
        results_table=results_table(results),
        results_dataset=datasets[0] if datasets else None,
        momentzoo_version=__version__,
        config=config,
    )
    variables.update(template_kwargs)
    template = Path(template_path) if template_path is not None else model_card_template(model_type)
    return ModelCard.from_template(card_data, template_path=str(template), **variables)


def save_model_card(
    config_or_model: PreTrainedConfig | PreTrainedModel, save_directory: str | os.PathLike, **card_kwargs: Any
) -> Path:
    """Render the card (see `render_model_card`) and write it as `README.md` in `save_directory`, replacing any
    README there. Returns the path written."""
    directory = Path(save_directory)
    directory.mkdir(parents=True, exist_ok=True)
    card = render_model_card(config_or_model, **card_kwargs)
    path = directory / "README.md"
    card.save(path)
    return path
