"""Hostile sizes: the fast paths that keep `grounding_recall` and `momentzoo evaluate` fast and memory-light on huge
inputs give exactly what the per-query / whole-file paths give (timings and memory: benchmarks/bench_hostile_scale.py).
"""

import json
import random

import pytest

from momentzoo.commands.evaluate import EXAMPLE_DIR, evaluate_files
from momentzoo.metrics.grounding_recall import compute_grounding_recall, grounding_recall
from momentzoo.metrics.tal_map import compute_tal_map
from momentzoo.strict_json import iter_object_member


def _random_queries(rng, q):
    preds = [
        [[s, s + rng.choice([0.0, rng.uniform(0, 5)])] for s in (rng.uniform(0, 20) for _ in range(rng.randint(0, 7)))]
        for _ in range(q)
    ]
    refs = [
        [[s, s + rng.uniform(0.1, 5)] for s in (rng.uniform(0, 20) for _ in range(rng.randint(1, 3)))] for _ in range(q)
    ]
    return preds, refs


def _per_query(preds, refs, ranks, thresholds, strict):
    """R{k}@{m} and mIoU by plain loops over queries (the definition)."""

    def iou(a, b):
        inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
        union = (a[1] - a[0]) + (b[1] - b[0]) - inter
        return inter / union if union > 0 else 0.0

    best = [[max((iou(p, r) for r in rs), default=0.0) for p in ps] for ps, rs in zip(preds, refs)]
    out = {}
    for k in ranks:
        for m in thresholds:
            hits = [any((b > m if strict else b >= m) for b in row[:k]) for row in best]
            out[f"R{k}@{m:g}"] = sum(hits) / len(hits)
    out["mIoU"] = sum(row[0] if row else 0.0 for row in best) / len(best)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_grounding_recall_equals_the_per_query_definition(seed, monkeypatch):
    rng = random.Random(seed)
    preds, refs = _random_queries(rng, rng.randint(1, 300))
    if seed % 2:
        preds = [[[int(a), int(b) + 1] for a, b in p] for p in preds]  # integer windows take the fast path too
    monkeypatch.setattr(grounding_recall, "_CHUNK", 7)  # many chunks
    ranks, strict = (1, 3, 5), bool(seed % 2)
    got = compute_grounding_recall(preds, refs, ranks=ranks, strict=strict)
    expected = _per_query(preds, refs, ranks, (0.3, 0.5, 0.7), strict)
    assert got.keys() == expected.keys()
    for key in got:
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[[True, 5.0]]], r"predictions of query 0, window 0: expected two numbers"),
        ([[[1.0, float("nan")]]], r"predictions of query 0, window 0: not finite"),
        ([[[3.0, 1.0]]], r"predictions of query 0, window 0: end < start"),
        ([[[1.0, 2.0, 3.0]]], r"predictions of query 0, window 0: expected two numbers"),
    ],
)
def test_the_fast_path_hands_bad_windows_to_the_checks_that_name_them(bad, message):
    with pytest.raises(ValueError, match=message):
        compute_grounding_recall(bad, [[[0.0, 1.0]]])


def test_streamed_evaluate_equals_the_metric_on_the_whole_file(tmp_path, monkeypatch):
    from momentzoo import strict_json

    monkeypatch.setattr(strict_json._JSONStream.__init__, "__defaults__", (7,))  # 7-character reads: every boundary
    gt = json.loads((EXAMPLE_DIR / "ground_truth.json").read_text())["database"]
    preds = json.loads((EXAMPLE_DIR / "predictions.json").read_text())["results"]
    metrics, summary = evaluate_files(
        EXAMPLE_DIR / "ground_truth.json", EXAMPLE_DIR / "predictions.json", "test", ignore_labels=["Ambiguous"]
    )
    videos = [v for v, e in gt.items() if e["subset"] == "test"]
    expected = compute_tal_map(
        [preds.get(v, []) for v in videos], [gt[v]["annotations"] for v in videos], ignore_labels=["Ambiguous"]
    )
    assert metrics == expected and summary["predictions"] == sum(len(preds.get(v, [])) for v in videos)
    assert dict(iter_object_member(EXAMPLE_DIR / "predictions.json", "results")) == preds
