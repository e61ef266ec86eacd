"""EPIC-Kitchens-100 (action CSVs + video info + optional features) -> Parquet folder + card, task verb or noun.

    python dataset_scripts/epic_kitchens.py verb out/epic_verb --train EPIC_100_train.csv \
        --validation EPIC_100_validation.csv --video_info EPIC_100_video_info.csv \
        --classes EPIC_100_verb_classes.csv --features_dir slowfast/ --fps 30 [--push_to_hub user/epic-verb]
"""

import argparse
import sys

from momentzoo.data.builders import EpicKitchensBuilder
from momentzoo.data.export import (
    add_export_arguments,
    add_feature_arguments,
    builder_kwargs,
    run_dataset_script,
    script_main,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["verb", "noun"], help="which classes label the segments")
    parser.add_argument("--train", help="EPIC_100_train.csv")
    parser.add_argument("--validation", help="EPIC_100_validation.csv")
    parser.add_argument("--video_info", required=True, help="EPIC_100_video_info.csv (durations)")
    parser.add_argument("--classes", help="EPIC_100_verb_classes.csv or EPIC_100_noun_classes.csv (class names)")
    add_export_arguments(parser)
    add_feature_arguments(parser)
    args = parser.parse_args(argv)
    data_files = {split: path for split, path in (("train", args.train), ("validation", args.validation)) if path}
    if not data_files:
        parser.error("give --train and/or --validation")
    kwargs = builder_kwargs(args)
    kwargs.update(config_name=args.task, data_files=data_files, video_info_file=args.video_info)
    if args.classes:
        kwargs["classes_file"] = args.classes
    return run_dataset_script(
        EpicKitchensBuilder, args, kwargs, pretty_name=f"EPIC-Kitchens-100 ({args.task})", argv=argv, script=__file__
    )


if __name__ == "__main__":
    sys.exit(script_main(main))
