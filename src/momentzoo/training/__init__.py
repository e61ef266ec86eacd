"""Trainers (GRPOTrainer / Trainer subclasses) and training helpers.

Imported lazily: `import momentzoo.training` does not import TRL, so the light modules here (prompts) can be
used by pipelines without loading the trainers.
"""

from importlib import import_module

__all__ = [
    "Invert4TVGConfig",
    "Invert4TVGTrainer",
    "Invert4TVGTaskSampler",
    "Invert4TVGSFTCollator",
    "make_invert_sft_dataset",
    "render_invert4tvg_card",
    "task_prompt",
    "task_messages",
    "reference_answer",
    "LanguageAdvantageTrainer",
    "LanguageAdvantageTrainingArguments",
    "evaluate_modality_bias",
    "evaluate_tal",
    "predict_tal",
    "run_quickstart",
    "parse_args_with_config",
]

_LAZY = {
    "Invert4TVGConfig": "momentzoo.training.invert4tvg",
    "Invert4TVGTrainer": "momentzoo.training.invert4tvg",
    "Invert4TVGTaskSampler": "momentzoo.training.invert4tvg_tasks",
    "Invert4TVGSFTCollator": "momentzoo.training.invert4tvg_sft",
    "make_invert_sft_dataset": "momentzoo.training.invert4tvg_sft",
    "render_invert4tvg_card": "momentzoo.training.invert4tvg_card",
    "task_prompt": "momentzoo.training.invert4tvg_prompts",
    "task_messages": "momentzoo.training.invert4tvg_prompts",
    "reference_answer": "momentzoo.training.invert4tvg_prompts",
    "LanguageAdvantageTrainer": "momentzoo.training.actionvlm",
    "LanguageAdvantageTrainingArguments": "momentzoo.training.actionvlm",
    "evaluate_modality_bias": "momentzoo.training.modality_bias",
    "evaluate_tal": "momentzoo.training.tal_evaluation",
    "predict_tal": "momentzoo.training.tal_evaluation",
    "run_quickstart": "momentzoo.training.quickstart",
    "parse_args_with_config": "momentzoo.training.arguments",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
