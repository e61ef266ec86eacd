"""Speed of `momentzoo.segments.batched_nms` on one video's worth of candidates, against the plain-loop
reference (`tests/reference_nms.py`) that it must match.

The issue's workload: 2,000 candidates over 20 classes, Gaussian soft-NMS (sigma 0.5) with score voting
(tIoU 0.75), min_score 0.001, keep 200. Candidates live on a 2,304-step feature grid (ActionFormer's THUMOS14
input length), widths log-uniform in [4, 200] steps, scores skewed low as detector confidences are.
"clustered" is closer to what ActionFormer really emits: most candidates pile up around ~15 actions of two
classes, so each class holds ~800 heavily overlapping candidates.

Medians of wall time (perf_counter) and of this thread's CPU time (what one free core gives; the machine is
shared). Inputs are float32 as a model's; exactness is checked in float64 against the loop.

    python benchmarks/bench_nms.py [--repeats 50]
"""

import argparse
import functools
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import torch  # noqa: E402
from reference_nms import loop_nms  # noqa: E402

from momentzoo.segments import batched_nms  # noqa: E402

GRID = 2304.0


def uniform_candidates(seed, n=2000, num_classes=20):
    g = torch.Generator().manual_seed(seed)
    centers = torch.rand(n, generator=g, dtype=torch.float64) * GRID
    widths = torch.exp(math.log(4) + torch.rand(n, generator=g, dtype=torch.float64) * math.log(200 / 4))
    segs = torch.stack([centers - widths / 2, centers + widths / 2], 1)
    scores = 0.001 + 0.999 * torch.rand(n, generator=g, dtype=torch.float64) ** 3
    labels = torch.randint(0, num_classes, (n,), generator=g)
    return segs, scores, labels


def clustered_candidates(seed, n=2000, num_classes=20, actions=15):
    g = torch.Generator().manual_seed(seed)
    f64 = dict(generator=g, dtype=torch.float64)
    action_center = torch.rand(actions, **f64) * GRID
    action_width = torch.exp(2.0 + 3.0 * torch.rand(actions, **f64))  # 7 to 150 steps
    action_label = torch.randint(0, 2, (actions,), generator=g)
    which = torch.randint(0, actions, (n,), generator=g)
    near = torch.rand(n, **f64) < 0.7
    centers = torch.where(
        near, action_center[which] + 0.15 * action_width[which] * torch.randn(n, **f64), torch.rand(n, **f64) * GRID
    )
    widths = torch.where(
        near, action_width[which] * torch.exp(0.2 * torch.randn(n, **f64)), torch.exp(1.4 + 4.0 * torch.rand(n, **f64))
    )
    segs = torch.stack([centers - widths / 2, centers + widths / 2], 1)
    scores = torch.where(near, 0.1 + 0.8 * torch.rand(n, **f64), 0.001 + 0.3 * torch.rand(n, **f64) ** 3)
    labels = torch.where(
        torch.rand(n, **f64) < 0.8, action_label[which], torch.randint(0, num_classes, (n,), generator=g)
    )
    return segs, scores, labels


WORKLOADS = [
    ("uniform", "per class, soft-NMS + voting 0.75 (the issue's)", dict(voting_threshold=0.75)),
    ("uniform", "per class, soft-NMS", dict()),
    ("uniform", "class-agnostic, soft-NMS + voting 0.75", dict(class_agnostic=True, voting_threshold=0.75)),
    ("uniform", "per class, hard NMS tIoU 0.5", dict(method="hard", iou_threshold=0.5)),
    ("clustered", "per class, soft-NMS + voting 0.75", dict(voting_threshold=0.75)),
    ("clustered", "class-agnostic, soft-NMS + voting 0.75", dict(class_agnostic=True, voting_threshold=0.75)),
]
COMMON = dict(sigma=0.5, min_score=0.001, max_segments=200)


def timed(fn, repeats):
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3, min(wall) * 1e3


def loop_and_check(segs, scores, labels, kwargs):
    """Milliseconds the loop reference takes, and whether `batched_nms` (float64) gives the same answer."""
    segs_list, scores_list, labels_list = segs.tolist(), scores.tolist(), labels.tolist()
    start = time.perf_counter()
    expected = loop_nms(segs_list, scores_list, labels_list, **kwargs)
    loop_ms = (time.perf_counter() - start) * 1e3
    out_segs, out_scores, out_labels = batched_nms(segs, scores, labels, **kwargs)
    return loop_ms, (
        out_labels.tolist() == [e[2] for e in expected]
        and torch.allclose(out_scores, torch.tensor([e[1] for e in expected], dtype=torch.float64), atol=1e-9, rtol=0)
        and torch.allclose(out_segs, torch.tensor([e[0] for e in expected], dtype=torch.float64), atol=1e-9, rtol=0)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    generators = {"uniform": uniform_candidates, "clustered": clustered_candidates}
    print("| candidates | NMS | median ms | median CPU ms | min ms | loop reference ms | kept | same as loop |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, name, kwargs in WORKLOADS:
        kwargs = {**COMMON, **kwargs}
        segs, scores, labels = generators[kind](0)
        segs32, scores32 = segs.float(), scores.float()
        kept = batched_nms(segs32, scores32, labels, **kwargs)[1].numel()  # warm-up
        median, median_cpu, best = timed(
            functools.partial(batched_nms, segs32, scores32, labels, **kwargs), args.repeats
        )
        loop_ms, same = loop_and_check(segs, scores, labels, kwargs)
        print(f"| {kind} | {name} | {median:.2f} | {median_cpu:.2f} | {best:.2f} | {loop_ms:.0f} | {kept} | {same} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
