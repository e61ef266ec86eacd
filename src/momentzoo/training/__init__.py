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
    "task_prompt",
    "task_messages",
    "reference_answer",
    "LanguageAdvantageTrainer",
    "LanguageAdvantageTrainingArguments",
    "evaluate_modality_bias",
]

_LAZY = {
    "Invert4TVGConfig": "momentzoo.training.invert4tvg",
    "Invert4TVGTrainer": "momentzoo.training.invert4tvg",
    "Invert4TVGTaskSampler": "momentzoo.training.invert4tvg_tasks",
    "Invert4TVGSFTCollator": "momentzoo.training.invert4tvg_sft",
    "task_prompt": "momentzoo.training.invert4tvg_prompts",
    "task_messages": "momentzoo.training.invert4tvg_prompts",
    "reference_answer": "momentzoo.training.invert4tvg_prompts",
    "LanguageAdvantageTrainer": "momentzoo.training.actionvlm",
    "LanguageAdvantageTrainingArguments": "momentzoo.training.actionvlm",
    "evaluate_modality_bias": "momentzoo.training.modality_bias",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
