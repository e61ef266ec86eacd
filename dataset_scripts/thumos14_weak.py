"""THUMOS14 for weakly-supervised TAL (W-TALC numpy layout + optional features) -> Parquet folder + card.

    python dataset_scripts/thumos14_weak.py Thumos14reduced-Annotations/ out/thumos14_weak \
        --features_file Thumos14reduced-I3D-JOINTFeatures.npy --invalid_segments drop [--push_to_hub user/thumos14-weak]
"""

import argparse
import sys

from momentzoo.data.builders import Thumos14WeakBuilder
from momentzoo.data.export import (
    add_export_arguments,
    add_feature_arguments,
    builder_kwargs,
    run_dataset_script,
    script_main,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotation_dir", help="folder with videoname.npy, segments.npy, labels_all.npy, ...")
    parser.add_argument("--features_file", help="one .npy object array of per-video features, in videoname.npy order")
    add_export_arguments(parser)
    add_feature_arguments(parser)
    args = parser.parse_args(argv)
    kwargs = builder_kwargs(args, ("annotation_dir", "features_file"))
    return run_dataset_script(
        Thumos14WeakBuilder, args, kwargs, pretty_name="THUMOS14 (weak supervision)", argv=argv, script=__file__
    )


if __name__ == "__main__":
    sys.exit(script_main(main))
