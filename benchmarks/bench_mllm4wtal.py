#!/usr/bin/env python
"""What KSM + CSR cost on top of the DELU base: one training step (forward + backward + AdamW) on a batch of
THUMOS14-sized crops, and inference (forward + DELU's proposals) per video, at the paper's sizes (2048-d I3D
features, 20 classes, CLIP ViT-B/16's text tower, random weights: nothing is downloaded).

    python benchmarks/bench_mllm4wtal.py [--batch 10] [--length 320] [--video-length 1000] [--repeats 3] [--threads 1]
"""

import argparse
import functools
import statistics
import time

import torch

from momentzoo.models.delu import DELUConfig, DELUModel
from momentzoo.models.mllm4wtal import MLLM4WTALConfig, MLLM4WTALModel


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def batch(config, size, length, descriptions):
    generator = torch.Generator().manual_seed(0)
    inputs = {
        "input_features": torch.randn(size, length, 2048, generator=generator),
        "labels": torch.eye(20)[torch.arange(size) % 20],
        "training_progress": 0.5,
    }
    if descriptions:
        vocab = config.text_config.vocab_size
        for name, words in (("key", 24), ("complete", 60)):
            ids = torch.randint(1, vocab - 2, (size, words), generator=generator)
            ids[:, 0], ids[:, -1] = config.text_config.bos_token_id, config.text_config.eos_token_id
            inputs[f"{name}_input_ids"], inputs[f"{name}_attention_mask"] = ids, torch.ones_like(ids)
    return inputs


def train_step(model, inputs, optimizer):
    model.train()
    model(**inputs).loss.backward()
    optimizer.step()
    optimizer.zero_grad()


@torch.no_grad()
def inference(model, video, length):
    model.eval()
    model.post_process(model(video), [{"duration": length * 16 / 25}])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--length", type=int, default=320)
    parser.add_argument("--video-length", type=int, default=1000, help="snippets of the inference video")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"DELU": DELUModel(DELUConfig()), "MLLM4WTAL": MLLM4WTALModel(MLLM4WTALConfig())}
    print(
        f"CPU, {args.threads} thread(s); train batch {args.batch} x {args.length} snippets; inference video of "
        f"{args.video_length} snippets"
    )
    for name, model in models.items():
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        inputs = batch(model.config, args.batch, args.length, name == "MLLM4WTAL")
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)

        step = functools.partial(train_step, model, inputs, optimizer)
        infer = functools.partial(inference, model, torch.randn(1, args.video_length, 2048), args.video_length)

        print(
            f"{name:10s} params {total / 1e6:6.1f} M ({trainable / 1e6:5.1f} M trained)  "
            f"train step {timed(step, args.repeats):6.3f} s  inference {timed(infer, args.repeats):6.3f} s/video"
        )


if __name__ == "__main__":
    main()
