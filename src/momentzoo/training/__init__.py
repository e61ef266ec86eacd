"""Trainers (`Trainer` / `GRPOTrainer` subclasses), their recipes and the shared TAL evaluation.

One folder per method recipe (`actionformer/`, `actionvlm/`, `invert4tvg/`, `mllm4wtal/`, `timeexpert/`), the weight EMA
shared by recipes (`ema.py`), the TAL prediction and evaluation, zero-shot protocol
included (`tal.py`), and the example scripts' helpers (`tal_script.py`). Names are
imported on first use: `import momentzoo.training` does not import TRL.
"""

from ..lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "actionformer": ["ActionFormerTrainer", "official_decay_parameter_names"],
        "ema": ["ModelEMACallback"],
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
        "mllm4wtal": [
            "WTALTrainer",
            "WTALTrainingArguments",
            "WeakTALCollator",
            "evaluate_wtal",
            "make_synthetic_wtal_dataset",
        ],
        "tal": ["evaluate_tal", "predict_tal", "evaluate_zero_shot"],
        "tal_script": ["TALDataArguments", "load_tal_dataset", "example_parser"],
        "trainer": ["TemporalLocalizationTrainer", "TemporalLocalizationTrainingArguments"],
    },
)
