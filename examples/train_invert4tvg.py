"""Invert4TVG: GRPO fine-tuning of Qwen2.5-VL for temporal video grounding with inversion tasks.

    accelerate launch examples/train_invert4tvg.py --config examples/configs/invert4tvg_charades.yaml
    accelerate launch examples/train_invert4tvg.py --config examples/configs/invert4tvg_synthetic.yaml

Every field of the YAML can be given (or overridden) on the command line, e.g. `--tvg_probability 0.6`
(the paper's ablation over p), `--use_peft`, `--do_sft`, `--push_to_hub --hub_model_id user/name`.

Stages: an optional Invert-SFT warm start (TRL's `SFTTrainer`: ground-truth clip -> task answer, by default on
the inversion tasks), then `Invert4TVGTrainer` (GRPO with task mixing). The final model, tokenizer, video
sampling settings (`momentzoo_video_processor.json`) and model card are saved to `output_dir` and pushed with
`--push_to_hub`. `model_name_or_path: tiny` builds a tiny random Qwen2.5-VL with a locally trained tokenizer.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from grounding_data import GroundingDataArguments, load_grounding_splits, select_split  # noqa: E402

logger = logging.getLogger("train_invert4tvg")


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="Qwen/Qwen2.5-VL-3B-Instruct", metadata={"help": "Hub id, local path, or 'tiny'."}
    )
    dtype: str = field(default="auto", metadata={"help": "Weights dtype: auto, bfloat16, float16 or float32."})
    attn_implementation: str | None = field(default=None, metadata={"help": "e.g. sdpa or flash_attention_2."})
    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        metadata={"help": "Module names that get LoRA adapters."},
    )
    torch_threads: int | None = field(
        default=None, metadata={"help": "torch CPU threads (1 is fastest on a shared 2-core machine)."}
    )


@dataclass
class SFTArguments:
    do_sft: bool = field(default=False, metadata={"help": "Run the Invert-SFT warm start before GRPO."})
    sft_tasks: list[str] = field(
        default_factory=lambda: ["vc", "ar", "vd"], metadata={"help": "Tasks of the warm start (tvg, vc, ar, vd)."}
    )
    sft_learning_rate: float = field(default=2e-5, metadata={"help": "Warm-start learning rate."})
    sft_num_train_epochs: float = field(default=1.0, metadata={"help": "Warm-start epochs."})
    sft_max_steps: int = field(default=-1, metadata={"help": "Warm-start steps (overrides epochs when > 0)."})
    sft_batch_size: int = field(default=4, metadata={"help": "Warm-start examples per device and step."})
    sft_lr_scheduler_type: str = field(default="cosine", metadata={"help": "Warm-start learning-rate schedule."})
    sft_video_cache: int = field(
        default=0, metadata={"help": "Decoded clips kept between warm-start steps (0: decode every time)."}
    )


def load_model(args: ModelArguments):
    if args.model_name_or_path == "tiny":
        from momentzoo.testing.invert4tvg import tiny_invert4tvg_model

        model, tokenizer = tiny_invert4tvg_model()
        return model, tokenizer
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    kwargs = {"dtype": args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)}
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(args.model_name_or_path, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    return model, tokenizer


def lora_config(args: ModelArguments):
    from peft import LoraConfig

    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=list(args.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def run_sft(model, tokenizer, video_processor, train_rows, model_args, sft_args, grpo_args):
    """The Invert-SFT warm start; returns the model with its weights updated (LoRA merged)."""
    from trl import SFTConfig, SFTTrainer

    from momentzoo.training.invert4tvg.sft import Invert4TVGSFTCollator, make_invert_sft_dataset

    sft_rows = make_invert_sft_dataset(train_rows, tasks=sft_args.sft_tasks)
    config = SFTConfig(
        output_dir=os.path.join(grpo_args.output_dir, "sft"),
        learning_rate=sft_args.sft_learning_rate,
        num_train_epochs=sft_args.sft_num_train_epochs,
        max_steps=sft_args.sft_max_steps,
        per_device_train_batch_size=sft_args.sft_batch_size,
        lr_scheduler_type=sft_args.sft_lr_scheduler_type,
        use_cpu=grpo_args.use_cpu,
        bf16=grpo_args.bf16,
        fp16=grpo_args.fp16,
        gradient_checkpointing=grpo_args.gradient_checkpointing,
        logging_steps=grpo_args.logging_steps,
        report_to=grpo_args.report_to,
        seed=grpo_args.seed,
        save_strategy="no",
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
    )
    collator = Invert4TVGSFTCollator(
        tokenizer,
        video_processor,
        system_prompt=grpo_args.system_prompt,
        video_root=grpo_args.video_root,
        cache_size=sft_args.sft_video_cache,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=sft_rows,
        processing_class=tokenizer,
        data_collator=collator,
        peft_config=lora_config(model_args) if model_args.use_peft else None,
    )
    trainer.train()
    model = trainer.model
    if model_args.use_peft:
        model = model.merge_and_unload()  # GRPO then trains fresh adapters on the warmed-up weights
    return model


def main(argv=None):
    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoProcessor
    from momentzoo.training.invert4tvg import Invert4TVGConfig, Invert4TVGTrainer
    from momentzoo.training.resume import resolve_resume_checkpoint
    from momentzoo.training.tal_script import example_parser

    parser = example_parser((ModelArguments, GroundingDataArguments, SFTArguments, Invert4TVGConfig))
    model_args, data_args, sft_args, grpo_args = parser.parse_args_and_config(args=argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if model_args.torch_threads:
        torch.set_num_threads(model_args.torch_threads)

    splits = load_grounding_splits(data_args)
    train_rows = select_split(splits, data_args.train_split, data_args.max_train_samples)
    eval_rows = select_split(splits, data_args.eval_split, data_args.max_eval_samples)
    logger.info(
        "training on %d queries%s",
        len(train_rows),
        f", evaluating on {len(eval_rows)}" if eval_rows is not None else "",
    )

    model, tokenizer = load_model(model_args)
    video_processor = Qwen2_5_VLVideoProcessor.from_model_config(model.config, **grpo_args.video_processor_kwargs())
    if sft_args.do_sft:
        model = run_sft(model, tokenizer, video_processor, train_rows, model_args, sft_args, grpo_args)

    trainer = Invert4TVGTrainer(
        model=model,
        args=grpo_args,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        video_processor=video_processor,
        peft_config=lora_config(model_args) if model_args.use_peft else None,
    )
    trainer.train(
        resume_from_checkpoint=resolve_resume_checkpoint(grpo_args.resume_from_checkpoint, grpo_args.output_dir)
    )
    trainer.save_model(grpo_args.output_dir)
    dataset_name = "charades_sta" if data_args.dataset == "charades_sta" else data_args.dataset
    trainer.create_model_card(dataset_name=dataset_name)
    if grpo_args.push_to_hub:
        trainer.push_to_hub(dataset_name=dataset_name)
    logger.info("saved to %s", grpo_args.output_dir)
    return trainer


if __name__ == "__main__":
    main()
