import math
import random

import pytest
import torch
from reference_nms import loop_iou, loop_nms

import momentzoo.segments as segments_module
from momentzoo.segments import (
    batched_nms,
    center_width_to_start_end,
    feature_grid_to_seconds,
    seconds_to_feature_grid,
    segment_iou,
    segment_length,
    start_end_to_center_width,
)

# ---------------------------------------------------------------- random candidates


def random_candidates(seed, n, num_classes, kind="float", dtype=torch.float64):
    """Seeded candidates. "float": continuous, with 5% zero-length; "int": a coarse integer grid, so scores,
    tIoUs and touching ends tie exactly (for hard NMS: decayed scores would tie mathematically and then
    differ only by the rounding of the product order); "dup": every segment and score repeated ~3 times."""
    g = torch.Generator().manual_seed(seed)
    if kind == "int":
        start = torch.randint(0, 30, (n,), generator=g).double()
        segs = torch.stack([start, start + torch.randint(0, 6, (n,), generator=g).double()], 1)
        scores = torch.randint(1, 10, (n,), generator=g).double() / 10
    elif kind == "dup":
        m = max(1, n // 3)
        base = torch.rand(m, 2, generator=g, dtype=torch.float64).sort(1).values * 50
        which = torch.randint(0, m, (n,), generator=g)
        segs, scores = base[which], torch.rand(m, generator=g, dtype=torch.float64)[which]
    else:
        centers = torch.rand(n, generator=g, dtype=torch.float64) * 100
        widths = torch.rand(n, generator=g, dtype=torch.float64) * 20
        widths = widths * (torch.rand(n, generator=g, dtype=torch.float64) > 0.05)
        segs = torch.stack([centers - widths / 2, centers + widths / 2], 1)
        scores = torch.rand(n, generator=g, dtype=torch.float64) ** 2
    labels = torch.randint(0, num_classes, (n,), generator=g) * 7 - 3  # sparse, negative ids too
    return segs.to(dtype), scores.to(dtype), labels


def assert_matches_loop(segs, scores, labels, atol=1e-7, **kwargs):
    expected = loop_nms(segs.tolist(), scores.tolist(), labels.tolist(), **kwargs)
    out_segs, out_scores, out_labels = batched_nms(segs, scores, labels, **kwargs)
    assert len(out_scores) == len(expected), kwargs
    assert out_labels.tolist() == [e[2] for e in expected], kwargs
    torch.testing.assert_close(
        out_scores, torch.tensor([e[1] for e in expected], dtype=out_scores.dtype), atol=atol, rtol=0
    )
    torch.testing.assert_close(
        out_segs, torch.tensor([e[0] for e in expected], dtype=out_segs.dtype).reshape(-1, 2), atol=atol, rtol=0
    )


# ---------------------------------------------------------------- tIoU and conversions


def test_segment_iou_matches_loop_on_random_pairs():
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 20, (40, 2), generator=g).double().sort(1).values  # touching, nested, zero-length
    b = torch.rand(30, 2, generator=g, dtype=torch.float64).sort(1).values * 20
    for x, y in ((a, b), (a, a), (b, b)):
        expected = torch.tensor([[loop_iou(p, q) for q in y.tolist()] for p in x.tolist()], dtype=torch.float64)
        torch.testing.assert_close(segment_iou(x, y), expected, atol=1e-12, rtol=0)


def test_segment_iou_known_values_and_zero_length():
    a = torch.tensor([[0.0, 2.0], [1.0, 1.0], [1.0, 1.0]])
    b = torch.tensor([[1.0, 3.0], [1.0, 1.0], [0.0, 2.0]])
    iou = segment_iou(a, b)
    assert iou[0, 0].item() == pytest.approx(1 / 3)  # inter 1, union 3
    assert iou[1, 1].item() == 0.0  # two identical zero-length segments: empty union
    assert iou[1, 2].item() == 0.0  # a point inside a segment has no length to share
    assert segment_iou(torch.zeros(0, 2), b).shape == (0, 3)
    assert segment_length(torch.tensor([[2.0, 1.0]])).item() == 0.0
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        segment_iou(torch.zeros(3, 3), b)


