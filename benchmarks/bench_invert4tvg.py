"""Invert4TVG end to end on synthetic videos: Invert-SFT warm start, then GRPO, then held-out TVG reward.

    python benchmarks/bench_invert4tvg.py [--sft_steps 60] [--grpo_steps 30] [--tvg_probability 1.0] [--beta 0.04]

A tiny Qwen2.5-VL (`tiny_invert4tvg_model`) is warmed up with TRL's `SFTTrainer` on the grounding answers of
the synthetic training videos until it writes the answer format part of the time, then trained with
`Invert4TVGTrainer`. The mean TVG reward (r_format + r_IoU, sampled at temperature 1, several samples per
prompt) and R1@m / mIoU (greedy, tIoU > m) on held-out videos are printed before and after GRPO, with timings.
GRPO is the paper's objective by default (`loss_type="grpo"`, KL `beta=0.04` to the starting policy). Runs on
one CPU thread (oversubscribed threads are several times slower on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch


def held_out_metrics(model, chat, rows, videos, samples: int, seed: int, max_new_tokens: int) -> dict:
    from momentzoo.training.invert4tvg.inference import evaluate_task_answers, generate_answers

    model.eval()
    torch.manual_seed(seed)
    sampled, _ = generate_answers(
        model,
        chat,
        rows * samples,
        videos * samples,
        batch_size=32,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=1.0,
        top_k=0,
    )
    greedy, _ = generate_answers(model, chat, rows, videos, batch_size=32, max_new_tokens=max_new_tokens)
    out = {f"sampled_{k}": v for k, v in evaluate_task_answers(rows * samples, sampled).items() if k.startswith("tvg/")}
    out.update({f"greedy_{k}": v for k, v in evaluate_task_answers(rows, greedy).items()})
    return out


def time_paper_sampling(video: str, repeats: int = 2) -> None:
    """Seconds to turn a real video into Qwen2.5-VL inputs at the paper's settings (2 fps, ~2.8 M pixels)."""
    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoProcessor

    processor = Qwen2_5_VLVideoProcessor()
    for _ in range(repeats):
        start = time.perf_counter()
        clip = processor.read_clip(video)
        decoded = time.perf_counter()
        inputs = processor.preprocess(clip.frames, clip.fps)
        done = time.perf_counter()
    grid = inputs["video_grid_thw"][0].tolist()
    tokens = processor.num_video_tokens(inputs["video_grid_thw"])[0]
    print(
        f"paper sampling of {video}: {len(clip.frames)} frames {tuple(clip.frames.shape[1:3])} -> grid {grid}, "
        f"{tokens} video tokens; decode {decoded - start:.2f} s, resize+patchify {done - decoded:.2f} s"
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft_steps", type=int, default=60)
    parser.add_argument("--sft_lr", type=float, default=1e-2)
    parser.add_argument("--grpo_steps", type=int, default=30)
    parser.add_argument("--grpo_lr", type=float, default=1e-3)
    parser.add_argument("--tvg_probability", type=float, default=1.0)
    parser.add_argument("--beta", type=float, default=0.04, help="KL coefficient (the paper's Eq. 4: 0.04)")
    parser.add_argument("--loss_type", default="grpo", help="GRPO loss (the paper's Eq. 3: grpo)")
    parser.add_argument("--num_generations", type=int, default=8)
    parser.add_argument("--train_videos", type=int, default=16)
    parser.add_argument("--test_videos", type=int, default=8)
    parser.add_argument("--samples", type=int, default=8, help="sampled answers per held-out prompt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--real_video", default=None, help="also time the paper's video sampling on this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.real_video:
        time_paper_sampling(args.real_video)

    from trl import SFTConfig, SFTTrainer

    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor, Qwen2_5_VLVideoProcessor
    from momentzoo.data.synthetic_video_grounding import make_synthetic_video_grounding_dataset
    from momentzoo.testing.invert4tvg import tiny_invert4tvg_model
    from momentzoo.training.invert4tvg import Invert4TVGConfig, Invert4TVGTrainer
    from momentzoo.training.invert4tvg.inference import load_clip_video_inputs
    from momentzoo.training.invert4tvg.sft import Invert4TVGSFTCollator, make_invert_sft_dataset
    from momentzoo.training.invert4tvg.tasks import build_task_rows

    work = tempfile.mkdtemp(prefix="bench_invert4tvg-")
    data = make_synthetic_video_grounding_dataset(
        work,
        num_videos={"train": args.train_videos, "test": args.test_videos},
        seed=args.seed,
        size=48,
        min_duration=6.0,
        max_duration=8.0,
        min_action_duration=1.5,
        max_action_duration=3.0,
    )
    model, tokenizer = tiny_invert4tvg_model()
    video_kwargs = dict(min_pixels=28 * 28, total_pixels=16 * 28 * 28)
    video_processor = Qwen2_5_VLVideoProcessor.from_model_config(model.config, **video_kwargs)
    chat = Qwen2_5_VLVideoChatProcessor(tokenizer, video_processor)
    test_rows, _ = build_task_rows(list(data["test"]), ["tvg"] * len(data["test"]))
    test_videos = load_clip_video_inputs(video_processor, test_rows)
    print(f"synthetic data: {len(data['train'])} training queries, {len(test_rows)} held-out queries")

    start = time.perf_counter()
    sft_data = make_invert_sft_dataset(data["train"], tasks=["tvg"])
    sft = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=f"{work}/sft",
            use_cpu=True,
            bf16=False,
            fp16=False,
            max_steps=args.sft_steps,
            per_device_train_batch_size=len(sft_data),
            learning_rate=args.sft_lr,
            lr_scheduler_type="constant",
            logging_steps=max(1, args.sft_steps // 5),
            report_to=[],
            save_strategy="no",
            remove_unused_columns=False,
            dataset_kwargs={"skip_prepare_dataset": True},
            gradient_checkpointing=False,
            seed=args.seed,
        ),
        train_dataset=sft_data,
        processing_class=tokenizer,
        data_collator=Invert4TVGSFTCollator(tokenizer, video_processor, cache_size=len(sft_data)),
    )
    sft.train()
    sft_seconds = time.perf_counter() - start
    before = held_out_metrics(model, chat, test_rows, test_videos, args.samples, args.seed, 32)

    start = time.perf_counter()
    config = Invert4TVGConfig(
        output_dir=f"{work}/grpo",
        use_cpu=True,
        bf16=False,
        fp16=False,
        max_steps=args.grpo_steps,
        per_device_train_batch_size=2 * args.num_generations,
        num_generations=args.num_generations,
        max_completion_length=32,
        learning_rate=args.grpo_lr,
        lr_scheduler_type="constant",
        beta=args.beta,
        loss_type=args.loss_type,
        tvg_probability=args.tvg_probability,
        logging_steps=max(1, args.grpo_steps // 5),
        report_to=[],
        save_strategy="no",
        gradient_checkpointing=False,
        seed=args.seed,
        **{f"video_{k}": v for k, v in video_kwargs.items()},
    )
    grpo = Invert4TVGTrainer(
        model, config, train_dataset=data["train"], processing_class=tokenizer, video_processor=video_processor
    )
    grpo.train()
    grpo_seconds = time.perf_counter() - start
    after = held_out_metrics(model, chat, test_rows, test_videos, args.samples, args.seed, 32)

    print(
        f"\nInvert-SFT: {args.sft_steps} steps in {sft_seconds:.1f} s; GRPO (p={args.tvg_probability}, "
        f"beta={args.beta}, loss_type={args.loss_type}): "
        f"{args.grpo_steps} steps in {grpo_seconds:.1f} s ({grpo_seconds / max(args.grpo_steps, 1):.2f} s/step)"
    )
    print(
        "training reward per logged GRPO step:",
        [round(h["reward"], 3) for h in grpo.state.log_history if "reward" in h],
    )
    print(f"{'held-out metric':32s} {'after SFT':>10s} {'after GRPO':>10s}")
    for key in before:
        print(f"{key:32s} {before[key]:10.3f} {after[key]:10.3f}")
    return {"before": before, "after": after, "sft_seconds": sft_seconds, "grpo_seconds": grpo_seconds}


if __name__ == "__main__":
    main()
