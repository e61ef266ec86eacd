"""`momentzoo extract-features`: per-video features from a folder of videos with a transformers encoder."""

import os
import sys

from ..training.tal_script import DefaultsOnceHelpFormatter

__all__ = ["register", "run"]

_DTYPES = ("float32", "float16", "bfloat16")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "extract-features",
        help="extract per-video features (.npy + geometry.json) with a VideoMAE, CLIP, ... encoder",
        description=(
            "Walk VIDEO_DIR (recursively), encode every video with a transformers vision encoder and write "
            "OUTPUT_DIR/<video_id>.npy (num_features, dim) float32 plus OUTPUT_DIR/geometry.json (fps, "
            "feature_stride, num_frames, encoder, ...). Videos already done are skipped, so a killed run resumes; "
            "unreadable videos are reported at the end and make the exit status 1."
        ),
        formatter_class=DefaultsOnceHelpFormatter,
    )
    parser.add_argument("video_dir", help="folder of videos (searched recursively)")
    parser.add_argument("output_dir", help="folder for <video_id>.npy and geometry.json")
    parser.add_argument("--model", required=True, help="hub id or local folder loadable with transformers.AutoModel")
    parser.add_argument("--fps", type=float, default=None, help="sampling rate; default: each video's own frame rate")
    parser.add_argument(
        "--num_frames", type=int, default=None, help="frames per clip (clip encoders; default: the model's)"
    )
    parser.add_argument(
        "--feature_stride",
        type=int,
        default=None,
        help="sampled frames between features (default: 4 for clip encoders, 1 for frame encoders)",
    )
    parser.add_argument(
        "--pooling",
        choices=("mean", "pooler", "projection"),
        default="mean",
        help="mean of the output tokens, the model's pooler_output, or get_image_features of a dual encoder (CLIP)",
    )
    parser.add_argument("--batch_size", type=int, default=16, help="clips (or frames) per forward pass")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--dtype", choices=_DTYPES, default="float32", help="precision the encoder runs in")
    parser.add_argument(
        "--resize", type=int, default=None, help="shorter side before the centre crop (default: from the checkpoint)"
    )
    parser.add_argument(
        "--crop_size", type=int, default=None, help="square centre crop (default: the model's image size)"
    )
    parser.add_argument(
        "--image_mean", type=float, nargs=3, default=None, help="per-channel mean (default: from the checkpoint)"
    )
    parser.add_argument(
        "--image_std", type=float, nargs=3, default=None, help="per-channel std (default: from the checkpoint)"
    )
    parser.add_argument("--extensions", nargs="+", default=None, help="video file extensions to look for")
    parser.add_argument("--overwrite", action="store_true", help="re-extract videos whose .npy already exists")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    import torch

    from ..data.feature_extraction import (
        VIDEO_EXTENSIONS,
        VideoFeatureExtractor,
        extract_features_to_folder,
    )

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        try:
            device_type = torch.device(device).type
        except RuntimeError as err:
            raise ValueError(f"--device {device!r}: not a torch device ({str(err).splitlines()[0]})") from None
        if device_type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {device!r}: CUDA is not available on this machine")
        if not os.path.isdir(args.video_dir):
            raise ValueError(f"{args.video_dir}: no such video folder")
        extractor = VideoFeatureExtractor.from_pretrained(
            args.model,
            fps=args.fps,
            num_frames=args.num_frames,
            feature_stride=args.feature_stride,
            pooling=args.pooling,
            batch_size=args.batch_size,
            resize=args.resize,
            crop_size=args.crop_size,
            image_mean=args.image_mean,
            image_std=args.image_std,
            device=device,
            dtype=getattr(torch, args.dtype),
        )
        report = extract_features_to_folder(
            extractor,
            args.video_dir,
            args.output_dir,
            extensions=args.extensions or VIDEO_EXTENSIONS,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except ValueError as error:
        print(f"momentzoo extract-features: error: {error}", file=sys.stderr)
        return 2
    print(
        f"extract-features: {len(report.processed)} processed, {len(report.skipped)} skipped (already done), "
        f"{len(report.failed)} failed; features in {args.output_dir}",
        file=sys.stderr,
    )
    if report.failed:
        print("failed videos:", file=sys.stderr)
        for path, error in report.failed.items():
            print(f"  {path}: {error}", file=sys.stderr)
        return 1
    return 0
