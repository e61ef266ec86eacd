import json
import random

import evaluate
import pytest

import momentzoo.metrics
from momentzoo.metrics import TemporalGroundingRecall
from momentzoo.metrics.grounding_recall import compute_grounding_recall


def loop_iou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def loop_recall(predictions, references, ranks=(1, 5), thresholds=(0.3, 0.5, 0.7), strict=True):
    """R{k}@{m} and mIoU straight from the definition."""
    best = [[max(loop_iou(w, r) for r in refs) for w in preds] for preds, refs in zip(predictions, references)]
    out = {}
    for k in ranks:
        for m in thresholds:
            hits = [any((x > m) if strict else (x >= m) for x in b[:k]) for b in best]
            out[f"R{k}@{m:g}"] = sum(hits) / len(hits)
    out["mIoU"] = sum(b[0] if b else 0.0 for b in best) / len(best)
    return out


def test_card_example():
    result = compute_grounding_recall([[[2.0, 6.0]], []], [[[2.0, 8.0]], [[1.0, 3.0]]], ranks=[1])
    assert result == {"R1@0.3": 0.5, "R1@0.5": 0.5, "R1@0.7": 0.0, "mIoU": pytest.approx((4 / 6) / 2, abs=1e-15)}


def test_strict_counts_only_above_the_threshold():
    # tIoU exactly 0.5 (and 0.25): a miss at m=0.5 by default (IoU > m, the papers' convention), a hit with strict=False.
    preds, refs = [[[0.0, 1.0]], [[0.0, 0.5]]], [[[0.0, 2.0]], [[0.0, 2.0]]]
    loose = compute_grounding_recall(preds, refs, ranks=[1], iou_thresholds=[0.5, 0.25], strict=False)
    assert loose["R1@0.5"] == 0.5 and loose["R1@0.25"] == 1.0
    strict = compute_grounding_recall(preds, refs, ranks=[1], iou_thresholds=[0.5, 0.25])
    assert strict["R1@0.5"] == 0.0 and strict["R1@0.25"] == 0.5


def test_percent_reports_the_papers_units():
    preds, refs = [[[2.0, 6.0]], []], [[[2.0, 8.0]], [[1.0, 3.0]]]
    result = compute_grounding_recall(preds, refs, ranks=[1], percent=True)
    assert result == {"R1@0.3": 50.0, "R1@0.5": 50.0, "R1@0.7": 0.0, "mIoU": pytest.approx(100 * (4 / 6) / 2)}


def test_top_k_only_and_fewer_windows_than_k():
    refs = [[[10.0, 20.0]]]
    misses = [[50.0, 60.0]] * 5
    assert compute_grounding_recall([misses + [[10.0, 20.0]]], refs)["R5@0.7"] == 0.0  # the hit is 6th
    assert compute_grounding_recall([misses[:4] + [[10.0, 20.0]]], refs)["R5@0.7"] == 1.0  # 5th
    result = compute_grounding_recall([[[50.0, 60.0], [10.0, 20.0]]], refs)  # 2 windows < k=5
    assert result["R1@0.3"] == 0.0 and result["R5@0.3"] == 1.0 and result["mIoU"] == 0.0


def test_best_matching_reference_and_empty_prediction():
    refs = [[[0.0, 10.0], [20.0, 30.0]], [[0.0, 10.0]]]
    result = compute_grounding_recall([[[21.0, 30.0]], []], refs)
    assert result["R1@0.7"] == 0.5 and result["mIoU"] == pytest.approx(0.9 / 2)


def test_raw_text_answers_are_parsed_with_the_shared_parser():
    refs = [[[2.0, 8.0]], [[1.0, 3.0]], [[0.0, 4.0]], [[10.0, 20.0]]]
    texts = [
        "<think>the person opens it</think> <answer>2 to 6</answer>",
        "<think>hmm</think> <answer>I cannot tell</answer>",  # no window: tIoU 0
        "<think>x</think> <answer>5 to 1</answer>",  # reversed: not a window
        "<think>x</think> <answer>from 30 to 40 or 10 to 20</answer>",  # two windows, ranked in order
    ]
    result = compute_grounding_recall(texts, refs)
    assert result["R1@0.5"] == 0.25 and result["R5@0.7"] == 0.25 and result["R1@0.7"] == 0.0
    assert result["mIoU"] == pytest.approx((4 / 6) / 4)


