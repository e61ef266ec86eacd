"""Modality-bias diagnostics of an ActionVLM checkpoint (Li et al., arXiv:2601.21078):

* mLA: the mean language weight λ_lang over the ground-truth frames of each class;
* LAP: the relative drop of average mAP (the `tal_map` metric) when the class descriptions are mismatched across
  classes, (mAP_matched − mAP_shuffled) / mAP_matched.

    python examples/eval_modality_bias.py --model path/to/actionvlm --dataset path/to/tal_dataset --split test
    python examples/eval_modality_bias.py --model path/to/actionvlm --synthetic   # momentzoo's synthetic set

`--dataset` is a dataset saved with `save_to_disk` or a Parquet folder with its card (momentzoo's TAL rows:
`features`, `segments`, `labels` and the feature geometry). The model's class ids must be the dataset's.
"""

import argparse
import json
import math
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel  # noqa: E402

import momentzoo  # noqa: E402,F401  (registers ActionVLM with AutoModel)
from momentzoo.data import make_synthetic_tal_dataset  # noqa: E402
from momentzoo.training.actionvlm.modality_bias import evaluate_modality_bias  # noqa: E402


def load_split(args):
    if args.synthetic:
        return make_synthetic_tal_dataset(seed=args.seed)[args.split]
    if os.path.isdir(args.dataset) and os.path.isfile(os.path.join(args.dataset, "dataset_dict.json")):
        return datasets.load_from_disk(args.dataset)[args.split]
    if os.path.isdir(args.dataset) and os.path.isfile(os.path.join(args.dataset, "dataset_info.json")):
        return datasets.load_from_disk(args.dataset)
    return datasets.load_dataset(args.dataset, split=args.split)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="ActionVLM checkpoint (folder or hub id)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="saved TAL dataset (save_to_disk folder, Parquet folder or hub id)")
    source.add_argument("--synthetic", action="store_true", help="momentzoo's synthetic TAL set")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="seed of the description mismatch (and synthetic set)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    model = AutoModel.from_pretrained(args.model).to(args.device).eval()
    if model.config.model_type != "actionvlm":
        parser.error(f"{args.model} is a {model.config.model_type!r} model, not an ActionVLM")
    split = load_split(args)
    results = evaluate_modality_bias(model, split, batch_size=args.batch_size, seed=args.seed)

    print(f"{'threshold':>10}  {'matched':>8}  {'shuffled':>8}")
    for key, value in results["mAP"].items():
        print(f"{key:>10}  {value:8.4f}  {results['mAP_shuffled'][key]:8.4f}")
    print(f"{'average':>10}  {results['average_mAP']:8.4f}  {results['average_mAP_shuffled']:8.4f}")
    lap = results["LAP"]
    print(
        f"\nLAP (relative mAP drop with mismatched descriptions): {'n/a (mAP 0)' if math.isnan(lap) else f'{lap:.4f}'}"
    )
    if model.config.prompt_position == "after_special_tokens":
        print(
            "  note: the instruction follows the special tokens in this causal LM, so descriptions cannot change "
            "the predictions at inference (LAP is 0 by construction)"
        )
    print(f"\nmLA (mean λ_lang over ground-truth frames), overall {results['mLA_overall']:.4f}")
    for name, value in results["mLA"].items():
        print(f"  {name:<30} {'n/a (no frames)' if math.isnan(value) else f'{value:.4f}'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
