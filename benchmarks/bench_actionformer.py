"""ActionFormer speed and memory at the THUMOS14 I3D setting (default config: 2,304 steps x 2,048-d features).

* train: one optimisation step (forward with labels, backward, gradient clipping at 1.0, AdamW step) on a batch of
  2 windows of 2,304 x 2,048, the official code's THUMOS14 batch;
* infer: one video of 2,304 steps, forward + `post_process` (per-class Gaussian soft-NMS, no voting). The model
  is untrained, so every point scores about the 0.01 prior, above `pre_nms_threshold`: the NMS sees the full
  2,000 candidates per level, the worst case;
* attention: the masked local attention alone (window 19, 4 heads of 128, 2 x 2,304 steps), forward + backward,
  against dense masked attention over the full 2,304 x 2,304 score matrix.

Each mode runs in its own subprocess so that its peak RSS is its own. Reports, over `--repeats` runs after one
warm-up, the median wall time and the median CPU time of the process (user + system, all threads), and the peak
RSS. On a shared machine the wall time depends on the other load; with `--threads 1` the CPU time barely does
(no spin-waiting threads), which makes it the figure to compare across runs.

    python benchmarks/bench_actionformer.py [--repeats 5] [--mode all|train|infer|attention] [--threads N]
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

LENGTH, BATCH = 2304, 2


def synthetic_labels(generator: torch.Generator, num_classes: int, length: int, count: int = 12) -> dict:
    """`count` actions of 4 to 240 feature steps (THUMOS14-like: many short, a few long)."""
    widths = torch.exp(torch.empty(count).uniform_(1.4, 5.5, generator=generator))
    starts = torch.rand(count, generator=generator) * (length - widths)
    segments = torch.stack((starts, starts + widths), dim=-1)
    return {"class_labels": torch.randint(num_classes, (count,), generator=generator), "segments": segments}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def run_mode(mode: str, repeats: int, threads: int | None) -> dict:
    from momentzoo.models.actionformer import ActionFormerConfig, ActionFormerForTemporalLocalization

    if threads:
        torch.set_num_threads(threads)
    if mode == "attention":
        return run_attention(repeats)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    config = ActionFormerConfig()
    model = ActionFormerForTemporalLocalization(config)
    times, cpu_times = [], []
    if mode == "train":
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
        features = torch.randn(BATCH, LENGTH, config.input_dim, generator=generator)
        mask = torch.ones(BATCH, LENGTH, dtype=torch.long)
        labels = [synthetic_labels(generator, config.num_classes, LENGTH) for _ in range(BATCH)]
        for _ in range(repeats + 1):
            start, cpu_start = time.perf_counter(), time.process_time()
            loss = model(input_features=features, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        extra = {"loss": float(loss)}
    else:
        model.eval()
        features = torch.randn(1, LENGTH, config.input_dim, generator=generator)
        metadata = [{"video_id": "bench", "duration": 310.0, "fps": 30.0, "feature_stride": 4, "num_frames": 16}]
        forward_times = []
        for _ in range(repeats + 1):
            start, cpu_start = time.perf_counter(), time.process_time()
            with torch.no_grad():
                outputs = model(input_features=features)
            middle = time.perf_counter()
            detections = model.post_process(outputs, metadata)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
            forward_times.append(middle - start)
        extra = {"forward_s": statistics.median(forward_times[1:]), "detections": len(detections[0])}
    return {
        "mode": mode,
        "threads": torch.get_num_threads(),
        "median_s": statistics.median(times[1:]),
        "cpu_median_s": statistics.median(cpu_times[1:]),
        "all_s": times,
        "peak_rss_gb": peak_rss_gb(),
        **extra,
    }


def run_attention(repeats: int) -> dict:
    from momentzoo.models.actionformer.modeling_actionformer import local_masked_attention

    q, k, v = (torch.randn(BATCH, 4, LENGTH, 128, requires_grad=True) for _ in range(3))
    mask = torch.ones(BATCH, LENGTH, dtype=torch.bool)
    steps = torch.arange(LENGTH)
    band = (steps[:, None] - steps[None, :]).abs() <= 9

    def local():
        local_masked_attention(q, k, v, mask, 19).sum().backward()

    def dense():
        scores = (q @ k.transpose(-1, -2)) / 128**0.5
        (scores.masked_fill(~band, float("-inf")).softmax(-1) @ v).sum().backward()

    result = {"mode": "attention", "threads": torch.get_num_threads(), "peak_rss_gb": peak_rss_gb()}
    for name, fn in (("local", local), ("dense", dense)):
        walls, cpus = [], []
        for _ in range(repeats + 1):
            start, cpu_start = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu_start)
        result[f"{name}_s"], result[f"{name}_cpu_s"] = statistics.median(walls[1:]), statistics.median(cpus[1:])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mode", choices=("all", "train", "infer", "attention"), default="all")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.mode, args.repeats, args.threads)))
        return
    modes = ("train", "infer", "attention") if args.mode == "all" else (args.mode,)
    print(
        f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    for mode in modes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--mode", mode, "--repeats", str(args.repeats)]
            + (["--threads", str(args.threads)] if args.threads else []),
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if mode == "attention":
            print(
                f"local attention (2 x 4 heads x {LENGTH} x 128, window 19), fwd+bwd: median wall "
                f"{result['local_s'] * 1e3:.0f} ms, CPU {result['local_cpu_s'] * 1e3:.0f} ms; dense masked "
                f"reference: wall {result['dense_s'] * 1e3:.0f} ms, CPU {result['dense_cpu_s'] * 1e3:.0f} ms"
            )
            continue
        runs = ", ".join(f"{t:.2f}" for t in result["all_s"][1:])
        common = (
            f"median wall {result['median_s']:.2f} s [{runs}], median CPU {result['cpu_median_s']:.2f} s "
            f"({result['threads']} threads), peak RSS {result['peak_rss_gb']:.2f} GB"
        )
        if mode == "train":
            print(f"train step (batch {BATCH} x {LENGTH} x 2048, fwd+bwd+clip+AdamW): {common}")
        else:
            print(
                f"inference (1 x {LENGTH} x 2048, forward + post_process): {common}; forward alone "
                f"{result['forward_s']:.2f} s wall, {result['detections']} detections"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f} (2 cores shared with other work: figures are upper bounds)")


if __name__ == "__main__":
    main()
