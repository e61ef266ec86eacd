"""Invert4TVG's recipe: GRPO fine-tuning of Qwen2.5-VL for temporal video grounding with inversion tasks.

`config.py` (`Invert4TVGConfig`), `trainer.py` (`Invert4TVGTrainer`), `tasks.py` (the task sampler and task rows),
`prompts.py` (prompts and reference answers), `sft.py` (the supervised warm start), `inference.py` (generation
and scoring), `card.py` (the checkpoint's model card). The Qwen2.5-VL video processing is
`momentzoo.data.qwen2_5_vl_video`. Names are imported on first use: the prompts do not import TRL.
"""

from ...lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "config": ["Invert4TVGConfig"],
        "trainer": ["Invert4TVGTrainer"],
        "tasks": ["TASK_MIXING", "INVERSION_COLUMNS", "Invert4TVGTaskSampler", "build_task_rows", "row_name"],
        "prompts": ["TASK_NAMES", "task_prompt", "task_messages", "reference_answer", "format_seconds"],
        "sft": ["make_invert_sft_dataset", "Invert4TVGSFTCollator", "SFT_TASK_COLUMN"],
        "inference": ["load_clip_video_inputs", "generate_answers", "evaluate_task_answers", "TASK_ACCURACY_REWARDS"],
        "card": ["INVERT4TVG_TEMPLATE", "render_invert4tvg_card"],
    },
)
