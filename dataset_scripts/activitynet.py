"""ActivityNet-1.3 (ActivityNet JSON + optional per-video features, optionally resized) -> Parquet folder + card.

    python dataset_scripts/activitynet.py activity_net.v1-3.min.json out/anet \
        --features_dir tsp_features/ --feature_prefix v_ --resize_length 192 [--push_to_hub user/anet]
"""

import argparse
import sys

from momentzoo.data.builders import ActivityNetBuilder
from momentzoo.data.export import (
    add_export_arguments,
    add_feature_arguments,
    builder_kwargs,
    run_dataset_script,
    script_main,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotation_file", help="ActivityNet-style JSON")
    parser.add_argument("--splits", nargs="+", help="subsets to build (default: training validation)")
    add_export_arguments(parser)
    add_feature_arguments(parser)
    args = parser.parse_args(argv)
    kwargs = builder_kwargs(args, ("annotation_file",))
    if args.splits:
        kwargs["splits"] = tuple(args.splits)
    return run_dataset_script(
        ActivityNetBuilder, args, kwargs, pretty_name="ActivityNet-1.3", argv=argv, script=__file__
    )


if __name__ == "__main__":
    sys.exit(script_main(main))
