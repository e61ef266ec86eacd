"""Evaluate a video LLM on temporal video grounding and on Invert4TVG's action-understanding tasks.

    python examples/eval_grounding.py --model outputs/invert4tvg-qwen2.5-vl-3b-charades --dataset charades_sta \
        --test_file data/charades_sta/charades_sta_test.jsonl --videos_dir data/Charades_v1_480 --split test
    python examples/eval_grounding.py --model outputs/invert4tvg-tiny-synthetic --dataset synthetic --split test

Zero-shot, as the paper's Table 2 (a Charades-STA-trained model on other datasets):

    python examples/eval_grounding.py --model outputs/invert4tvg-qwen2.5-vl-3b-charades --dataset activitynet_captions \
        --test_file data/activitynet_captions/val_2.json --videos_dir data/activitynet/videos --video_prefix "" --split test
    python examples/eval_grounding.py --model outputs/invert4tvg-qwen2.5-vl-3b-charades --dataset qvhighlights \
        --test_file data/qvhighlights/highlight_val_release.jsonl --videos_dir data/qvhighlights/videos --split test

(QVHighlights queries with several windows are split into one row per window, `--split_windows`.)

For every query the model answers the TVG prompt (greedy); the answers are parsed with the shared parser and
scored with the `grounding_recall` metric, in % as the paper reports them (R1@0.3, R1@0.5, R1@0.7, mIoU; a hit
is tIoU > m as in the paper, `--no_strict` counts tIoU >= m). With `--tasks tvg vc ar vd` the same queries also make verb-completion, action-recognition and
video-description prompts over their ground-truth clips, and their accuracies (share of answers whose task
reward is 1) are reported: the action-understanding figures of the paper's Figure 1. Results are printed and
written to `--output` (JSON, with every answer when `--save_answers`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from grounding_data import GroundingDataArguments, load_grounding_splits  # noqa: E402

logger = logging.getLogger("eval_grounding")


@dataclass
class EvalArguments:
    model: str = field(
        default="outputs/invert4tvg-tiny-synthetic", metadata={"help": "Checkpoint folder or hub id (Qwen2.5-VL)."}
    )
    split: str = field(default="test", metadata={"help": "Split to evaluate."})
    tasks: list[str] = field(default_factory=lambda: ["tvg", "vc", "ar", "vd"], metadata={"help": "Tasks to evaluate."})
    max_samples: int | None = field(default=None, metadata={"help": "Evaluate the first N queries."})
    batch_size: int = field(default=4, metadata={"help": "Prompts per generate call."})
    max_new_tokens: int = field(default=256, metadata={"help": "Answer length limit."})
    strict: bool = field(default=True, metadata={"help": "Count a hit when tIoU > m (the paper); --no_strict: >= m."})
    dtype: str = field(default="auto", metadata={"help": "auto, bfloat16, float16 or float32."})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1, ... (default: cuda if available)."})
    video_root: str | None = field(default=None, metadata={"help": "Folder that relative video paths are resolved in."})
    output: str | None = field(default=None, metadata={"help": "Write the results as JSON here."})
    save_answers: bool = field(default=False, metadata={"help": "Include every answer in the JSON."})
    torch_threads: int | None = field(default=None, metadata={"help": "torch CPU threads."})


def load_checkpoint(args: EvalArguments):
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    from momentzoo.data.qwen2_5_vl_video import (
        VIDEO_PROCESSOR_FILE,
        Qwen2_5_VLVideoProcessor,
    )

    dtype = args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)
    model = AutoModelForImageTextToText.from_pretrained(args.model, dtype=dtype).eval()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if os.path.isfile(os.path.join(args.model, VIDEO_PROCESSOR_FILE)):
        processor = Qwen2_5_VLVideoProcessor.from_pretrained(args.model)
    else:
        processor = Qwen2_5_VLVideoProcessor.from_model_config(model.config)
    return model, tokenizer, processor


def evaluate_split(model, tokenizer, processor, rows, args: EvalArguments) -> tuple[dict, list[dict]]:
    import evaluate

    import momentzoo.metrics
    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor
    from momentzoo.training.invert4tvg.inference import evaluate_task_answers, generate_answers, load_clip_video_inputs
    from momentzoo.training.invert4tvg.tasks import build_task_rows

    chat = Qwen2_5_VLVideoChatProcessor(tokenizer, processor)
    recall = evaluate.load(momentzoo.metrics.path("grounding_recall"))
    device = next(model.parameters()).device
    results, answers_out = {"num_queries": len(rows)}, []
    for task in args.tasks:
        task_rows, fallbacks = build_task_rows(rows, [task] * len(rows))
        task_rows = [r for r in task_rows if r["task"] == task]  # queries without a verb have no inversion prompt
        if fallbacks:
            logger.warning("%s: %d queries have no verb and are left out of this task", task, fallbacks)
        answers, start = [], time.perf_counter()
        for begin in range(0, len(task_rows), args.batch_size):
            chunk = task_rows[begin : begin + args.batch_size]
            videos = load_clip_video_inputs(processor, chunk, device, args.video_root)
            answers.extend(
                generate_answers(model, chat, chunk, videos, batch_size=len(chunk), max_new_tokens=args.max_new_tokens)[
                    0
                ]
            )
        metrics = evaluate_task_answers(task_rows, answers, recall_metric=recall, strict=args.strict, percent=True)
        metrics[f"{task}/num_queries"] = len(task_rows)
        metrics[f"{task}/seconds"] = time.perf_counter() - start
        results.update(metrics)
        answers_out.extend({"qid": r.get("qid"), "task": task, "answer": a} for r, a in zip(task_rows, answers))
    return results, answers_out


def main(argv=None) -> dict:
    from transformers import HfArgumentParser

    parser = HfArgumentParser((EvalArguments, GroundingDataArguments))
    args, data_args = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    bad = [t for t in args.tasks if t not in ("tvg", "vc", "ar", "vd")]
    if bad:
        raise ValueError(f"--tasks must be among tvg, vc, ar, vd; got {bad}")
    splits = load_grounding_splits(data_args)
    if args.split not in splits:
        raise ValueError(f"split {args.split!r} not in the dataset (splits: {sorted(splits)})")
    rows = splits[args.split]
    if args.max_samples is not None:
        rows = rows.select(range(min(args.max_samples, len(rows))))
    model, tokenizer, processor = load_checkpoint(args)
    results, answers = evaluate_split(model, tokenizer, processor, list(rows), args)

    print(f"\n{args.model} on {data_args.dataset} / {args.split} ({len(rows)} queries; R1 and mIoU in %)")
    for key in ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU"):
        if key in results:
            print(f"  {key:8s} {results[key]:6.2f}")  # already in %
    for task in ("vc", "ar", "vd"):
        if f"{task}/accuracy" in results:
            print(
                f"  {task.upper()} accuracy {100 * results[f'{task}/accuracy']:6.2f}   format {100 * results[f'{task}/format']:6.2f}"
            )
    if args.output:
        payload = {
            "model": args.model,
            "dataset": data_args.dataset,
            "split": args.split,
            "strict": args.strict,
            "results": results,
        }
        if args.save_answers:
            payload["answers"] = answers
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
    return results


if __name__ == "__main__":
    main()
