"""Scale of the two paths issue 14 found slow or memory-hungry: `grounding_recall` on 1M queries x 5 windows, and
`momentzoo evaluate` on a ~70 MB predictions file. Each case runs in a fresh process so its peak RSS is its own.

    python benchmarks/bench_hostile_scale.py [--queries 1000000] [--videos 1000] [--per-video 4000]
    python benchmarks/bench_hostile_scale.py --src /tmp/before/src     # the same workloads on another checkout

Prints wall time, CPU time and peak RSS (`ru_maxrss` of the child) per case, and the metric values (so two
checkouts can be checked for identical results).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

GROUNDING = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from momentzoo.metrics.grounding_recall import compute_grounding_recall
    q = int(sys.argv[1])
    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 30, size=(q, 5)); lengths = rng.uniform(0.5, 10, size=(q, 5))
    preds = np.stack([starts, starts + lengths], -1).tolist()
    gs = rng.uniform(0, 30, size=q); gl = rng.uniform(1, 10, size=q)
    refs = [[[s, s + l]] for s, l in zip(gs.tolist(), gl.tolist())]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    result = compute_grounding_recall(preds, refs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_gib": peak / 2**20,
                      "peak_rss_over_inputs_gib": (peak - base) / 2**20, "result": result}))
""")

EVALUATE = textwrap.dedent("""
    import io, json, resource, sys, time, contextlib
    from momentzoo.cli import main
    t0, c0 = time.perf_counter(), time.process_time()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["evaluate", "--references", sys.argv[1], "--predictions", sys.argv[2], "--output", sys.argv[3]])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    metrics = json.load(open(sys.argv[3]))
    print(json.dumps({"status": status, "wall_s": wall, "cpu_s": cpu, "peak_rss_gib": peak / 2**20,
                      "result": {k: v for k, v in metrics.items() if k.startswith(("mAP", "average"))}}))
""")


def write_evaluate_files(folder: Path, videos: int, per_video: int) -> tuple[Path, Path]:
    rng = random.Random(0)
    labels = [f"Class{i}" for i in range(20)]
    database, results = {}, {}
    for v in range(videos):
        vid = f"video_test_{v:07d}"
        duration = rng.uniform(60, 600)
        annotations = []
        for _ in range(rng.randint(1, 15)):
            s = rng.uniform(0, duration - 5)
            annotations.append({"segment": [round(s, 2), round(s + rng.uniform(1, 5), 2)], "label": rng.choice(labels)})
        database[vid] = {"subset": "test", "duration": duration, "annotations": annotations}
        detections = []
        for _ in range(per_video):
            s = rng.uniform(0, duration - 5)
            detections.append(
                {
                    "segment": [round(s, 2), round(s + rng.uniform(1, 8), 2)],
                    "label": rng.choice(labels),
                    "score": round(rng.random(), 4),
                }
            )
        results[vid] = detections
    gt, pred = folder / "gt.json", folder / "pred.json"
    gt.write_text(json.dumps({"database": database}))
    pred.write_text(json.dumps({"version": "1.3", "results": results, "external_data": {}}))
    return gt, pred


def run(code: str, args: list, src: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--per-video", type=int, default=1100)
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the src/ folder of the checkout to measure")
    args = parser.parse_args()
    print(f"checkout: {args.src}")
    g = run(GROUNDING, [args.queries], args.src)
    print(
        f"grounding_recall, {args.queries:,} queries x 5 windows: {g['wall_s']:.2f} s wall, {g['cpu_s']:.2f} s CPU, "
        f"peak RSS {g['peak_rss_gib']:.2f} GiB ({g['peak_rss_over_inputs_gib']:.2f} GiB above the inputs)"
    )
    print(f"  result: {g['result']}")
    with tempfile.TemporaryDirectory() as tmp:
        gt, pred = write_evaluate_files(Path(tmp), args.videos, args.per_video)
        size = pred.stat().st_size / 2**20
        e = run(EVALUATE, [gt, pred, Path(tmp) / "metrics.json"], args.src)
    print(
        f"momentzoo evaluate, {size:.1f} MiB predictions ({args.videos * args.per_video:,} detections): "
        f"{e['wall_s']:.2f} s wall, {e['cpu_s']:.2f} s CPU, peak RSS {e['peak_rss_gib']:.2f} GiB (status {e['status']})"
    )
    print(f"  result: {e['result']}")


if __name__ == "__main__":
    main()
