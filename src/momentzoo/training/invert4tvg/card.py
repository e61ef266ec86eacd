"""The model card of an Invert4TVG checkpoint, rendered from `momentzoo/model_cards/invert4tvg.md`.

An Invert4TVG checkpoint is a stock Qwen2.5-VL model (not a momentzoo model type), so its card is rendered here
rather than by `momentzoo.model_cards.render_model_card`, which needs a config registered with a momentzoo task;
the helpers (results table, model-index entries, parameter count) are shared with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ...model_cards import MODEL_CARDS_DIR, eval_results, human_count, results_table
from ...rewards import INVERSION_TASKS
from ...version import __version__

__all__ = ["INVERT4TVG_TEMPLATE", "render_invert4tvg_card"]

INVERT4TVG_TEMPLATE = MODEL_CARDS_DIR / "invert4tvg.md"
_HYPERPARAMETERS = (
    ("learning_rate", "learning rate (AdamW)"),
    ("adam_beta1", "AdamW beta1"),
    ("adam_beta2", "AdamW beta2"),
    ("adam_epsilon", "AdamW epsilon"),
    ("weight_decay", "weight decay"),
    ("num_train_epochs", "epochs"),
    ("per_device_train_batch_size", "prompts per device and step"),
    ("gradient_accumulation_steps", "gradient accumulation steps"),
    ("num_generations", "completions per prompt (G)"),
    ("max_completion_length", "max completion tokens"),
    ("temperature", "sampling temperature"),
    ("beta", "KL coefficient (beta)"),
    ("loss_type", "GRPO loss"),
    ("tvg_probability", "p (TVG probability)"),
    ("task_mixing", "task mixing"),
    ("vc_mask", "verbs masked in VC prompts"),
    ("tvg_prompt_with_duration", "duration in the TVG prompt"),
    ("video_fps", "frames per second"),
    ("video_total_pixels", "pixels per video"),
)
# The paper's recipe, shown when the card is rendered without a training config.
_PAPER_DEFAULTS = {
    "learning_rate": 5e-5,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "weight_decay": 0.0,
    "num_train_epochs": 2,
    "per_device_train_batch_size": 4,
    "tvg_probability": 0.8,
    "task_mixing": "per_iteration",
    "video_fps": 2.0,
    "video_total_pixels": 3584 * 28 * 28,
    "inversion_tasks": list(INVERSION_TASKS),
    "beta": 0.04,
    "loss_type": "grpo",
    "vc_mask": "all",
    "tvg_prompt_with_duration": False,
}


def render_invert4tvg_card(
    model_id: str,
    *,
    base_model: str | Sequence[str] | None = "Qwen/Qwen2.5-VL-3B-Instruct",
    datasets: Sequence[str] | None = None,
    args: Any = None,
    results: Mapping[str, float] | None = None,
    num_parameters: int | None = None,
    architecture: str = "Qwen2_5_VLForConditionalGeneration",
    tags: Sequence[str] | None = None,
    license: str = "apache-2.0",
    **template_kwargs: Any,
) -> ModelCard:
    """The card of an Invert4TVG checkpoint.

    `args` is the run's `Invert4TVGConfig` (its recipe goes in the card; the paper's defaults without it);
    `results` maps metric names (`R1@0.5`, `mIoU`, ...) to values measured on `datasets[0]`.
    """
    if not isinstance(model_id, str) or not model_id.strip():
        raise ValueError(f"model_id must be a non-empty string, got {model_id!r}")
    base = [base_model] if isinstance(base_model, str) else list(base_model or [])
    datasets = [d for d in (datasets or []) if d]
    values = dict(_PAPER_DEFAULTS)
    if args is not None:
        values.update({name: getattr(args, name) for name, _ in _HYPERPARAMETERS if hasattr(args, name)})
        if hasattr(args, "inversion_tasks"):
            values["inversion_tasks"] = list(args.inversion_tasks)
    evaluated = eval_results(results, datasets, "temporal-video-grounding")
    card_data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag="video-text-to-text",
        tags=list(dict.fromkeys(["momentzoo", "invert4tvg", "temporal-video-grounding", "grpo", *(tags or [])])),
        datasets=datasets or None,
        base_model=base or None,
        model_name=model_id if evaluated else None,
        eval_results=evaluated,
    )
    variables = dict(
        model_id=model_id,
        architecture=architecture,
        base_model=base,
        datasets=datasets,
        license=license,
        momentzoo_version=__version__,
        num_parameters_human=human_count(num_parameters),
        hyperparameters=[(label, values[name]) for name, label in _HYPERPARAMETERS if name in values],
        tvg_probability=values["tvg_probability"],
        task_mixing=values["task_mixing"],
        inversion_tasks=[t.upper() for t in values["inversion_tasks"]],
        video_fps=values["video_fps"],
        video_total_pixels=f"{values['video_total_pixels']:,}" if values["video_total_pixels"] else "unbounded",
        results_table=results_table(results),
        results_dataset=datasets[0] if datasets else None,
    )
    variables.update(template_kwargs)
    return ModelCard.from_template(card_data, template_path=str(INVERT4TVG_TEMPLATE), **variables)
