"""Training windows per second and peak memory of the TAL data path on a THUMOS14-shaped feature dataset.

A synthetic feature dataset shaped like THUMOS14 with I3D features (200 videos of 2,304 x 2,048 float32,
about 3.8 GB, 1-6 actions of 20 classes per video, ActionFormer's geometry: 30 fps, stride 4, 16-frame
clips) is generated on the fly into an Arrow dataset in a temporary folder (deleted at the end), read back
memory-mapped, and streamed for one epoch through

    TemporalFeatureDataset -> DataLoader(num_workers=2, shuffle) -> TemporalLocalizationCollator
    (training: random truncation to max_seq_len 2,304 with crop_ratio (0.9, 1.0), padding to max_seq_len)

The main process only receives the batches (no model), so windows/s is what the data path can feed.
Peak memory is sampled every 50 ms over the main process and its workers: summed PSS (what they use
together; summed RSS counts the copy-on-write pages every forked worker shares with the main process once
per process) split into anon / file-backed / shared-memory parts, summed RSS, and the largest single RSS.
The same is run on the first `--small-videos` videos (memory must not grow with the dataset's size), in
the main process (`num_workers=0`: no hand-off between processes at all) and, for comparison, through the
plain `datasets` path (`dataset.with_format("numpy")`, which copies every row out of the mapping). With
workers the collator writes each batch into one of the worker's reusable shared-memory slots
(`momentzoo.data.shared_batches`); "windows/s" includes the workers' start-up and first slots, "steady"
starts after the first batches. "CPU ms/w" is the CPU time of the main process and the workers per
window, which a loaded machine inflates much less than wall time.

    python benchmarks/bench_data.py [--num-videos 200] [--length 2304] [--dim 2048] [--tmp-dir /tmp]
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from momentzoo.data.collators import TemporalLocalizationCollator  # noqa: E402
from momentzoo.data.synthetic import tal_features  # noqa: E402
from momentzoo.data.windows import TemporalFeatureDataset  # noqa: E402

FPS, STRIDE, NUM_FRAMES, NUM_CLASSES = 30.0, 4, 16, 20


def _rows(num_videos: int, length: int, dim: int):
    rng = np.random.default_rng(0)
    duration = ((length - 1) * STRIDE + NUM_FRAMES) / FPS
    for i in range(num_videos):
        n = int(rng.integers(1, 7))
        starts = np.sort(rng.uniform(0, duration - 10, size=n))
        ends = starts + rng.uniform(1, 10, size=n)
        yield {
            "video_id": f"video_test_{i:07d}",
            "duration": duration,
            "fps": FPS,
            "feature_stride": STRIDE,
            "num_frames": NUM_FRAMES,
            "features": rng.standard_normal((length, dim), dtype=np.float32),
            "segments": np.stack([starts, ends], 1).tolist(),
            "labels": rng.integers(0, NUM_CLASSES, size=n).tolist(),
        }


def _memory(pid: int) -> dict:
    """RSS and PSS of one process, in bytes (PSS splits pages shared between processes, such as the
    copy-on-write pages of forked DataLoader workers and the shared-memory batches, among their users)."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem"):
                    out[key] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def _children(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


class PeakMemory:
    """Peaks over time of this process plus its children: summed RSS (counts shared pages once per process),
    summed PSS (the memory they really use together) and its anon / file / shmem parts, and the largest RSS
    of a single process."""

    KEYS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")

    def __init__(self, interval: float = 0.05):
        self.interval, self._stop = interval, False
        self.peak = {key: 0 for key in self.KEYS + ("max_process_rss",)}
        self.cpu = {}  # pid -> last seen CPU seconds (workers exit before the end)

    def cpu_seconds(self) -> float:
        """CPU time of the main process (less this monitor's own) and the workers."""
        return sum(self.cpu.values()) - self._own_cpu

    def _run(self):
        self._own_cpu = 0.0
        while not self._stop:
            t0 = time.thread_time()
            pids = [os.getpid()] + _children(os.getpid())
            for p in pids:
                self.cpu[p] = _cpu_seconds(p) - (self._cpu0 if p == os.getpid() else 0.0)
            stats = [_memory(p) for p in pids]
            for key in self.KEYS:
                self.peak[key] = max(self.peak[key], sum(s.get(key, 0) for s in stats))
            self.peak["max_process_rss"] = max(self.peak["max_process_rss"], *(s.get("Rss", 0) for s in stats))
            self._own_cpu += time.thread_time() - t0
            time.sleep(self.interval)

    def __enter__(self):
        self._cpu0 = _cpu_seconds(os.getpid())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()


def run_epoch(dataset, collator, batch_size: int, num_workers: int, warmup_batches: int = 2):
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        collate_fn=collator,
        generator=torch.Generator().manual_seed(0),
    )
    windows = steady_windows = 0
    with PeakMemory() as rss:
        start = steady_start = time.perf_counter()
        for i, batch in enumerate(loader):
            if i == warmup_batches:
                steady_start = time.perf_counter()
            elif i > warmup_batches:
                steady_windows += batch["input_features"].shape[0]
            windows += batch["input_features"].shape[0]
            assert batch["attention_mask"].shape == batch["input_features"].shape[:2]
        total = time.perf_counter() - start
        steady = time.perf_counter() - steady_start
    return {
        "windows": windows,
        "seconds": total,
        "windows_per_s": windows / total,
        "cpu_ms_per_window": 1e3 * rss.cpu_seconds() / windows,
        "steady_windows_per_s": steady_windows / steady if steady > 0 else float("nan"),
        "peak": dict(rss.peak),
    }


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-videos", type=int, default=200)
    parser.add_argument("--small-videos", type=int, default=25, help="videos in the small run (RSS vs size)")
    parser.add_argument("--length", type=int, default=2304)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--max-seq-len", type=int, default=2304)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--tmp-dir", default=tempfile.gettempdir())
    parser.add_argument("--skip-hf-format", action="store_true", help="skip the with_format('numpy') comparison")
    args = parser.parse_args()

    need = args.num_videos * args.length * args.dim * 4
    free = shutil.disk_usage(args.tmp_dir).free
    if free < 1.2 * need:
        sys.exit(f"bench_data: needs about {_gb(1.2 * need)} free in {args.tmp_dir}, only {_gb(free)} there")
    print(
        f"torch {torch.__version__}, datasets {datasets.__version__}, {os.cpu_count()} CPUs; "
        f"{_gb(free)} free in {args.tmp_dir}"
    )

    workdir = tempfile.mkdtemp(prefix="momentzoo_bench_data_", dir=args.tmp_dir)
    try:
        t0 = time.perf_counter()
        full = datasets.Dataset.from_generator(
            _rows,
            gen_kwargs={"num_videos": args.num_videos, "length": args.length, "dim": args.dim},
            features=tal_features([f"class_{i}" for i in range(NUM_CLASSES)], args.dim),
            cache_dir=workdir,
            writer_batch_size=4,
            keep_in_memory=False,
        )
        size = sum(os.path.getsize(f["filename"]) for f in full.cache_files)
        print(
            f"generated {len(full)} videos of {args.length} x {args.dim} float32: {_gb(size)} of Arrow in "
            f"{time.perf_counter() - t0:.1f} s ({len(full.cache_files)} memory-mapped files)"
        )

        def collator():
            return TemporalLocalizationCollator(
                max_seq_len=args.max_seq_len, training=True, crop_ratio=(0.9, 1.0), padding="max_length"
            )

        print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        results = {}
        small = full.select(range(min(args.small_videos, len(full))))
        results["small"] = run_epoch(TemporalFeatureDataset(small), collator(), args.batch_size, args.num_workers)
        results["full"] = run_epoch(TemporalFeatureDataset(full), collator(), args.batch_size, args.num_workers)
        results["in_process"] = run_epoch(TemporalFeatureDataset(full), collator(), args.batch_size, 0)
        if not args.skip_hf_format:
            results["hf_numpy"] = run_epoch(full.with_format("numpy"), collator(), args.batch_size, args.num_workers)

        labels = {
            "small": f"TemporalFeatureDataset, {len(small)} videos ({_gb(size * len(small) / len(full))})",
            "full": f"TemporalFeatureDataset, {len(full)} videos ({_gb(size)})",
            "in_process": "same, num_workers=0 (batches built in the main process)",
            "hf_numpy": f"dataset.with_format('numpy'), {len(full)} videos (comparison)",
        }
        print(
            f"\nbatch {args.batch_size}, {args.num_workers} workers unless noted, windows of <= "
            f"{args.max_seq_len} steps ({args.max_seq_len * args.dim * 4 / 1e6:.1f} MB each):"
        )
        print(
            f"{'path':<56} {'windows/s':>9} {'steady':>7} {'CPU ms/w':>8} {'PSS':>8} {'anon':>8} {'file':>8} "
            f"{'shmem':>8} {'sum RSS':>8} {'max RSS':>8}"
        )
        for key, r in results.items():
            p = r["peak"]
            print(
                f"{labels[key]:<56} {r['windows_per_s']:>9.1f} {r['steady_windows_per_s']:>7.1f} "
                f"{r['cpu_ms_per_window']:>8.1f} "
                + " ".join(
                    f"{_gb(p[k]):>8}" for k in ("Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Rss", "max_process_rss")
                )
            )
        full_pss, small_pss = results["full"]["peak"]["Pss"], results["small"]["peak"]["Pss"]
        print(
            f"\ntargets: >= 200 windows/s: {results['full']['steady_windows_per_s']:.0f} (steady), "
            f"{results['full']['windows_per_s']:.0f} (incl. worker start-up); "
            f"peak memory (PSS, main + workers) < 1.5 GB on {_gb(size)}: {_gb(full_pss)} "
            f"(summed RSS {_gb(results['full']['peak']['Rss'])}); "
            f"growth from {len(small)} to {len(full)} videos: {_gb(full_pss - small_pss)}"
        )
        print(
            f"load average after the runs: {os.getloadavg()[0]:.1f}; CPU ms/w is the CPU time (main process + "
            f"workers) per window: an idle {os.cpu_count()}-core machine feeds at most "
            f"{os.cpu_count() * 1e3 / results['full']['cpu_ms_per_window']:.0f} windows/s at that cost"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"deleted {workdir}")


if __name__ == "__main__":
    main()
