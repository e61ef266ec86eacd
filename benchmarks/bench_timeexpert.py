"""TimeExpert's MoE FFN: throughput against a dense FFN of equal active parameters, and the mean number of active
experts per token by task type.

* speed: forward (and forward + backward) of one `TimeExpertMoELayer` (hidden `--hidden`, `--experts` routed experts
  of width `--intermediate`, one shared expert) on `--tokens` tokens, against a dense gated FFN whose width is the
  shared expert's plus the measured mean number of active routed experts times `--intermediate` (the same active
  parameters per token). Dispatch sorts (token, expert) pairs by expert and runs one matmul per expert, so its
  overhead over the dense FFN is the gating, the sort and the gather/scatter.
* active experts: a tiny upcycled TimeExpert trained `--train_steps` steps on the synthetic grounding set with the
  four task types mixed (moment retrieval, highlight detection, dense captioning, general questions), then the mean
  |E(x)| per answer token and task type over held-out rows (task-aware gating makes these differ once A_t is learnt).

Reports medians over `--repeats` runs after a warm-up (wall and process CPU time). Random weights for the speed part.

    python benchmarks/bench_timeexpert.py [--threads 1] [--tokens 4096] [--train_steps 150]
    python benchmarks/bench_timeexpert.py --device cuda --dtype bfloat16 --speed_only --tokens 16384 \
        --hidden 2560 --intermediate 1664 --experts 64     # ARIA's expert sizes, on a GPU
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from momentzoo.models.timeexpert import TASK_TYPES, TimeExpertMoE, TimeExpertProcessor
from momentzoo.models.timeexpert.modeling_timeexpert import TimeExpertRouting, TimeExpertSharedExperts
from momentzoo.testing.timeexpert import tiny_timeexpert, tiny_timeexpert_config, tiny_timeexpert_tokenizer


def timed(fn, repeats: int, device: str = "cpu") -> tuple[float, float]:
    def run():
        fn()
        if device == "cuda":  # kernels are asynchronous: time to their end
            torch.cuda.synchronize()

    run()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def speed(args):
    tokenizer = tiny_timeexpert_tokenizer()
    config = tiny_timeexpert_config(
        tokenizer,
        hidden_size=args.hidden,
        num_layers=1,
        num_experts=args.experts,
        expert_intermediate_size=args.intermediate,
        num_shared_experts=1,
        max_experts_per_layer=args.experts,
    )
    torch.manual_seed(0)
    device, dtype = args.device, getattr(torch, args.dtype)
    layer = TimeExpertMoE(config).moe_layers[0].train().to(device, dtype)
    x = torch.randn(1, args.tokens, args.hidden, device=device, dtype=dtype, requires_grad=True)
    layer.routing = TimeExpertRouting(
        torch.randint(len(TASK_TYPES), (args.tokens,), device=device),
        torch.ones(args.tokens, dtype=torch.bool, device=device),
        [layer.gate.activation_rate.clone()],
        [layer.gate.expert_counts.clone()],
    )
    with torch.no_grad():
        layer(x)
    active = float(layer.active_experts.float().mean())
    width = round((1 + active) * args.intermediate)
    dense = TimeExpertSharedExperts(args.hidden, width, "silu").to(device, dtype)
    rows = []
    for name, module in (("MoE (dynamic gating)", layer), (f"dense FFN, width {width}", dense)):
        with torch.no_grad():
            fwd = timed(lambda module=module: module(x), args.repeats, device)
        both = timed(lambda module=module: module(x).sum().backward(), args.repeats, device)
        rows.append((name, fwd, both))
    print(
        f"\nMoE layer: hidden {args.hidden}, {args.experts} routed experts x {args.intermediate} + 1 shared, "
        f"{args.tokens} tokens, {device} {args.dtype}; mean active routed experts per token {active:.2f} (random gates)"
    )
    print(f"{'':28s} {'fwd tok/s':>12s} {'fwd cpu ms':>11s} {'fwd+bwd tok/s':>14s} {'fwd+bwd cpu ms':>15s}")
    for name, (fw, fc), (bw, bc) in rows:
        print(f"{name:28s} {args.tokens / fw:12,.0f} {1000 * fc:11.1f} {args.tokens / bw:14,.0f} {1000 * bc:15.1f}")


def mixed_task_rows(dataset):
    rows = []
    for i, row in enumerate(dataset):
        row = dict(row)
        task = TASK_TYPES[i % 4]
        duration = float(row["duration"])
        start, end = (float(v) for v in row["windows"][0])
        if task == "highlight_detection":
            clips = [c for c in range(int(duration // 2)) if start <= 2 * c + 1 <= end] or [int(start // 2)]
            row.update(relevant_clip_ids=clips, saliency_scores=[[4, 3, 4]] * len(clips))
        elif task == "dense_captioning":
            row.update(segments=[[start, end]], captions=[row["query"]])
        elif task == "general":
            row.update(question=f"what does the person do? {row['query']}", answer=row["action"])
        rows.append({**row, "task": task})
    return rows


def active_experts_by_task(args):
    from momentzoo.data.synthetic import make_synthetic_grounding_dataset
    from momentzoo.training.timeexpert import TimeExpertCollator

    data = make_synthetic_grounding_dataset(
        num_classes=2,
        num_confusable_pairs=0,
        feature_dim=16,
        num_videos={"train": 128, "test": 32},
        min_length=40,
        max_length=48,
        min_action_length=12,
        max_action_length=24,
        max_actions_per_video=1,
        noise=0.5,
        distractor_rate=0.0,
    ).with_format("numpy")
    torch.manual_seed(0)
    model, tokenizer = tiny_timeexpert(vision_feature_dim=16, num_experts=8, max_experts_per_layer=8)
    processor = TimeExpertProcessor.from_config(tokenizer, model.config)
    collator = TimeExpertCollator(processor, num_frames=8)
    train, test = mixed_task_rows(data["train"]), mixed_task_rows(data["test"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    generator = torch.Generator().manual_seed(0)
    for _ in range(args.train_steps):
        batch = collator([train[i] for i in torch.randint(len(train), (8,), generator=generator).tolist()])
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    totals = {task: [0.0, 0] for task in TASK_TYPES}
    with torch.no_grad():
        for start in range(0, len(test), 8):
            batch = collator(test[start : start + 8])
            out = model(**batch)
            answer = batch["labels"] != -100
            for row, task_id in enumerate(batch["task_ids"].tolist()):
                totals[TASK_TYPES[task_id]][0] += float(out.active_experts[row][answer[row]].sum())
                totals[TASK_TYPES[task_id]][1] += int(answer[row].sum())
    print(
        f"\nMean active routed experts per answer token (tiny upcycled TimeExpert, 8 experts/layer, "
        f"{args.train_steps} mixed-task steps):"
    )
    for task, (total, count) in totals.items():
        print(f"  {task:22s} {total / max(count, 1):.2f}  ({count} tokens)")
    rates = torch.stack([layer.gate.activation_rate for layer in model.moe_layers]).mean(dim=0)
    print("  A_t (activation rate per expert, layer mean):")
    for task, rate in zip(TASK_TYPES, rates):
        print(f"    {task:20s} " + " ".join(f"{v:.2f}" for v in rate.tolist()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--intermediate", type=int, default=256)
    parser.add_argument("--experts", type=int, default=16)
    parser.add_argument("--train_steps", type=int, default=150)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the speed part)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="the speed part's dtype")
    parser.add_argument("--speed_only", action="store_true", help="skip the active-experts training run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} thread(s)")
    speed(args)
    if not args.speed_only:
        active_experts_by_task(args)


if __name__ == "__main__":
    main()
