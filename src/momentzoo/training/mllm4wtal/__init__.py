"""The MLLM4WTAL recipe (and DELU's): weakly-labelled batches with MLLM descriptions (`collator.py`), the
co-activity pair sampler (`sampler.py`), the curriculum-aware trainer (`trainer.py`), DELU's evaluation protocol
(`evaluation.py`), the dataset sources (`data.py`), synthetic data (`synthetic.py`) and the description writer behind
`momentzoo describe` (`describe.py`). Names are imported on first use."""

from ...lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "collator": ["COMPLETE_COLUMN", "KEY_COLUMN", "WeakTALCollator", "check_weak_dataset"],
        "data": ["load_wtal_dataset"],
        "evaluation": ["WTAL_AVERAGES", "WTAL_IOU_THRESHOLDS", "drop_ambiguous", "evaluate_wtal", "wtal_averages"],
        "sampler": ["SimilarPairBatchSampler"],
        "synthetic": ["make_synthetic_wtal_dataset", "synthetic_descriptions"],
        "trainer": ["WTALTrainer", "WTALTrainingArguments"],
    },
)
