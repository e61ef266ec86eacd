"""`momentzoo evaluate`: temporal action localization mAP of a detections file against ground truth.

Files are in the formats ActionFormer and OpenTAD read and write:

* ground truth: `{"database": {video_id: {"subset": str, "duration": float, "annotations":
  [{"segment": [start, end], "label": str}, ...]}, ...}}` (seconds; other keys are ignored);
* predictions: `{"results": {video_id: [{"segment": [start, end], "label": str, "score": float}, ...]}}`.

Every ground-truth video of the chosen subset is scored: one without predictions keeps its ground truth
as misses. Predictions for a video of another subset are left out with a warning (a detections file often
covers validation and test together); a video that is not in the ground truth at all is an error (the
files do not belong together).
"""

import json
import sys
from pathlib import Path

from ..strict_json import iter_object_member, load_json_strict

__all__ = ["EXAMPLE_DIR", "evaluate_files", "load_ground_truth", "load_predictions", "register", "run"]

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "metrics" / "tal_map" / "examples"
DEFAULT_IOU_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="mAP of temporal action detections (ActionFormer/OpenTAD JSON) against ground truth",
        description=(
            "Score a detections file against ground truth with the ActivityNet detection protocol (the tal_map "
            "metric): mAP at each tIoU threshold and their average. Prints a table; --output writes the metrics "
            "as JSON (the input of `momentzoo push --results`). --example runs on a bundled excerpt of THUMOS14."
        ),
    )
    parser.add_argument("--references", metavar="GT.json", help='ground truth: {"database": {video_id: {...}}}')
    parser.add_argument("--predictions", metavar="PRED.json", help='detections: {"results": {video_id: [...]}}')
    parser.add_argument(
        "--subset", default=None, help="score only ground-truth videos of this subset, e.g. test (default: all videos)"
    )
    parser.add_argument(
        "--iou_thresholds",
        type=float,
        nargs="+",
        default=list(DEFAULT_IOU_THRESHOLDS),
        metavar="T",
        help="tIoU thresholds in (0, 1] (default: 0.3 0.4 0.5 0.6 0.7)",
    )
    parser.add_argument(
        "--ignore_labels",
        nargs="+",
        default=None,
        metavar="LABEL",
        help="labels whose ground truth and detections are dropped, e.g. Ambiguous for THUMOS14 "
        "(default: none; Ambiguous with --example)",
    )
    parser.add_argument("--per_class", action="store_true", help="also print the AP of every class")
    parser.add_argument("--output", metavar="metrics.json", default=None, help="write the metrics here as JSON")
    parser.add_argument(
        "--example",
        action="store_true",
        help=f"evaluate the bundled example: six THUMOS14 test videos ({EXAMPLE_DIR}) with "
        "jittered detections, --subset test --ignore_labels Ambiguous",
    )
    parser.set_defaults(func=run)


def _read_json(path, key: str, what: str) -> dict:
    data = load_json_strict(
        path, f"{what} file"
    )  # a video listed twice is an error naming it, not a silently lost entry
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise ValueError(f'{path}: expected a JSON object with a "{key}" object mapping video ids to {what}')
    return data[key]


def load_ground_truth(path, subset: str | None = None) -> dict[str, list]:
    """{video_id: annotations} of the videos of `subset` (all when None), in file order."""
    database = _read_json(path, "database", "ground truth")
    videos, subsets = {}, set()
    for video_id, entry in database.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: video {video_id!r}: expected an object, got {type(entry).__name__}")
        if subset is not None:
            if "subset" not in entry:
                raise ValueError(
                    f'{path}: video {video_id!r}: no "subset" field, so --subset {subset} cannot select it'
                )
            subsets.add(entry["subset"])
            if entry["subset"] != subset:
                continue
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            raise ValueError(
                f'{path}: video {video_id!r}: "annotations" must be a list, got {type(annotations).__name__}'
            )
        videos[video_id] = annotations
    if not videos:
        found = f" (subsets found: {sorted(map(str, subsets))})" if subset is not None else ""
        raise ValueError(f"{path}: no ground-truth video" + (f" in subset {subset!r}{found}" if subset else ""))
    return videos


def load_predictions(path) -> dict[str, list]:
    """{video_id: detections} of a detections file, read one video at a time (see `iter_object_member`)."""
    results = {}
    for video_id, detections in iter_object_member(path, "results"):
        if not isinstance(detections, list):
            raise ValueError(
                f"{path}: video {video_id!r}: expected a list of detections, got {type(detections).__name__}"
            )
        results[video_id] = detections
    return results


def _stream_predictions(path, gt: dict) -> tuple[dict, list, list]:
    """The detections of each ground-truth video as a compact Arrow column (checked video by video, each video's
    Python objects dropped once converted), plus the ids of videos not in `gt`, in file order."""
    from ..metrics.tal_map.tal_map import _flatten

    columns, unknown, kind = {}, [], None
    for video_id, detections in iter_object_member(path, "results"):
        if not isinstance(detections, list):
            raise ValueError(
                f"{path}: video {video_id!r}: expected a list of detections, got {type(detections).__name__}"
            )
        if video_id not in gt:
            unknown.append((video_id, len(detections)))
            continue
        try:
            flat, column = _flatten([detections], "predictions", with_score=True, video_ids=[video_id], label_kind=kind)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        if flat.label_kind is not None:
            if kind is not None and flat.label_kind != kind:
                raise ValueError(
                    f"{path}: predictions of video {video_id!r}: labels are {flat.label_kind}s but earlier "
                    f"videos' are {kind}s"
                )
            kind = flat.label_kind
        columns[video_id] = column
    return columns, unknown, kind


