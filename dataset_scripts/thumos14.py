"""THUMOS14 (ActivityNet-style JSON + optional per-video features) -> Parquet folder + dataset card.

    python dataset_scripts/thumos14.py thumos14_annotations.json out/thumos14 \
        --features_dir i3d_features/ --invalid_segments drop [--push_to_hub user/thumos14]
"""

import argparse
import sys

from momentzoo.data.builders import Thumos14Builder
from momentzoo.data.export import (
    add_export_arguments,
    add_feature_arguments,
    builder_kwargs,
    run_dataset_script,
    script_main,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotation_file", help="ActivityNet-style JSON (subsets 'val' and 'test')")
    add_export_arguments(parser)
    add_feature_arguments(parser)
    args = parser.parse_args(argv)
    kwargs = builder_kwargs(args, ("annotation_file",))
    return run_dataset_script(Thumos14Builder, args, kwargs, pretty_name="THUMOS14", argv=argv, script=__file__)


if __name__ == "__main__":
    sys.exit(script_main(main))
