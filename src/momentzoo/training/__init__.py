"""Trainers (`Trainer` / `GRPOTrainer` subclasses), their recipes and the shared TAL evaluation.

One folder per method recipe (`actionvlm/`, `invert4tvg/`), the TAL prediction and evaluation (`tal.py`), the
example scripts' helpers (`tal_script.py`, `arguments.py`) and the zero-shot protocol (`zero_shot.py`). Names are
imported on first use: `import momentzoo.training` does not import TRL.
"""

from ..lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "actionvlm": [
            "LanguageAdvantageTrainer",
            "LanguageAdvantageTrainingArguments",
            "LanguageAdvantageCallback",
            "evaluate_modality_bias",
        ],
        "invert4tvg": [
            "Invert4TVGConfig",
            "Invert4TVGTrainer",
            "Invert4TVGTaskSampler",
            "Invert4TVGSFTCollator",
            "make_invert_sft_dataset",
            "render_invert4tvg_card",
            "task_prompt",
            "task_messages",
            "reference_answer",
        ],
        "tal": ["evaluate_tal", "predict_tal"],
        "tal_script": ["TALDataArguments", "load_tal_dataset"],
        "zero_shot": ["evaluate_zero_shot"],
        "arguments": ["parse_args_with_config"],
    },
)
