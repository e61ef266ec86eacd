"""A tiny Qwen2.5-VL whose tokenizer knows Invert4TVG's prompts, for tests, benchmarks and the synthetic example.

`momentzoo.testing.tiny_tokenizer` is trained on a generic corpus, so the task prompts and answers fall apart
into hundreds of byte-level pieces and a tiny model needs many steps to learn the answer format. The
tokenizer here is trained (locally, with `tokenizers`) on the prompts and reference answers of the four tasks
over the synthetic queries, with Qwen's special tokens and chat template: prompts are a few dozen tokens and a
supervised warm start teaches the format in a few dozen steps on a CPU.
"""

from __future__ import annotations

import numpy as np
from transformers import PreTrainedTokenizerFast

from ..data.synthetic_video_grounding import SYNTHETIC_VIDEO_QUERIES
from ..training.invert4tvg.prompts import reference_answer, task_prompt
from .backbones import tiny_qwen2_5_vl, tiny_tokenizer

__all__ = ["tiny_invert4tvg_tokenizer", "tiny_invert4tvg_model"]


def _corpus(seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    queries = [q for phrasings in SYNTHETIC_VIDEO_QUERIES.values() for q, _ in phrasings]
    queries += ["a person opens the door", "person closes the laptop", "a person is walking into the room"]
    lines = []
    for query in queries:
        for _ in range(4):
            duration = float(rng.uniform(5, 40))
            start = float(rng.uniform(0, duration / 2))
            end = float(rng.uniform(start + 0.5, duration))
            lines.append(task_prompt("tvg", query=query, duration=duration))
            lines.append(reference_answer("tvg", query, windows=[[start, end]]))
        words = query.split()
        masked = " ".join(words[:2] + ["[]"] + words[3:])
        lines.append(task_prompt("vc", masked_query=masked))
        lines.append(reference_answer("vc", query))
        lines.append(reference_answer("ar", query, verb_lemma=words[2].rstrip("s")))
    lines += [task_prompt("ar"), task_prompt("vd")]
    return lines * 3


def tiny_invert4tvg_tokenizer(vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on Invert4TVG prompts and answers, with Qwen's special tokens and chat template."""
    return tiny_tokenizer(vocab_size, corpus=_corpus())


def tiny_invert4tvg_model(
    hidden_size: int = 64, num_layers: int = 2, vision_hidden_size: int = 32, vocab_size: int = 1024
):
    """(model, tokenizer): a randomly initialised tiny `Qwen2_5_VLForConditionalGeneration` (Qwen's vision
    geometry: patch 14, temporal patch 2, 2x2 merge) with `tiny_invert4tvg_tokenizer`."""
    return tiny_qwen2_5_vl(
        tiny_invert4tvg_tokenizer(vocab_size),
        hidden_size=hidden_size,
        num_layers=num_layers,
        vision_hidden_size=vision_hidden_size,
    )
