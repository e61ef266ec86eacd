"""Grounding datasets for the Invert4TVG example scripts (`train_invert4tvg.py`, `eval_grounding.py`).

`--dataset` names where the rows come from:

* `charades_sta`: Charades-STA jsonl annotations (`--train_file`, `--test_file`) through
  `momentzoo.data.CharadesSTABuilder`, with the videos of `--videos_dir` (`<video_prefix><vid>.mp4`);
* `activitynet_captions`: ActivityNet Captions JSON (`{"v_id": {"duration", "timestamps", "sentences"}}`, e.g.
  `val_2.json` as `--test_file`), one row per sentence, for the paper's zero-shot evaluation; windows that run
  past the video's end are clipped to it (the annotations have a few), windows that start after it are left
  out with a warning;
* `qvhighlights`: QVHighlights jsonl (`highlight_val_release.jsonl` as `--test_file`, split `test`) through
  `momentzoo.data.QVHighlightsBuilder`; a query with several windows becomes one row per window
  (`--split_windows`, on by default), as the zero-shot grounding evaluation of Invert4TVG/Time-R1 counts them;
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
    dataset: str = field(
        default="charades_sta",
        metadata={"help": "charades_sta, activitynet_captions, qvhighlights, synthetic, or a dataset folder."},
    )
    train_file: str | None = field(default=None, metadata={"help": "Charades-STA training annotations (jsonl)."})
    test_file: str | None = field(default=None, metadata={"help": "Charades-STA test annotations (jsonl)."})
    videos_dir: str | None = field(
        default=None, metadata={"help": "Folder of the videos (Charades: Charades_v1_480/)."}
    )
    video_prefix: str = field(default="", metadata={"help": "File name prefix of each video id."})
    skip_missing_videos: bool = field(
        default=False, metadata={"help": "Leave out queries whose video file is missing (listed in a warning)."}
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(
        default=None, metadata={"help": "Split to evaluate on (none: no evaluation during training)."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N training queries."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep the first N evaluation queries."})
    synthetic_dir: str = field(
        default="outputs/synthetic_grounding_videos", metadata={"help": "Where the synthetic mp4s are written."}
    )
    synthetic_train_videos: int = field(default=16, metadata={"help": "Synthetic training videos (1-2 queries each)."})
    synthetic_test_videos: int = field(default=6, metadata={"help": "Synthetic test videos."})
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the synthetic videos."})
    cache_dir: str | None = field(default=None, metadata={"help": "datasets cache for the builders."})
    split_windows: bool = field(
        default=True, metadata={"help": "qvhighlights: one row per window of a multi-window query (qid '<qid>#<k>')."}
    )


def load_grounding_splits(args: GroundingDataArguments):
    """A `DatasetDict` of grounding rows with a `video` column, as `args` describes."""
    import datasets

    if args.dataset == "synthetic":
        return _synthetic(args)
    if args.dataset in ("charades_sta", "activitynet_captions", "qvhighlights"):
        from momentzoo.data import CharadesSTABuilder, QVHighlightsBuilder

        files = {split: path for split, path in (("train", args.train_file), ("test", args.test_file)) if path}
        if not files:
            raise ValueError(f"{args.dataset} needs --train_file and/or --test_file (its annotation files)")
        if args.videos_dir is None:
            raise ValueError(f"{args.dataset} needs --videos_dir, the folder of its videos")
        common = dict(
            videos_dir=args.videos_dir,
            video_prefix=args.video_prefix,
            skip_missing=args.skip_missing_videos,
            cache_dir=args.cache_dir,
        )
        if args.dataset == "qvhighlights":
            builder = QVHighlightsBuilder(data_files=files, **common)
        else:
            if args.dataset == "activitynet_captions":
                out = os.path.join(args.cache_dir or "outputs", "activitynet_captions_jsonl")
                files = {
                    split: activitynet_captions_to_jsonl(path, os.path.join(out, f"{split}.jsonl"))
                    for split, path in files.items()
                }
            builder = CharadesSTABuilder(config_name="jsonl", data_files=files, **common)
        builder.download_and_prepare()
        splits = builder.as_dataset()
        if args.dataset == "qvhighlights" and args.split_windows:
            splits = datasets.DatasetDict({name: single_window_rows(split) for name, split in splits.items()})
        return splits
    if os.path.isdir(args.dataset):
        try:
            loaded = datasets.load_from_disk(args.dataset)
        except FileNotFoundError:
            loaded = datasets.load_dataset(args.dataset)
        return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})
    raise ValueError(
        f"--dataset must be charades_sta, activitynet_captions, qvhighlights, synthetic or an existing folder, "
        f"got {args.dataset!r}"
    )


def activitynet_captions_to_jsonl(source: str, target: str) -> str:
    """Write ActivityNet Captions' JSON as the grounding jsonl the builders read (`qid` = `<video>#<k>`); returns
    `target`. Ends past the video are clipped to its duration; windows starting at or after it are left out."""
    import json
    import warnings

    with open(source, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object of videos, got {type(data).__name__}")
    lines, dropped = [], []
    for vid, video in data.items():
        if not isinstance(video, dict) or not {"duration", "timestamps", "sentences"} <= set(video):
            raise ValueError(f"{source}: video {vid!r} needs 'duration', 'timestamps' and 'sentences'")
        if len(video["timestamps"]) != len(video["sentences"]):
            raise ValueError(
                f"{source}: video {vid!r} has {len(video['timestamps'])} timestamps but "
                f"{len(video['sentences'])} sentences"
            )
        duration = float(video["duration"])
        for k, ((start, end), sentence) in enumerate(zip(video["timestamps"], video["sentences"])):
            start, end = max(0.0, float(start)), min(float(end), duration)
            if not start < end:
                dropped.append(f"{vid}#{k} {video['timestamps'][k]}")
                continue
            lines.append(
                {
                    "qid": f"{vid}#{k}",
                    "query": sentence.strip(),
                    "duration": duration,
                    "vid": vid,
                    "relevant_windows": [[start, end]],
                }
            )
    if dropped:
        warnings.warn(
            f"{source}: left out {len(dropped)} sentence(s) whose window starts at or after the video's end: "
            + ", ".join(dropped[:20])
            + (" ..." if len(dropped) > 20 else ""),
            stacklevel=2,
        )
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    return target


def single_window_rows(split):
    """One row per window: a query with windows w_1..w_n becomes n rows `<qid>#<k>` with `windows=[w_k]`."""

    def expand(batch):
        out = {key: [] for key in batch}
        for i, windows in enumerate(batch["windows"]):
            for k, window in enumerate(windows):
                for key in batch:
                    out[key].append(batch[key][i])
                out["windows"][-1] = [window]
                out["qid"][-1] = f"{batch['qid'][i]}#{k}" if len(windows) > 1 else batch["qid"][i]
        return out

    return split.map(expand, batched=True)


def _synthetic(args: GroundingDataArguments):
    from momentzoo.data.synthetic_video_grounding import (
        make_synthetic_video_grounding_dataset,
    )

    # Short, small clips: the example runs on a CPU in a couple of minutes.
    return make_synthetic_video_grounding_dataset(
        args.synthetic_dir,
        num_videos={"train": args.synthetic_train_videos, "test": args.synthetic_test_videos},
        seed=args.synthetic_seed,
        size=48,
        min_duration=6.0,
        max_duration=8.0,
        min_action_duration=1.5,
        max_action_duration=3.0,
    )


def select_split(splits, name: str | None, limit: int | None):
    if name is None:
        return None
    if name not in splits:
        raise ValueError(f"split {name!r} not in the dataset (splits: {sorted(splits)})")
    split = splits[name]
    return split.select(range(min(limit, len(split)))) if limit is not None else split
