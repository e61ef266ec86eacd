"""PSFTR speed at the paper's THUMOS14 setting (d = 512, 2 encoder / 5 decoder layers, 40 queries, 8 heads,
128-step slices of 512-d CLIP features, the 12-layer CLIP ViT-B/16 text tower, frozen).

* train: one optimisation step (forward with labels and Hungarian matching, backward, clipping at 0.1, AdamW step)
  on a batch of `--batch` slices with K = 20 training classes (their text embeddings cached, as in training);
* infer: forward + `post_process` of one slice with K = 20 candidate classes, text embeddings cached;
* classes: inference on one slice against K = 10, 100 and 1,000 class names: the first call embeds the K prompts
  with the text encoder, later calls reuse the cached embeddings, so the time per slice should stay nearly flat in
  K (only the (N_q x K) similarity, the text self-attention of the encoder over K tokens and the top-k grow).

The model is randomly initialised (no Hub access): speed does not depend on the weights. The text encoder runs on
prompts from momentzoo's small test tokenizer (ids are within CLIP's vocabulary; prompts tokenize to a similar
length). Reports the median over `--repeats` runs after a warm-up: wall time and the process CPU time (user +
system, all threads). With `--threads 1` the CPU time barely depends on other load.

    python benchmarks/bench_psftr.py [--repeats 5] [--threads 2] [--batch 16] [--mode all|train|infer|classes]
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from momentzoo.models.psftr import PSFTRConfig, PSFTRModel  # noqa: E402
from momentzoo.testing import tiny_tokenizer  # noqa: E402

SLICE, DIM = 128, 512
WORDS = (
    "jump throw swing kick dive run lift push pull spin roll catch hit climb ride swim paddle serve shoot vault"
).split()


def class_names(count: int) -> list[str]:
    """`count` distinct two-word action names."""
    return [f"{WORDS[i % len(WORDS)]} {WORDS[(i // len(WORDS)) % len(WORDS)]} {i}" for i in range(count)]


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median (wall ms, CPU ms) of `fn()` over `repeats` runs after one warm-up."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(1000 * (time.perf_counter() - wall))
        cpus.append(1000 * (time.process_time() - cpu))
    return statistics.median(walls), statistics.median(cpus)


def build(num_classes: int = 20) -> PSFTRModel:
    torch.manual_seed(0)
    model = PSFTRModel(PSFTRConfig(id2label=dict(enumerate(class_names(num_classes)))))
    model.set_text_tokenizer(tiny_tokenizer())
    return model


def labels_for(batch: int, generator: torch.Generator) -> list[dict]:
    out = []
    for _ in range(batch):
        count = int(torch.randint(1, 6, (1,), generator=generator))
        starts = torch.rand(count, generator=generator) * 100
        widths = torch.rand(count, generator=generator) * 25 + 3
        out.append(
            {
                "class_labels": torch.randint(0, 20, (count,), generator=generator),
                "segments": torch.stack((starts, (starts + widths).clamp(max=SLICE - 1)), -1),
            }
        )
    return out


def bench_train(repeats: int, batch: int) -> None:
    model = build().train()
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(batch, SLICE, DIM, generator=generator)
    labels = labels_for(batch, generator)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-4)

    def step():
        loss = model(features, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()

    wall, cpu = timed(step, repeats)
    print(
        f"train step, batch {batch} x {SLICE} steps, K=20: {wall:.0f} ms wall, {cpu:.0f} ms CPU "
        f"({wall / batch:.1f} / {cpu / batch:.1f} ms per slice)"
    )


def bench_infer(repeats: int) -> None:
    model = build().eval()
    features = torch.randn(1, SLICE, DIM, generator=torch.Generator().manual_seed(0))
    meta = [{"video_id": "v", "duration": 60.0, "fps": 30.0, "feature_stride": 4, "num_frames": 1}]

    @torch.no_grad()
    def run():
        model.post_process(model(features), meta)

    wall, cpu = timed(run, repeats)
    print(f"inference, 1 slice of {SLICE} steps, 40 queries, K=20 (text cached): {wall:.1f} ms wall, {cpu:.1f} ms CPU")


def bench_classes(repeats: int) -> None:
    model = build().eval()
    features = torch.randn(1, SLICE, DIM, generator=torch.Generator().manual_seed(0))
    meta = [{"video_id": "v", "duration": 60.0, "fps": 30.0, "feature_stride": 4, "num_frames": 1}]
    with torch.no_grad():
        model(features, class_names=class_names(3))  # warm-up of the text encoder and the detector
    print(
        "| K class names | first call (embeds the K prompts) | later calls, per slice (cached) | text encoding alone |"
    )
    print("|---|---|---|---|")
    for count in (10, 100, 1000):
        names = class_names(count)
        model._text_cache.clear()
        with torch.no_grad():
            start = time.perf_counter()
            model.post_process(model(features, class_names=names), meta, class_names=names)
            first = 1000 * (time.perf_counter() - start)

            def run(names=names):
                model.post_process(model(features, class_names=names), meta, class_names=names)

            wall, cpu = timed(run, repeats)
            model._text_cache.clear()
            start = time.perf_counter()
            model.embed_class_names(names)
            encode = 1000 * (time.perf_counter() - start)
        print(f"| {count} | {first:.0f} ms | {wall:.1f} ms wall, {cpu:.1f} ms CPU | {encode:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--batch", type=int, default=16, help="training batch (the paper's: 16)")
    parser.add_argument("--mode", choices=("all", "train", "infer", "classes"), default="all")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    model = build()
    total = sum(p.numel() for p in model.parameters())
    text = sum(p.numel() for p in model.text_model.parameters())
    print(f"PSFTR (paper THUMOS14 config): {total / 1e6:.1f}M parameters, of which {text / 1e6:.1f}M frozen CLIP text")
    del model
    if args.mode in ("all", "train"):
        bench_train(args.repeats, args.batch)
    if args.mode in ("all", "infer"):
        bench_infer(args.repeats)
    if args.mode in ("all", "classes"):
        bench_classes(args.repeats)


if __name__ == "__main__":
    main()
