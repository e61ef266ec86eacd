"""QVHighlights (release jsonl files) -> Parquet folder + card, with windows, clip ids and saliency scores.

    python dataset_scripts/qvhighlights.py out/qvhighlights --train highlight_train_release.jsonl \
        --val highlight_val_release.jsonl [--features_dir clip_slowfast/] [--push_to_hub user/qvhighlights]
"""

import argparse
import sys

from momentzoo.data.builders import QVHighlightsBuilder
from momentzoo.data.export import (
    add_export_arguments,
    add_feature_arguments,
    builder_kwargs,
    run_dataset_script,
    script_main,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", help="highlight_train_release.jsonl")
    parser.add_argument("--val", help="highlight_val_release.jsonl")
    parser.add_argument("--test", help="highlight_test_release.jsonl (no annotations)")
    add_export_arguments(parser)
    add_feature_arguments(parser)
    args = parser.parse_args(argv)
    data_files = {s: p for s, p in (("train", args.train), ("val", args.val), ("test", args.test)) if p}
    if not data_files:
        parser.error("give at least one of --train, --val, --test")
    kwargs = builder_kwargs(args)
    kwargs["data_files"] = data_files
    return run_dataset_script(QVHighlightsBuilder, args, kwargs, pretty_name="QVHighlights", argv=argv, script=__file__)


if __name__ == "__main__":
    sys.exit(script_main(main))