def evaluate_files(references, predictions, subset=None, iou_thresholds=DEFAULT_IOU_THRESHOLDS, ignore_labels=()):
    """Metrics (the `tal_map` output) and a summary of what was scored, from the two files. The detections are
    streamed: peak memory follows their compact Arrow form, not the Python objects of the whole file."""
    import pyarrow as pa

    from ..metrics.tal_map import compute_tal_map
    from ..metrics.tal_map.tal_map import _FEATURES

    gt = load_ground_truth(references, subset)
    columns, outside, kind = _stream_predictions(predictions, gt)
    unknown = [v for v, _ in outside]
    other_subset = []
    if unknown and subset is not None:
        everything = load_ground_truth(references, None)
        other_subset = [(v, n) for v, n in outside if v in everything]
        unknown = [v for v in unknown if v not in everything]
    if unknown:
        raise ValueError(
            f"{predictions}: {len(unknown)} video(s) not in the ground truth {references}, e.g. {unknown[:3]}: "
            "are these the right files?"
        )
    video_ids = list(gt)
    column_type = _FEATURES[kind or "str"].arrow_schema.field("predictions").type
    empty = pa.array([[]], type=column_type)
    try:
        detections = pa.concat_arrays([columns[v].cast(column_type) if v in columns else empty for v in video_ids])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise ValueError(f"{predictions}: labels mix class names and class ids ({err})") from None
    try:
        metrics = compute_tal_map(
            detections,
            [gt[v] for v in video_ids],
            iou_thresholds=iou_thresholds,
            ignore_labels=list(ignore_labels or ()),
            video_ids=video_ids,
        )
    except ValueError as err:
        # The metric's messages start with the side at fault: name its file.
        message = str(err)
        source = (
            predictions
            if message.startswith("predictions")
            else references
            if message.startswith("references")
            else None
        )
        raise ValueError(f"{source}: {message}" if source else message) from None
    ignored = set(ignore_labels or ())
    counts = {v: len(columns[v][0]) if v in columns else 0 for v in video_ids}
    summary = {
        "videos": len(video_ids),
        "videos_without_predictions": sum(1 for v in video_ids if not counts[v]),
        "ground_truth_segments": sum(1 for v in video_ids for a in gt[v] if a["label"] not in ignored),
        "ignored_ground_truth_segments": sum(1 for v in video_ids for a in gt[v] if a["label"] in ignored),
        "predictions": sum(counts.values()),
        "videos_of_other_subsets_left_out": len(other_subset),
        "predictions_of_other_subsets_left_out": sum(n for _, n in other_subset),
    }
    return metrics, summary


def format_table(metrics: dict, per_class: bool = False) -> str:
    """mAP (in %) per threshold and their average, as papers report it; optionally AP per class."""
    keys = [k for k in metrics if k.startswith("mAP@")]
    names = [k[4:] for k in keys] + ["avg"]
    width = max(8, max(map(len, metrics["per_class_AP"] if per_class else [""]), default=0) + 2)
    lines = ["tIoU".ljust(width) + "".join(n.rjust(8) for n in names)]
    lines.append("mAP".ljust(width) + "".join(f"{100 * metrics[k]:8.2f}" for k in keys + ["average_mAP"]))
    if per_class:
        for label, aps in metrics["per_class_AP"].items():
            lines.append(
                str(label).ljust(width) + "".join(f"{100 * a:8.2f}" for a in aps) + f"{100 * sum(aps) / len(aps):8.2f}"
            )
    return "\n".join(lines)


def run(args) -> int:
    references, predictions, subset, ignore = args.references, args.predictions, args.subset, args.ignore_labels
    if args.example:
        if references or predictions:
            print(
                "momentzoo evaluate: error: --example uses the bundled files; drop --references/--predictions",
                file=sys.stderr,
            )
            return 2
        references, predictions = EXAMPLE_DIR / "ground_truth.json", EXAMPLE_DIR / "predictions.json"
        subset = subset or "test"
        ignore = ["Ambiguous"] if ignore is None else ignore
        print(
            f"example: --references {references} --predictions {predictions} --subset {subset} "
            f"--ignore_labels {' '.join(ignore)}"
        )
    elif not (references and predictions):
        print("momentzoo evaluate: error: give --references and --predictions (or --example)", file=sys.stderr)
        return 2
    try:
        metrics, summary = evaluate_files(references, predictions, subset, args.iou_thresholds, ignore)
    except ValueError as err:
        print(f"momentzoo evaluate: error: {err}", file=sys.stderr)
        return 1
    if summary["videos_of_other_subsets_left_out"]:
        print(
            f"momentzoo evaluate: warning: left out {summary['predictions_of_other_subsets_left_out']} predictions "
            f"for {summary['videos_of_other_subsets_left_out']} video(s) outside subset {subset!r}",
            file=sys.stderr,
        )
    print(
        f"{summary['videos']} videos{f' (subset {subset})' if subset else ''}, "
        f"{summary['ground_truth_segments']} ground-truth segments"
        + (f" ({summary['ignored_ground_truth_segments']} ignored: {', '.join(map(str, ignore))})" if ignore else "")
        + f", {summary['predictions']} predictions ({summary['videos_without_predictions']} videos without any)"
    )
    print(format_table(metrics, per_class=args.per_class))
    if args.output:
        report = dict(metrics)
        report["evaluation"] = {
            "references": str(references),
            "predictions": str(predictions),
            "subset": subset,
            "iou_thresholds": list(args.iou_thresholds),
            "ignore_labels": list(ignore or ()),
            **summary,
        }
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.output}")
    return 0
