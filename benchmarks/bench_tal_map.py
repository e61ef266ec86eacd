"""Speed of `tal_map` against a plain-loop implementation of the same protocol, on a THUMOS14-sized workload.

Ground truth: the real THUMOS14 test subset (213 videos, Ambiguous ignored) when `../shared/data` (or
MOMENTZOO_REAL_DATA) is present, else a synthetic one of the same size. Predictions: 200 per video, jittered
copies of the ground truth plus random segments with random labels and scores.

    python benchmarks/bench_tal_map.py [--repeats 15] [--loop-repeats 3]
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import torch  # noqa: E402
from reference_tal_map import loop_tal_map  # noqa: E402

from momentzoo.metrics import TemporalActionLocalizationMAP  # noqa: E402
from momentzoo.metrics.tal_map import compute_tal_map  # noqa: E402

PREDICTIONS_PER_VIDEO = 200


def thumos_test_references():
    root = Path(os.environ.get("MOMENTZOO_REAL_DATA", REPO.parent / "shared" / "data"))
    path = root / "thumos14" / "thumos14_annotations.json"
    if path.is_file():
        database = json.loads(path.read_text())["database"]
        videos = [v for v in database.values() if v["subset"] == "test"]
        refs = [[{"segment": a["segment"], "label": a["label"]} for a in v["annotations"]] for v in videos]
        return refs, [v["duration"] for v in videos], f"real THUMOS14 test ground truth ({path})"
    rng = random.Random(1)
    classes = [f"class_{i}" for i in range(20)]
    refs, durations = [], []
    for _ in range(213):  # 213 videos, about 16 segments each, as THUMOS14 test
        duration = rng.uniform(30, 400)
        refs.append([])
        for _ in range(rng.randint(1, 31)):
            s = rng.uniform(0, duration - 5)
            refs[-1].append({"segment": [s, s + rng.uniform(1, 5)], "label": rng.choice(classes)})
        durations.append(duration)
    return refs, durations, "synthetic ground truth of THUMOS14 test size (real data not found)"


def jittered_predictions(refs, durations, seed=0):
    rng = random.Random(seed)
    labels = sorted({a["label"] for video in refs for a in video} - {"Ambiguous"})
    preds = []
    for video, duration in zip(refs, durations):
        out = []
        gt = [a for a in video if a["label"] != "Ambiguous"]
        while gt and len(out) < PREDICTIONS_PER_VIDEO // 2:
            a = rng.choice(gt)
            s, e = a["segment"]
            w = e - s
            s, e = s + rng.gauss(0, 0.15 * w), e + rng.gauss(0, 0.15 * w)
            out.append({"segment": [min(s, e), max(s, e)], "score": rng.random(), "label": a["label"]})
        while len(out) < PREDICTIONS_PER_VIDEO:
            s = rng.uniform(0, duration)
            out.append(
                {
                    "segment": [s, min(duration, s + rng.uniform(0.5, 20))],
                    "score": rng.random() * 0.8,
                    "label": rng.choice(labels),
                }
            )
        preds.append(out)
    return preds


def timed(fn, repeats):
    """Result, median wall seconds and median CPU seconds of this process (the shared dev box is loaded:
    CPU time is what one free core would take)."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return out, statistics.median(wall), statistics.median(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="runs of tal_map (median reported)")
    parser.add_argument("--loop-repeats", type=int, default=3, help="runs of the loop reference")
    args = parser.parse_args()
    refs, durations, source = thumos_test_references()
    preds = jittered_predictions(refs, durations)
    kwargs = {"iou_thresholds": (0.3, 0.4, 0.5, 0.6, 0.7), "ignore_labels": ["Ambiguous"]}
    n_pred, n_gt = sum(map(len, preds)), sum(map(len, refs))
    print(f"{source}\n{len(refs)} videos, {n_gt} ground-truth segments, {n_pred} predictions")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")

    torch.set_num_threads(1)  # one core for everything, so that CPU time and wall time compare
    loop, *t_loop = timed(lambda: loop_tal_map(preds, refs, **kwargs), args.loop_repeats)
    fast, *t_fast = timed(lambda: compute_tal_map(preds, refs, **kwargs), args.repeats)
    metric = TemporalActionLocalizationMAP()
    via_evaluate, *t_evaluate = timed(
        lambda: metric.compute(predictions=preds, references=refs, **kwargs), args.repeats
    )
    if fast != loop or via_evaluate != loop:
        raise SystemExit("MISMATCH between tal_map and the loop reference")
    print(
        "results identical to the loop reference: "
        + ", ".join(f"{k} {v:.4f}" for k, v in fast.items() if k != "per_class_AP")
    )
    print(f"medians of {args.loop_repeats} loop runs and {args.repeats} tal_map runs; torch on 1 thread")
    print(f"{'':40s}{'wall s':>9s}{'speedup':>9s}{'CPU s':>9s}{'speedup':>9s}")
    for name, (wall, cpu) in [
        ("loop reference", t_loop),
        ("compute_tal_map", t_fast),
        ("TemporalActionLocalizationMAP.compute", t_evaluate),
    ]:
        print(f"{name:40s}{wall:9.3f}{t_loop[0] / wall:8.1f}x{cpu:9.3f}{t_loop[1] / cpu:8.1f}x")


if __name__ == "__main__":
    main()