def test_center_width_round_trip():
    g = torch.Generator().manual_seed(2)
    segs = torch.rand(50, 2, generator=g, dtype=torch.float64).sort(1).values * 100
    cw = start_end_to_center_width(segs)
    torch.testing.assert_close(cw[:, 0], segs.mean(1))
    torch.testing.assert_close(cw[:, 1], segs[:, 1] - segs[:, 0])
    torch.testing.assert_close(center_width_to_start_end(cw), segs)
    torch.testing.assert_close(center_width_to_start_end(torch.tensor([[5.0, 4.0]])), torch.tensor([[3.0, 7.0]]))


def test_seconds_feature_grid_round_trip_and_actionformer_convention():
    # ActionFormer: step i is centred on frame i * stride + num_frames / 2.
    fps, stride, num_frames = 30.0, 4, 16
    assert seconds_to_feature_grid(torch.tensor(1.0), fps, stride, num_frames).item() == pytest.approx((30 - 8) / 4)
    assert feature_grid_to_seconds(torch.tensor(0.0), fps, stride, num_frames).item() == pytest.approx(8 / 30)
    t = torch.linspace(0, 200, 101, dtype=torch.float64)
    back = feature_grid_to_seconds(seconds_to_feature_grid(t, fps, stride, num_frames), fps, stride, num_frames)
    torch.testing.assert_close(back, t)


# ---------------------------------------------------------------- NMS: the equations on small tensors


def test_gaussian_soft_nms_decay_equation():
    segs = torch.tensor([[0.0, 4.0], [2.0, 6.0], [10.0, 12.0]], dtype=torch.float64)  # IoU(0, 1) = 2 / 6
    scores = torch.tensor([0.9, 0.8, 0.5], dtype=torch.float64)
    labels = torch.zeros(3, dtype=torch.long)
    out_segs, out_scores, _ = batched_nms(segs, scores, labels, sigma=0.5)
    expected = 0.8 * math.exp(-((1 / 3) ** 2) / 0.5)  # ActionFormer's method 2: exp(-iou^2 / sigma)
    assert out_scores.tolist() == pytest.approx([0.9, expected, 0.5])
    assert out_segs.tolist() == [[0.0, 4.0], [2.0, 6.0], [10.0, 12.0]]  # order by the decayed score
    # A decayed score can fall behind a candidate that started lower.
    _, out_scores, _ = batched_nms(segs, torch.tensor([0.9, 0.6, 0.5], dtype=torch.float64), labels, sigma=0.5)
    assert out_scores.tolist() == pytest.approx([0.9, 0.5, 0.6 * math.exp(-1 / 9 / 0.5)])


def test_linear_and_hard_nms_equations():
    segs = torch.tensor([[0.0, 4.0], [2.0, 6.0], [0.0, 3.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64)
    labels = torch.zeros(3, dtype=torch.long)
    # IoU with the first pick: 1/3 and 3/4; [2, 6] and [0, 3]: 1/6. Linear: score *= 1 - iou at or above 0.5.
    _, out, _ = batched_nms(segs, scores, labels, method="linear", iou_threshold=0.5)
    assert out.tolist() == pytest.approx([0.9, 0.8, 0.7 * (1 - 0.75)])
    # Hard: removed iff IoU >= threshold (the boundary included, as ActionFormer's `ovr >= iou_threshold`).
    _, out, _ = batched_nms(segs, scores, labels, method="hard", iou_threshold=0.75)
    assert out.tolist() == pytest.approx([0.9, 0.8])
    _, out, _ = batched_nms(segs, scores, labels, method="hard", iou_threshold=0.76)
    assert out.tolist() == pytest.approx([0.9, 0.8, 0.7])


def test_min_score_drops_decayed_candidates_and_max_segments_cuts():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0], [20.0, 30.0], [40.0, 50.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.5, 0.3, 0.0005], dtype=torch.float64)
    labels = torch.zeros(4, dtype=torch.long)
    # The duplicate decays to 0.5 * exp(-1 / 0.5) = 0.068; below min_score 0.1 it is dropped; 0.0005 never enters.
    _, out, _ = batched_nms(segs, scores, labels, min_score=0.1)
    assert out.tolist() == pytest.approx([0.9, 0.3])
    _, out, _ = batched_nms(segs, scores, labels, min_score=0.001)
    assert out.tolist() == pytest.approx([0.9, 0.3, 0.5 * math.exp(-2)])
    _, out, _ = batched_nms(segs, scores, labels, min_score=0.001, max_segments=2)
    assert out.tolist() == pytest.approx([0.9, 0.3])
    # pre_nms_topk keeps the top-k candidates before NMS.
    _, out, _ = batched_nms(segs, scores, labels, min_score=0.0, pre_nms_topk=2)
    assert out.tolist() == pytest.approx([0.9, 0.5 * math.exp(-2)])


