#!/usr/bin/env python
"""Zero-shot TAL over the standard splits: for each split ratio (75/25, 50/50) and split (one, several or all 10),
train PSFTR on the seen classes (or load the checkpoint trained earlier), score the unseen classes with `tal_map`,
and print per-split mAP and the mean over splits in the layout of zero-shot TAL papers.

    python examples/eval_zero_shot.py --config examples/configs/psftr_synthetic.yaml --splits 0,1,2
    python examples/eval_zero_shot.py --config examples/configs/psftr_thumos14.yaml --splits all \
        --split_ratios 75_25 50_50
    python examples/eval_zero_shot.py --config examples/configs/psftr_thumos14.yaml --checkpoints_dir outputs/psftr-thumos14

Arguments are those of `train_psftr.py` plus `EvalArguments`. Each split trains into
`<output_dir>/<ratio>/split_<k>`; with `--checkpoints_dir` the models already there are evaluated instead. The
tables and every split's metrics are written to `<output_dir>/zero_shot_results.{md,json}`.
"""

import copy
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import transformers
from transformers import TrainingArguments

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_psftr import ModelArguments, ZeroShotDataArguments, run_split  # noqa: E402

import momentzoo  # noqa: E402
from momentzoo.data.zero_shot import NUM_ZERO_SHOT_SPLITS  # noqa: E402
from momentzoo.training.tal import (  # noqa: E402
    ZERO_SHOT_IOU_THRESHOLDS,
    evaluate_zero_shot,
    format_zero_shot_table,
    zero_shot_data,
)
from momentzoo.training.tal_script import (  # noqa: E402
    as_dict,
    example_parser,
    load_tal_dataset,  # noqa: E402
)

logger = logging.getLogger("eval_zero_shot")


@dataclass
class EvalArguments:
    splits: str = field(default="all", metadata={"help": "'all' (0-9) or comma-separated split indices, e.g. '0,3'."})
    split_ratios: list[str] = field(default_factory=lambda: ["75_25"], metadata={"help": "75_25 and/or 50_50."})
    checkpoints_dir: str | None = field(
        default=None, metadata={"help": "Evaluate the models in <dir>/<ratio>/split_<k> instead of training them."}
    )


def parse_splits(text: str) -> list[int]:
    if text.strip() == "all":
        return list(range(NUM_ZERO_SHOT_SPLITS))
    try:
        splits = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--splits must be 'all' or comma-separated integers, got {text!r}") from None
    bad = [k for k in splits if not 0 <= k < NUM_ZERO_SHOT_SPLITS]
    if not splits or bad:
        raise ValueError(f"--splits must name splits in 0..{NUM_ZERO_SHOT_SPLITS - 1}, got {text!r}")
    return splits


def evaluate_checkpoint(folder: Path, data_args: ZeroShotDataArguments, data, batch_size: int) -> dict:
    """Unseen-class metrics of a saved model (the split's classes are re-derived from the split arguments)."""
    model = momentzoo.AutoModelForTemporalLocalization.from_pretrained(folder)
    if data is None:  # the synthetic set is made with the model's own text encoder, as in training
        from train_psftr import make_synthetic_data

        data = make_synthetic_data(data_args, model)
    _, evaluation, classes = zero_shot_data(
        data,
        data_args.benchmark,
        data_args.split_ratio,
        data_args.split_index,
        data_args.train_split,
        data_args.eval_split,
        seed=data_args.split_seed,
    )
    config = model.config
    overlap = data_args.inference_slice_overlap
    return evaluate_zero_shot(
        model,
        evaluation,
        classes["unseen"],
        iou_thresholds=data_args.iou_thresholds or ZERO_SHOT_IOU_THRESHOLDS[data_args.benchmark],
        window_size=data_args.slice_size or config.slice_size,
        window_overlap=config.inference_slice_overlap if overlap is None else overlap,
        batch_size=batch_size,
    )[0]


def main(argv=None) -> dict:
    model_args, data_args, training_args, eval_args = example_parser(
        (ModelArguments, ZeroShotDataArguments, TrainingArguments, EvalArguments)
    ).parse_args_and_config(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO,
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    if not training_args.should_log:
        transformers.utils.logging.set_verbosity_warning()
    splits = parse_splits(eval_args.splits)
    bad = [r for r in eval_args.split_ratios if r not in ("75_25", "50_50")]
    if bad:
        raise ValueError(f"--split_ratios must be 75_25 and/or 50_50, got {bad}")
    thresholds = data_args.iou_thresholds or ZERO_SHOT_IOU_THRESHOLDS[data_args.benchmark]
    data = None
    if data_args.dataset != "synthetic":  # loaded once for every split
        data = load_tal_dataset(
            data_args.dataset, as_dict(data_args.dataset_kwargs, "dataset_kwargs"), cache_dir=data_args.cache_dir
        )

    root = Path(training_args.output_dir)
    results, tables = {}, []
    for ratio in eval_args.split_ratios:
        results[ratio] = {}
        for k in splits:
            split_args = copy.deepcopy(data_args)
            split_args.split_ratio, split_args.split_index = ratio, k
            if eval_args.checkpoints_dir:
                metrics = evaluate_checkpoint(
                    Path(eval_args.checkpoints_dir) / ratio / f"split_{k}",
                    split_args,
                    data,
                    training_args.per_device_eval_batch_size,
                )
            else:
                split_training = copy.deepcopy(training_args)
                split_training.output_dir = str(root / ratio / f"split_{k}")
                metrics = run_split(model_args, split_args, split_training, data=data)
            if not metrics:  # not the main process
                continue
            results[ratio][k] = metrics
            logger.info("%s split %d: average mAP %.2f", ratio, k, 100 * metrics["average_mAP"])
        if results[ratio]:
            title = (
                f"PSFTR zero-shot TAL on {data_args.benchmark}, {ratio.replace('_', '% seen / ')}% unseen "
                f"classes: mAP (%) on the unseen classes"
            )
            tables.append(format_zero_shot_table(results[ratio], thresholds, title))
    if tables:
        text = "\n\n".join(tables)
        print("\n" + text)
        root.mkdir(parents=True, exist_ok=True)
        (root / "zero_shot_results.md").write_text(text + "\n")
        (root / "zero_shot_results.json").write_text(
            json.dumps({ratio: {str(k): m for k, m in per.items()} for ratio, per in results.items()}, indent=1)
        )
    return results


if __name__ == "__main__":
    main()
