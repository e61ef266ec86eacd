"""CUDA check and GPU figures (run on a machine with a GPU; CI has none, so no test runs this).

1. Every registered model, on its tiny config: the CUDA forward matches the CPU forward in fp32 (TF32 off), a
   bf16 forward on CUDA gives finite outputs, and a training step (loss from `labels` when the model's dummy
   inputs carry them) backpropagates on CUDA.
2. ActionFormer at the THUMOS14 I3D size (2 x 2,304 x 2,048): one training step (AdamW) in fp32 and under bf16
   autocast, and one video's inference (forward + `post_process`): median wall time and peak GPU memory.

Prints what it measured and exits 1 when a check fails.

    python benchmarks/bench_cuda.py [--repeats 5] [--skip-speed]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from momentzoo.auto import _resolve  # noqa: E402
from momentzoo.models import MODELS  # noqa: E402


def tensors(value, prefix="out"):
    """(name, tensor) for every floating tensor of a nested model output."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from tensors(item, f"{prefix}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from tensors(item, f"{prefix}[{index}]")


def to_device(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(item, device) for item in value)
    return value


def check_models(device: str) -> list[str]:
    failures = []
    for entry in MODELS:
        torch.manual_seed(0)
        config = _resolve(entry.tiny_config)() if entry.tiny_config else _resolve(entry.config)()
        model = _resolve(entry.model)(config).eval()
        inputs = model.dummy_inputs
        with torch.no_grad():
            expected = dict(tensors(model(**inputs)))
            model.to(device)
            actual = dict(tensors(model(**to_device(inputs, device))))
        # each output's largest difference, relative to that output's own scale (masked fills reach 1e4)
        worst = max(
            (
                (actual[k].float().cpu() - v.float()).abs().max().item() / max(1.0, v.abs().max().item())
                for k, v in expected.items()
                if v.numel()
            ),
            default=0.0,
        )
        fp32_ok = set(actual) == set(expected) and worst <= 1e-4
        with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            bf16 = dict(tensors(model(**to_device(inputs, device))))
        bf16_ok = all(torch.isfinite(t).all().item() for t in bf16.values())
        model.train()
        outputs = model(**to_device(inputs, device))
        loss = outputs.get("loss") if isinstance(outputs, dict) else None
        if loss is None:  # no labels in the dummy inputs: backpropagate the outputs' sum
            loss = sum(t.float().sum() for _, t in tensors(outputs))
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        grad_ok = any(g is not None for g in grads) and all(
            torch.isfinite(g).all().item() for g in grads if g is not None
        )
        status = "ok" if fp32_ok and bf16_ok and grad_ok else "FAIL"
        print(
            f"{entry.model_type:14s} {status}: fp32 max relative |cuda-cpu| {worst:.2e}, "
            f"bf16 finite {bf16_ok}, backward finite {grad_ok} ({sum(g is not None for g in grads)}/{len(grads)} grads)"
        )
        if status != "ok":
            failures.append(entry.model_type)
    return failures


def timed(fn, repeats: int) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def actionformer_speed(repeats: int) -> None:
    from bench_actionformer import BATCH, LENGTH, synthetic_labels

    from momentzoo import ActionFormerConfig, ActionFormerForTemporalLocalization

    generator = torch.Generator().manual_seed(0)
    model = ActionFormerForTemporalLocalization(ActionFormerConfig()).cuda()
    features = torch.randn(BATCH, LENGTH, model.config.input_dim, generator=generator).cuda()
    labels = [to_device(synthetic_labels(generator, model.config.num_labels, LENGTH), "cuda") for _ in range(BATCH)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(dtype):
        def run():
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                loss = model(input_features=features, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return run

    for dtype in ("fp32", "bf16"):
        torch.cuda.reset_peak_memory_stats()
        seconds = timed(step(dtype), repeats)
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(
            f"actionformer train step {dtype} (batch {BATCH} x {LENGTH}): {seconds * 1e3:.1f} ms, peak {peak:.2f} GiB"
        )

    model.eval()
    video = features[:1]
    metadata = [{"duration": LENGTH * 4 / 30.0, "fps": 30.0, "feature_stride": 4, "num_frames": 16}]

    def infer():
        with torch.no_grad():
            model.post_process(model(input_features=video), metadata)

    torch.cuda.reset_peak_memory_stats()
    seconds = timed(infer, repeats)
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"actionformer inference (1 x {LENGTH}, forward + post_process): {seconds * 1e3:.1f} ms, peak {peak:.2f} GiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}")
    failures = check_models(device)
    if device == "cuda" and not args.skip_speed:
        actionformer_speed(args.repeats)
    print(
        f"{len(MODELS) - len(failures)}/{len(MODELS)} models pass the CUDA check"
        + (f"; failed: {failures}" if failures else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