def test_score_voting_is_score_weighted_mean_of_overlapping_candidates():
    segs = torch.tensor([[0.0, 10.0], [1.0, 11.0], [0.0, 9.0], [30.0, 40.0], [0.0, 10.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.6, 0.3, 0.8, 0.7], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 0, 1])
    out_segs, out_scores, out_labels = batched_nms(segs, scores, labels, voting_threshold=0.8)
    # Class 0's top segment [0, 10]: IoU 9/11 with [1, 11] and 0.9 with [0, 9] (both >= 0.8) plus itself;
    # the class-1 copy does not vote per class.
    start = (0.9 * 0 + 0.6 * 1 + 0.3 * 0) / 1.8
    end = (0.9 * 10 + 0.6 * 11 + 0.3 * 9) / 1.8
    first = out_labels.tolist().index(0)
    assert out_segs[first].tolist() == pytest.approx([start, end])
    assert out_scores[first].item() == pytest.approx(0.9)  # voting leaves scores alone
    # Class-agnostic voting counts the other class's candidate too.
    out_segs, _, _ = batched_nms(segs, scores, labels, voting_threshold=0.8, class_agnostic=True)
    assert out_segs[0].tolist() == pytest.approx([(0.6 * 1) / 2.5, (0.9 * 10 + 0.6 * 11 + 0.3 * 9 + 0.7 * 10) / 2.5])
    # Voting off (None or 0) returns the original boundaries.
    for off in (None, 0.0):
        out_segs, _, _ = batched_nms(segs, scores, labels, voting_threshold=off)
        assert out_segs[0].tolist() == [0.0, 10.0]


def test_class_agnostic_versus_per_class():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0], [5.0, 15.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64)
    labels = torch.tensor([3, 5, 5])
    _, out, out_labels = batched_nms(segs, scores, labels)
    iou = 5 / 15
    assert out.tolist() == pytest.approx([0.9, 0.8, 0.7 * math.exp(-(iou**2) / 0.5)])  # classes apart
    assert out_labels.tolist() == [3, 5, 5]
    _, out, out_labels = batched_nms(segs, scores, labels, class_agnostic=True)
    # The first pick decays its duplicate by exp(-1 / 0.5) and [5, 15] by exp(-iou^2 / 0.5); [5, 15] is then
    # taken second and decays the duplicate once more.
    decay = math.exp(-(iou**2) / 0.5)
    assert out.tolist() == pytest.approx([0.9, 0.7 * decay, 0.8 * math.exp(-2) * decay])
    assert out_labels.tolist() == [3, 5, 5]
    _, out, _ = batched_nms(segs, scores, labels, class_agnostic=True, method="hard", iou_threshold=0.3)
    assert out.tolist() == pytest.approx([0.9])


def test_zero_length_segments_overlap_nothing():
    segs = torch.tensor([[5.0, 5.0], [5.0, 5.0], [0.0, 10.0], [5.0, 5.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=torch.float64)
    labels = torch.zeros(4, dtype=torch.long)
    out_segs, out, _ = batched_nms(segs, scores, labels, voting_threshold=0.5)
    assert out.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])  # tIoU 0 everywhere: no decay
    assert out_segs.tolist() == segs.tolist()  # no candidate reaches tIoU 0.5 with a point: unchanged
    _, out, _ = batched_nms(segs, scores, labels, method="hard", iou_threshold=0.0)
    assert out.tolist() == pytest.approx([0.9])  # tIoU >= 0 holds for every pair


