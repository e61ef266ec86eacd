"""ActionVLM's recipe: alternating vision-only / vision-language epochs (`LanguageAdvantageTrainer`) and the
modality-bias evaluation (how much the language branch helps, with true and deranged class descriptions)."""

from ...lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "trainer": ["LanguageAdvantageTrainingArguments", "LanguageAdvantageTrainer", "LanguageAdvantageCallback"],
        "modality_bias": [
            "derange_descriptions",
            "predict_with_language_weights",
            "mean_language_advantage",
            "evaluate_modality_bias",
        ],
    },
)
