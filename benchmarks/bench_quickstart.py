"""Time `momentzoo quickstart` as a user runs it: the whole command in a fresh process (imports included), wall
clock and CPU time (user + system of the child), peak RSS, and the mAP it reports.

    python benchmarks/bench_quickstart.py [--fast] [extra quickstart arguments]

The machine's load average before and after is printed too: on a shared machine the wall clock depends on it,
the CPU time much less.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="bench-quickstart-") as output:
        command = [sys.executable, "-m", "momentzoo.cli", "quickstart", "--no-progress", "--output_dir", output, *argv]
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        load_before = os.getloadavg()
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        metrics = json.loads(open(os.path.join(output, "metrics.json")).read())
    print(f"momentzoo quickstart {' '.join(argv)}")
    print(
        f"  wall clock: {wall:.1f} s   CPU (user + sys): {usage.ru_utime + usage.ru_stime:.1f} s   "
        f"peak RSS: {usage.ru_maxrss / 1024:.0f} MiB"
    )
    print(f"  load average before / after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, values in metrics["models"].items():
        thresholds = "/".join(f"{100 * values[f'mAP@{t}']:.1f}" for t in (0.3, 0.4, 0.5, 0.6, 0.7))
        print(f"  {name}: mAP@0.3:0.7 = {thresholds}, average {100 * values['average_mAP']:.1f}")
    confusable = metrics.get("order_confusable_classes") or []
    if confusable:
        per_model = {
            name: sum(sum(values["per_class_AP"][c]) / len(values["per_class_AP"][c]) for c in confusable)
            / len(confusable)
            for name, values in metrics["models"].items()
            if "per_class_AP" in values
        }
        print(
            f"  mean AP of the order-confusable classes ({', '.join(confusable)}): "
            + ", ".join(f"{name} {100 * ap:.1f}" for name, ap in per_model.items())
        )
    weights = metrics.get("language_weight")
    if weights:
        print(
            f"  ActionVLM mean lambda_lang: order-confusable {weights['order_confusable']:.4f}, "
            f"other {weights['other']:.4f}"
        )


if __name__ == "__main__":
    main()