@pytest.mark.parametrize("seed", range(4))
def test_matches_loop_reference_on_random_inputs(seed):
    rng = random.Random(seed)

    def window():
        s = rng.randint(0, 20)
        return [float(s), float(s + rng.randint(0, 6))]

    for strict in (False, True):
        preds = [[window() for _ in range(rng.randint(0, 7))] for _ in range(40)]
        refs = [[window() for _ in range(rng.randint(1, 3))] for _ in range(40)]
        ranks, thresholds = (1, 3, 5), (0.1, 0.25, 0.5, 0.7)
        expected = loop_recall(preds, refs, ranks, thresholds, strict)
        assert compute_grounding_recall(preds, refs, ranks, thresholds, strict) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "preds, refs, message",
    [
        ([[[1.0, 0.0]]], [[[0.0, 1.0]]], "predictions of query 0, window 0: end < start"),
        (
            [[[0.0, 1.0]], [[0.0, float("nan")]]],
            [[[0.0, 1.0]], [[0.0, 1.0]]],
            "predictions of query 1, window 0: not finite",
        ),
        ([[[0.0, 1.0, 2.0]]], [[[0.0, 1.0]]], "predictions of query 0, window 0: expected two numbers"),
        (
            [[[0.0, 1.0]]],
            [[0.0, 1.0]],
            r"references of query 0: expected a list of \[start, end\] windows, got one window",
        ),
        ([[[0.0, 1.0]]], [[]], "references of query 0: no ground-truth window"),
        ([[[0.0, 1.0]]], [None], "references of query 0: expected a list"),
        ([[[0.0, 1.0]], []], [[[0.0, 1.0]]], "predictions has 2 queries but references has 1"),
        (["<answer>1 to 2</answer>", [[0.0, 1.0]]], [[[0.0, 1.0]]] * 2, "predictions of query 1: mixes raw text"),
        ([[["a", "b"]]], [[[0.0, 1.0]]], "expected two numbers"),
    ],
)
def test_bad_inputs_name_the_query_and_field(preds, refs, message):
    with pytest.raises(ValueError, match=message):
        compute_grounding_recall(preds, refs)


@pytest.mark.parametrize(
    "kwargs",
    [{"ranks": [0]}, {"ranks": [1, 1]}, {"ranks": 1}, {"iou_thresholds": [0.0]}, {"iou_thresholds": [0.5, 0.5]}],
)
def test_bad_options(kwargs):
    with pytest.raises(ValueError, match="ranks|iou_thresholds"):
        compute_grounding_recall([[[0.0, 1.0]]], [[[0.0, 1.0]]], **kwargs)


def test_evaluate_load_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = evaluate.load(momentzoo.metrics.path("grounding_recall"))
    preds, refs = [[[2.0, 6.0], [0.0, 9.0]], []], [[[2.0, 8.0]], [[1.0, 3.0]]]
    assert metric.compute(predictions=preds, references=refs, strict=True) == compute_grounding_recall(
        preds, refs, strict=True
    )
    texts = ["<answer>2 to 6</answer>", "no idea"]
    assert metric.compute(predictions=texts, references=refs) == compute_grounding_recall(texts, refs)
    metric.add(prediction=preds[0], reference=refs[0])
    metric.add_batch(predictions=preds[1:], references=refs[1:])
    assert metric.compute(ranks=[1]) == compute_grounding_recall(preds, refs, ranks=[1])
    with pytest.raises(ValueError, match="references of query 0: no ground-truth window"):
        TemporalGroundingRecall().compute(predictions=[[]], references=[[]])


@pytest.mark.real_data
def test_charades_sta_test_windows(real_data):
    rows = [
        json.loads(line) for line in (real_data / "charades_sta" / "charades_sta_test.jsonl").read_text().splitlines()
    ]
    refs = [row["relevant_windows"] for row in rows]
    perfect = compute_grounding_recall(refs, refs)
    assert all(v == 1.0 for v in perfect.values())
    rng = random.Random(0)
    shifted = [[[s + rng.uniform(-3, 3), e + rng.uniform(-3, 3)] for s, e in r] for r in refs]
    shifted = [[sorted(w) for w in r] for r in shifted]
    result = compute_grounding_recall(shifted, refs)
    assert result == pytest.approx(loop_recall(shifted, refs), abs=1e-12)
    assert result["R1@0.7"] < result["R1@0.5"] < result["R1@0.3"] < 1.0 and result["mIoU"] < 0.9


def test_pipeline_outputs_and_tensors_are_accepted():
    import numpy as np
    import torch

    references = [[[2.0, 8.0]], [[1.0, 3.0]]]
    expected = compute_grounding_recall([[[2.0, 6.0], [0.0, 1.0]], [[5.0, 6.0], [1.0, 3.0]]], references)
    # what `pipeline("temporal-video-grounding")` returns: dicts with a segment and a score, ranked by the score
    pipeline_outputs = [
        [{"segment": [0.0, 1.0], "score": 0.2}, {"segment": [2.0, 6.0], "score": 0.9}],
        {
            "predictions": [{"segment": [5.0, 6.0], "score": 0.7}, {"segment": [1.0, 3.0], "score": 0.1}],
            "answer": "<answer>5 to 6</answer>",
        },
    ]
    assert compute_grounding_recall(pipeline_outputs, references) == expected
    metric = TemporalGroundingRecall()
    assert metric.compute(predictions=pipeline_outputs, references=references) == expected
    # tensors: (queries, windows, 2) predictions, (queries, 2) references (one window per query)
    tensors = torch.tensor([[[2.0, 6.0], [0.0, 1.0]], [[5.0, 6.0], [1.0, 3.0]]])
    assert compute_grounding_recall(tensors, torch.tensor([[2.0, 8.0], [1.0, 3.0]])) == expected
    assert compute_grounding_recall(tensors.numpy(), np.array(references)) == expected
    assert metric.compute(predictions=list(tensors), references=[torch.tensor(r) for r in references]) == expected
    metric.add(prediction=pipeline_outputs[0], reference=torch.tensor([[2.0, 8.0]]))
    assert metric.compute(ranks=[1])["R1@0.5"] == 1.0
    with pytest.raises(ValueError, match=r"predictions: a tensor of windows must have shape"):
        compute_grounding_recall(torch.zeros(2, 3), references)
