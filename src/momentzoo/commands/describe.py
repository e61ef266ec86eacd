"""`momentzoo describe`: write the MLLM descriptions MLLM4WTAL trains with (D_key and D_complete for every video of a
dataset) with a video LLM, resumable after a kill, and save the dataset with them as new columns."""

import json
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "describe",
        help="write MLLM key / complete descriptions of every video (MLLM4WTAL), resumable",
        description=(
            "Prompt a video LLM (Qwen2.5-VL by default: Qwen/Qwen2.5-VL-7B-Instruct) with P_key and P_complete for "
            "every video of the chosen splits, append the answers to OUTPUT_DIR/descriptions_<split>.jsonl as they "
            "come (a killed run resumes there), and save the dataset with key_description and complete_description "
            "columns to OUTPUT_DIR/dataset (datasets.load_from_disk)."
        ),
    )
    parser.add_argument(
        "--dataset", required=True, help="thumos14_weak, another TAL builder name, a saved dataset folder or a Hub id"
    )
    parser.add_argument("--dataset_kwargs", default=None, help="JSON of builder / load_dataset arguments")
    parser.add_argument("--model", required=True, help="Qwen2.5-VL checkpoint (hub id or path)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--splits", nargs="+", default=None, help="splits to describe (default: all)")
    parser.add_argument(
        "--video_root",
        default=None,
        help="folder of <video_id><extension> files, for datasets without a 'video' column",
    )
    parser.add_argument("--extension", default=".mp4")
    parser.add_argument("--fps", type=float, default=1.0, help="frames sampled per second")
    parser.add_argument("--max_frames", type=int, default=32)
    parser.add_argument("--max_new_tokens", type=int, default=128)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..training.mllm4wtal.data import load_wtal_dataset
    from ..training.mllm4wtal.describe import QwenVideoDescriber, describe_dataset
    from ..training.tal import class_names_of

    kwargs = json.loads(args.dataset_kwargs) if args.dataset_kwargs else {}
    data = load_wtal_dataset(args.dataset, kwargs)
    splits = args.splits or list(data)
    unknown = [s for s in splits if s not in data]
    if unknown:
        raise SystemExit(f"momentzoo describe: unknown split(s) {unknown}; the dataset has {list(data)}")
    describer = QwenVideoDescriber.from_pretrained(
        args.model,
        fps=args.fps,
        max_frames=args.max_frames,
        max_new_tokens=args.max_new_tokens,
        video_root=args.video_root,
    )
    output = Path(args.output_dir)
    for split in splits:
        data[split] = describe_dataset(
            data[split],
            describer,
            output / f"descriptions_{split}.jsonl",
            class_names_of(data[split]),
            video_root=args.video_root,
            extension=args.extension,
            progress=True,
        )
    data.save_to_disk(str(output / "dataset"))
    print(f"descriptions of {sum(len(data[s]) for s in splits)} videos: {output / 'dataset'}")
    return 0