def test_ties_go_to_the_lower_index():
    segs = torch.tensor([[0.0, 1.0], [5.0, 6.0], [0.0, 1.0]], dtype=torch.float64)
    scores = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    labels = torch.tensor([2, 1, 0])
    out_segs, out, out_labels = batched_nms(segs, scores, labels, class_agnostic=True, method="hard")
    assert out_labels.tolist() == [2, 1]  # index 0 beats its duplicate at index 2; index order among equals


# ---------------------------------------------------------------- NMS against the loop reference


CASES = []
for _seed in range(120):
    _r = random.Random(_seed)
    CASES.append(
        (
            _seed,
            _r.choice([_r.randint(0, 40), _r.randint(0, 150), _r.randint(150, 300)]),
            _r.randint(1, 5),
            _kind := _r.choice(["float", "int", "dup"]),
            _r.choice([1, 3, 16, 128]),
            dict(
                method="hard" if _kind == "int" else _r.choice(["soft", "soft", "hard", "linear"]),
                class_agnostic=_r.random() < 0.3,
                iou_threshold=_r.choice([0.0, 0.1, 0.5, 1.0]),
                sigma=_r.choice([0.5, 0.1, 2.0]),
                voting_threshold=_r.choice([None, 0.0, 0.3, 0.75, 1.0]),
                min_score=_r.choice([0.0, 0.001, 0.05, 0.3]),
                max_segments=_r.choice([None, 1, 10, 50, 200]),
                pre_nms_topk=_r.choice([None, 30, 1000]),
            ),
        )
    )


@pytest.mark.parametrize("chunk", range(6))
def test_batched_nms_matches_loop_reference_on_random_inputs(chunk, monkeypatch):
    # Also shrink the parallel block so that rounds split the candidates in every way.
    for seed, n, num_classes, kind, block, kwargs in CASES[chunk::6]:
        monkeypatch.setattr(segments_module, "_NMS_BLOCK", block)
        segs, scores, labels = random_candidates(seed, n, num_classes, kind)
        assert_matches_loop(segs, scores, labels, **kwargs)


@pytest.mark.parametrize("class_agnostic", [False, True])
def test_batched_nms_matches_loop_reference_actionformer_defaults(class_agnostic):
    # One video's worth at ActionFormer's test settings: soft-NMS, sigma 0.5, min_score 0.001, keep 200, voting.
    segs, scores, labels = random_candidates(7, 600, 5)
    assert_matches_loop(
        segs,
        scores,
        labels,
        class_agnostic=class_agnostic,
        voting_threshold=0.75,
        sigma=0.5,
        min_score=0.001,
        max_segments=200,
    )


