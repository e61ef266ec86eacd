"""ActionVLM's inference latency over ActionFormer's at the same window length, with the LM size as a parameter.

Both models get the same ActionFormer head (THUMOS14 defaults: 512-d, 2 stem + 5 downsampling blocks) on the same
pre-extracted features; ActionVLM adds its LM pass over [L visual tokens | 3L special tokens | instruction] and
the second detector stream (F_cls and F_loc). Weights are random (latency does not depend on them); LoRA is
counted as merged (`language_tuning="frozen"`), as a deployed checkpoint would be. The paper reports 374 ms
against 306 ms (1.22x) for a 3B LM on an NVIDIA L40, end to end.

    python benchmarks/bench_actionvlm.py                       # CPU, window 256, Qwen2-shaped LMs of 1.5M to 48M parameters
    python benchmarks/bench_actionvlm.py --device cuda --dtype bfloat16 --window 768 --lm-sizes 1.5b,3b
"""

import argparse
import statistics
import time

import torch

from momentzoo.models.actionformer import ActionFormerConfig, ActionFormerForTemporalLocalization
from momentzoo.models.actionvlm import ACTIONVLM_PRESETS, ActionVLMConfig, ActionVLMForTemporalLocalization

# name (hidden x layers) -> (hidden, layers, heads, kv heads, intermediate); 1.5b / 3b are the presets' Qwen2.5 shapes.
LM_SIZES = {
    "h128x4": (128, 4, 4, 2, 512),
    "h256x8": (256, 8, 8, 2, 1024),
    "h512x12": (512, 12, 8, 2, 2048),
    "1.5b": None,
    "3b": None,
}


def text_config(name: str) -> dict:
    if LM_SIZES[name] is None:
        preset = "actionvlm-b-1.5b" if name == "1.5b" else "actionvlm-b-3b"
        return dict(ACTIONVLM_PRESETS[preset]["text_config"])
    hidden, layers, heads, kv, intermediate = LM_SIZES[name]
    return dict(
        model_type="qwen2",
        vocab_size=4096,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        tie_word_embeddings=True,
    )


def timed(fn, repeats: int, sync) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process per call (on a shared, loaded machine the CPU
    time is the steadier figure)."""
    fn()  # warm-up
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=256, help="feature steps per window (the paper: 768 frames)")
    parser.add_argument("--input-dim", type=int, default=384, help="feature width D (ViT-S: 384)")
    parser.add_argument("--num-classes", type=int, default=20)
    parser.add_argument("--prompt-tokens", type=int, default=400, help="instruction length (20 classes + T_desc)")
    parser.add_argument("--lm-sizes", default="h128x4,h256x8,h512x12", help=f"comma-separated, from {list(LM_SIZES)}")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)

    head = dict(input_dim=args.input_dim, max_seq_len=args.window, num_classes=args.num_classes)
    features = torch.randn(1, args.window, args.input_dim, device=device, dtype=dtype)
    metadata = [{"duration": args.window * 4 / 30.0 + 0.5}]

    baseline = ActionFormerForTemporalLocalization(ActionFormerConfig(**head)).to(device, dtype).eval()

    def run(model):
        with torch.inference_mode():
            return model.post_process(model(input_features=features), metadata)

    with torch.inference_mode():
        t_af = timed(lambda: baseline(input_features=features), args.repeats, sync)
    t_af_pp = timed(lambda: run(baseline), args.repeats, sync)
    print(
        f"device {device}, dtype {args.dtype}, threads {torch.get_num_threads()}, window {args.window} x "
        f"{args.input_dim}, prompt {args.prompt_tokens} tokens (LM sequence {4 * args.window + args.prompt_tokens})"
    )
    print(
        f"ActionFormer ({baseline.num_parameters() / 1e6:.1f}M parameters): forward {t_af[0] * 1e3:.0f} ms wall, "
        f"{t_af[1] * 1e3:.0f} ms CPU; with post-processing {t_af_pp[0] * 1e3:.0f} ms wall, {t_af_pp[1] * 1e3:.0f} ms CPU"
    )
    print(
        f"{'LM':>8} {'LM params':>10} {'fwd wall ms':>12} {'ratio':>6} {'fwd CPU ms':>11} {'ratio':>6} "
        f"{'+post CPU ms':>13} {'ratio':>6}"
    )
    for name in args.lm_sizes.split(","):
        text = text_config(name)
        config = ActionVLMConfig(
            **head,
            text_config=text,
            language_tuning="frozen",
            special_token_ids=[1, 2, 3],
            prompt_token_ids=[4 + i % 64 for i in range(args.prompt_tokens)],
        )
        model = ActionVLMForTemporalLocalization(config).to(device, dtype).eval()
        lm_params = model.language_model.num_parameters()
        with torch.inference_mode():
            t_vlm = timed(lambda m=model: m(input_features=features), args.repeats, sync)
        t_vlm_pp = timed(lambda m=model: run(m), args.repeats, sync)
        print(
            f"{name:>8} {lm_params / 1e6:>9.1f}M {t_vlm[0] * 1e3:>12.0f} {t_vlm[0] / t_af[0]:>6.2f} "
            f"{t_vlm[1] * 1e3:>11.0f} {t_vlm[1] / t_af[1]:>6.2f} {t_vlm_pp[1] * 1e3:>13.0f} "
            f"{t_vlm_pp[1] / t_af_pp[1]:>6.2f}"
        )
        del model


if __name__ == "__main__":
    main()
