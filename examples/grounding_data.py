"""Grounding datasets for the Invert4TVG example scripts (`train_invert4tvg.py`, `eval_grounding.py`).

`--dataset` names where the rows come from:

* `charades_sta`: Charades-STA jsonl annotations (`--train_file`, `--test_file`) through
  `momentzoo.data.CharadesSTABuilder`, with the videos of `--videos_dir` (`<video_prefix><vid>.mp4`);
* `synthetic`: moving-square mp4s written to `--synthetic_dir` with queries about them
  (`make_synthetic_video_grounding_dataset`), for runs that must work offline in minutes;
* a folder: a dataset saved with `save_to_disk`, or Parquet files with a card (`load_dataset(folder)`), with
  grounding columns (`qid`, `query`, `duration`, `windows`, `video`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class GroundingDataArguments:
    dataset: str = field(default="charades_sta", metadata={"help": "charades_sta, synthetic, or a dataset folder."})
    train_file: str | None = field(default=None, metadata={"help": "Charades-STA training annotations (jsonl)."})
    test_file: str | None = field(default=None, metadata={"help": "Charades-STA test annotations (jsonl)."})
    videos_dir: str | None = field(default=None, metadata={"help": "Folder of the videos (Charades: Charades_v1_480/)."})
    video_prefix: str = field(default="", metadata={"help": "File name prefix of each video id."})
    skip_missing_videos: bool = field(default=False, metadata={"help": "Leave out queries whose video file is missing (listed in a warning)."})
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default=None, metadata={"help": "Split to evaluate on (none: no evaluation during training)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N training queries."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep the first N evaluation queries."})
    synthetic_dir: str = field(default="outputs/synthetic_grounding_videos", metadata={"help": "Where the synthetic mp4s are written."})
    synthetic_train_videos: int = field(default=16, metadata={"help": "Synthetic training videos (1-2 queries each)."})
    synthetic_test_videos: int = field(default=6, metadata={"help": "Synthetic test videos."})
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the synthetic videos."})
    cache_dir: str | None = field(default=None, metadata={"help": "datasets cache for the builders."})


def load_grounding_splits(args: GroundingDataArguments):
    """A `DatasetDict` of grounding rows with a `video` column, as `args` describes."""
    import datasets

    if args.dataset == "synthetic":
        return _synthetic(args)
    if args.dataset == "charades_sta":
        from momentzoo.data import CharadesSTABuilder

        files = {split: path for split, path in (("train", args.train_file), ("test", args.test_file)) if path}
        if not files:
            raise ValueError("charades_sta needs --train_file and/or --test_file (Charades-STA jsonl annotations)")
        if args.videos_dir is None:
            raise ValueError("charades_sta needs --videos_dir, the folder of the Charades videos")
        builder = CharadesSTABuilder(config_name="jsonl", data_files=files, videos_dir=args.videos_dir,
                                     video_prefix=args.video_prefix, skip_missing=args.skip_missing_videos,
                                     cache_dir=args.cache_dir)
        builder.download_and_prepare()
        return builder.as_dataset()
    if os.path.isdir(args.dataset):
        try:
            loaded = datasets.load_from_disk(args.dataset)
        except FileNotFoundError:
            loaded = datasets.load_dataset(args.dataset)
        return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})
    raise ValueError(f"--dataset must be charades_sta, synthetic or an existing folder, got {args.dataset!r}")


def _synthetic(args: GroundingDataArguments):
    from momentzoo.data.synthetic_video_grounding import make_synthetic_video_grounding_dataset

    # Short, small clips: the example runs on a CPU in a couple of minutes.
    return make_synthetic_video_grounding_dataset(
        args.synthetic_dir, num_videos={"train": args.synthetic_train_videos, "test": args.synthetic_test_videos},
        seed=args.synthetic_seed, size=48, min_duration=6.0, max_duration=8.0, min_action_duration=1.5,
        max_action_duration=3.0,
    )


def select_split(splits, name: str | None, limit: int | None):
    if name is None:
        return None
    if name not in splits:
        raise ValueError(f"split {name!r} not in the dataset (splits: {sorted(splits)})")
    split = splits[name]
    return split.select(range(min(limit, len(split)))) if limit is not None else split