def test_float32_follows_float64():
    segs, scores, labels = random_candidates(3, 300, 4)
    s64, p64, l64 = batched_nms(segs, scores, labels, voting_threshold=0.7)
    s32, p32, l32 = batched_nms(segs.float(), scores.float(), labels.int(), voting_threshold=0.7)
    assert (s32.dtype, p32.dtype, l32.dtype) == (torch.float32, torch.float32, torch.int32)
    assert l32.tolist() == l64.tolist()
    torch.testing.assert_close(p32, p64.float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(s32, s64.float(), atol=1e-4, rtol=1e-5)
    # bf16 inputs are computed in float32 and returned in bf16.
    sb, pb, _ = batched_nms(segs.bfloat16(), scores.bfloat16(), labels)
    assert sb.dtype == pb.dtype == torch.bfloat16


# ---------------------------------------------------------------- NMS: edges and bad input


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_empty_inputs(dtype):
    out_segs, out_scores, out_labels = batched_nms(
        torch.zeros(0, 2, dtype=dtype), torch.zeros(0, dtype=dtype), torch.zeros(0, dtype=torch.long)
    )
    assert out_segs.shape == (0, 2) and out_scores.shape == (0,) and out_labels.shape == (0,)
    assert out_segs.dtype == out_scores.dtype == dtype and out_labels.dtype == torch.long
    # Everything below min_score: empty too.
    out_segs, out_scores, _ = batched_nms(
        torch.tensor([[0.0, 1.0]], dtype=dtype), torch.tensor([1e-4], dtype=dtype), torch.tensor([0])
    )
    assert out_segs.shape == (0, 2) and out_scores.shape == (0,)


def test_rejects_nan_scores_and_non_finite_segments():
    segs = torch.tensor([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    labels = torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"scores\[1\].*nan.*not finite"):
        batched_nms(segs, torch.tensor([0.5, float("nan"), 0.2]), labels)
    with pytest.raises(ValueError, match=r"scores\[2\].*not finite"):
        batched_nms(segs, torch.tensor([0.5, 0.3, float("inf")]), labels)
    bad = segs.clone()
    bad[2, 1] = float("inf")
    with pytest.raises(ValueError, match=r"segments\[2\].*not finite"):
        batched_nms(bad, torch.ones(3), labels)
    bad = segs.clone()
    bad[1] = torch.tensor([2.0, 1.0])
    with pytest.raises(ValueError, match=r"segments\[1\].*ends before it starts"):
        batched_nms(bad, torch.ones(3), labels)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="nms"), "method"),
        (dict(iou_threshold=1.5), "iou_threshold"),
        (dict(sigma=0.0), "sigma"),
        (dict(voting_threshold=-0.1), "voting_threshold"),
        (dict(min_score=float("nan")), "min_score"),
        (dict(min_score=-0.5), "min_score"),
        (dict(max_segments=0), "max_segments"),
        (dict(max_segments=2.5), "max_segments"),
        (dict(pre_nms_topk=0), "pre_nms_topk"),
    ],
)
def test_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        batched_nms(torch.tensor([[0.0, 1.0]]), torch.tensor([0.5]), torch.tensor([0]), **kwargs)


def test_rejects_bad_shapes_and_labels():
    with pytest.raises(ValueError, match="segments"):
        batched_nms(torch.zeros(3, 3), torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="scores"):
        batched_nms(torch.zeros(3, 2), torch.zeros(2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        batched_nms(torch.zeros(3, 2), torch.zeros(3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer class ids"):
        batched_nms(torch.zeros(3, 2), torch.zeros(3), torch.zeros(3))


def test_hard_nms_with_negative_scores_and_min_score():
    # Hard NMS never rescales, so logits (negative scores) work with a negative min_score.
    segs = torch.tensor([[0.0, 2.0], [0.0, 2.0], [5.0, 6.0]], dtype=torch.float64)
    scores = torch.tensor([-1.0, -0.5, -3.0], dtype=torch.float64)
    _, out, _ = batched_nms(segs, scores, torch.zeros(3, dtype=torch.long), method="hard", min_score=-2.0)
    assert out.tolist() == [-0.5]


def test_inputs_that_require_grad_and_lists():
    segs = torch.tensor([[0.0, 2.0], [1.0, 3.0]], requires_grad=True)
    scores = torch.tensor([0.9, 0.8], requires_grad=True)
    out_segs, out_scores, out_labels = batched_nms(segs, scores, torch.tensor([0, 0]))
    assert not out_segs.requires_grad and not out_scores.requires_grad
    from_lists = batched_nms([[0.0, 2.0], [1.0, 3.0]], [0.9, 0.8], [0, 0])
    torch.testing.assert_close(from_lists[1], out_scores)
    assert from_lists[1].tolist() == pytest.approx([0.9, 0.8 * math.exp(-((1 / 3) ** 2) / 0.5)])


def test_cpu_nms_runs_on_one_thread_and_restores_the_setting(monkeypatch):
    seen = []
    original = segments_module._greedy_nms

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(segments_module, "_greedy_nms", spy)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        segs, scores, labels = random_candidates(0, 50, 3)
        batched_nms(segs, scores, labels)
        assert seen == [1] and torch.get_num_threads() == 2
        with pytest.raises(ValueError):
            batched_nms(segs, torch.full_like(scores, float("nan")), labels)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
