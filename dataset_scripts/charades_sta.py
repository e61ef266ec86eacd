"""Charades-STA (jsonl, or the original txt + Charades CSVs) -> Parquet folder + card.

    python dataset_scripts/charades_sta.py out/charades_sta --train charades_sta_train.jsonl \
        --test charades_sta_test.jsonl [--videos_dir Charades_v1/] [--push_to_hub user/charades-sta]
    python dataset_scripts/charades_sta.py out/charades_sta --train charades_sta_train.txt \
        --test charades_sta_test.txt --durations Charades_v1_train.csv Charades_v1_test.csv
"""

import argparse
import sys

from momentzoo.data.builders import CharadesSTABuilder
from momentzoo.data.export import (
    add_export_arguments,
    add_feature_arguments,
    builder_kwargs,
    run_dataset_script,
    script_main,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", help="train annotations (.jsonl or .txt)")
    parser.add_argument("--test", help="test annotations (.jsonl or .txt)")
    parser.add_argument("--durations", nargs="+", help="Charades CSV(s) with id,length (needed for .txt)")
    add_export_arguments(parser)
    add_feature_arguments(parser)
    args = parser.parse_args(argv)
    data_files = {split: path for split, path in (("train", args.train), ("test", args.test)) if path}
    if not data_files:
        parser.error("give --train and/or --test")
    formats = {"txt" if path.endswith(".txt") else "jsonl" for path in data_files.values()}
    if len(formats) != 1:
        parser.error("--train and --test must have the same format (.jsonl or .txt)")
    kwargs = builder_kwargs(args)
    kwargs.update(config_name=formats.pop(), data_files=data_files)
    if args.durations:
        kwargs["durations_file"] = tuple(args.durations)
    return run_dataset_script(CharadesSTABuilder, args, kwargs, pretty_name="Charades-STA", argv=argv, script=__file__)


if __name__ == "__main__":
    sys.exit(script_main(main))
