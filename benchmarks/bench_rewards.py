"""Completions scored per second by the Invert4TVG rewards, batched as GRPOTrainer calls them.

    python benchmarks/bench_rewards.py [--completions 4096] [--batch 256]

It also times the answer parser on adversarial megabyte inputs (the cases tests/rewards/test_parsing.py checks for
correctness): a backtracking pattern would take hours on them.

Prompts are real Charades-STA test queries (``MOMENTZOO_REAL_DATA`` or ``../shared/data``), each with G = 8
completions: a mix of right and wrong answers, sentence forms and malformed ones. Every backend starts with
an empty cache, and VD descriptions are 4 sentences (about 45 words) that are all distinct, so nothing is
reused across completions except each prompt's query. "VD, all tagged" gives every description the ground-truth verb's
word so that none can be answered without running the tagger (the worst case).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from momentzoo.rewards import (
    VerbLemmatizer,
    action_recognition_reward,
    build_inversion_examples,
    format_reward,
    iou_reward,
    select_target_verb,
    verb_completion_reward,
    video_description_reward,
)

G = 8
CONNECTORS = ["Then", "After that,", "Meanwhile", "Next,", "Finally,", "At the same time"]
OBJECTS = ["the door", "a cup", "the phone", "a towel", "the laptop", "a box", "the light", "a book"]


def load_queries() -> list[str]:
    root = Path(os.environ.get("MOMENTZOO_REAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    path = root / "charades_sta" / "charades_sta_test.jsonl"
    if not path.is_file():
        raise SystemExit(f"needs the Charades-STA annotations at {path} (set MOMENTZOO_REAL_DATA)")
    with open(path) as f:
        return list(dict.fromkeys(json.loads(line)["query"] for line in f))


def answer(text: str) -> str:
    return f"<think>I watch the clip and look for the action.</think> <answer>{text}</answer>"


def make_batches(queries, lemmatizer, n, rng, all_tagged=False):
    queries = [q for q, verbs in zip(queries, lemmatizer.verb_tokens(queries)) if select_target_verb(verbs) is not None]
    rows = build_inversion_examples(queries, "vc", lemmatizer)
    verbs = sorted({r["verb_lemma"] for r in rows})
    vc, ar, vd = [], [], []
    for k in range(n):
        row = rows[(k // G) % len(rows)]
        wrong = rng.choice(verbs)
        vc.append(
            rng.choice(
                [
                    answer(row["query"]),
                    answer(row["masked_query"].replace("[]", wrong)),
                    answer(row["verb"]),
                    answer(row["masked_query"].replace("[]", f"[{row['verb']}]")),
                    "<answer>" + row["query"],
                ]
            )
        )
        ar.append(
            rng.choice(
                [answer(row["verb_lemma"]), answer(row["verb"]), answer(wrong), answer(f"{wrong} away"), "nothing"]
            )
        )
        # every sentence distinct (a time stamp in each), so the per-sentence cache cannot help
        filler = " ".join(
            f"{rng.choice(CONNECTORS)} {rng.choice(queries).rstrip('.')} at {rng.uniform(0, 30):.2f} seconds."
            for _ in range(3)
        )
        mention = all_tagged or rng.random() < 0.5
        first = f"At first a person {row['verb']} {rng.choice(OBJECTS)} for {rng.uniform(0, 9):.2f} seconds."
        vd.append(
            answer(f"{first} {filler}" if mention else f"{filler} The person waits {rng.uniform(0, 9):.2f} seconds.")
        )
    columns = {"masked_query": [], "verb": [], "query": []}
    for k in range(n):
        row = rows[(k // G) % len(rows)]
        columns["masked_query"].append(row["masked_query"])
        columns["verb"].append(row["verb"])
        columns["query"].append(row["query"])
    return vc, ar, vd, columns


def throughput(funcs, completions, columns, batch, **kwargs) -> str:
    """Completions per second through all of `funcs` (a task's total reward is their sum): per second of
    wall time and per second of this process's CPU time (the machine may be shared)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(completions), batch):
        cols = {k: v[i : i + batch] for k, v in columns.items()}
        for func in funcs:
            func(completions=completions[i : i + batch], **cols, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{len(completions) / wall:>10,.0f} /s wall {len(completions) / cpu:>10,.0f} /s CPU"


def parser_on_adversarial_inputs(size: int = 1_000_000) -> str:
    from momentzoo.rewards import parse_format, parse_window

    texts = [
        "1" * size,
        "1 " * (size // 2),
        "1." * (size // 2),
        "1:" * (size // 2),
        "1 to " + "9" * size,
        "1 -" * (size // 3),
        "s" * size,
        "<answer>" * (size // 8),
    ]
    start = time.perf_counter()
    for text in texts:
        parse_window(text), parse_format(text), parse_window(f"<answer>{text}</answer>")
    elapsed = time.perf_counter() - start
    return f"{len(texts)} adversarial inputs of ~{size / 1e6:.0f} MB: {elapsed:.2f} s ({elapsed / len(texts) * 1e3:.0f} ms each)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256, help="completions per reward call (GRPO generation batch)")
    args = parser.parse_args()
    queries = load_queries()
    rng = random.Random(0)
    rng.shuffle(queries)
    n_prompts = args.completions // G
    print(f"{args.completions} completions ({n_prompts} prompts x G={G}), {args.batch} per call")

    tvg = [
        answer(f"{s:.1f} to {s + rng.uniform(2, 10):.1f}") if rng.random() < 0.8 else "no window"
        for s in (rng.uniform(0, 20) for _ in range(args.completions))
    ]
    windows = [[[5.0, 12.0]]] * args.completions
    print(
        f"{'TVG (format + IoU)':<28} {throughput([format_reward, iou_reward], tvg, {'windows': windows}, args.batch)}"
    )

    for backend in ("spacy", "lookup"):
        setup = VerbLemmatizer(use_spacy=backend == "spacy")
        if setup.backend != backend:
            print(f"{backend}: not installed, skipped")
            continue
        prompts = queries[:n_prompts]
        vc, ar, vd, columns = make_batches(prompts, setup, args.completions, random.Random(1))
        _, _, vd_all, _ = make_batches(prompts, setup, args.completions, random.Random(2), all_tagged=True)
        for name, func, completions in [
            ("VC", verb_completion_reward, vc),
            ("AR", action_recognition_reward, ar),
            ("VD", video_description_reward, vd),
            ("VD, all tagged", video_description_reward, vd_all),
        ]:
            fresh = VerbLemmatizer(use_spacy=backend == "spacy")  # empty cache
            rate = throughput([func], completions, columns, args.batch, lemmatizer=fresh)
            print(f"{name + ' [' + backend + ']':<28} {rate}")


if __name__ == "__main__":
    print(parser_on_adversarial_inputs())
    main()
