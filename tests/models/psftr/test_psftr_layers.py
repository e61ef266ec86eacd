"""The layers PSFTR needs: 1-D deformable attention, 1-D RoI align and the Hungarian matcher, each against a
direct (looped) reference implementation written from its definition."""

import itertools
import math

import pytest
import torch

from momentzoo.layers.deformable_attention import DeformableAttention1d, deformable_attention_1d
from momentzoo.layers.matcher import HungarianSegmentMatcher, matching_cost_matrices
from momentzoo.layers.roi_align import roi_align_1d
from momentzoo.segments import center_width_to_start_end, segment_iou


# ------------------------------------------------------------------------------------ deformable attention
def _interpolate(seq: torch.Tensor, x: float) -> torch.Tensor:
    """Linear interpolation of a (T, D) sequence at continuous index x, zero outside (grid_sample's zeros)."""
    left = math.floor(x)
    out = torch.zeros(seq.shape[-1], dtype=seq.dtype)
    for i, w in ((left, 1 - (x - left)), (left + 1, x - left)):
        if 0 <= i < seq.shape[0]:
            out = out + w * seq[i]
    return out


def _loop_core(value, locations, weights):
    batch, _, heads, head_dim = value.shape
    _, queries, _, points = locations.shape
    out = torch.zeros(batch, queries, heads, head_dim, dtype=value.dtype)
    for b, q, h, p in itertools.product(range(batch), range(queries), range(heads), range(points)):
        out[b, q, h] += weights[b, q, h, p] * _interpolate(value[b, :, h], float(locations[b, q, h, p]))
    return out.reshape(batch, queries, heads * head_dim)


def test_core_matches_a_loop_reference_inside_and_outside_the_sequence():
    value = torch.randn(2, 7, 3, 4, dtype=torch.float64)
    locations = torch.empty(2, 5, 3, 4, dtype=torch.float64).uniform_(-2.5, 8.5)  # some fall outside [0, 6]
    locations[0, 0, 0] = torch.tensor([0.0, 6.0, -1.0, 7.0])  # exact borders
    weights = torch.rand(2, 5, 3, 4, dtype=torch.float64).softmax(-1)
    torch.testing.assert_close(
        deformable_attention_1d(value, locations, weights), _loop_core(value, locations, weights)
    )


def test_core_equals_dense_attention_when_points_cover_every_step():
    """With one sampling point on every step and the weights of softmax(q k^T / sqrt(d)), deformable attention is
    ordinary dense attention."""
    batch, length, heads, head_dim, queries = 2, 6, 2, 4, 3
    value = torch.randn(batch, length, heads, head_dim, dtype=torch.float64)
    q = torch.randn(batch, queries, heads, head_dim, dtype=torch.float64)
    k = torch.randn(batch, length, heads, head_dim, dtype=torch.float64)
    logits = torch.einsum("bqhd,bthd->bqht", q, k) / math.sqrt(head_dim)
    weights = logits.softmax(-1)  # (B, Lq, H, P=T)
    locations = torch.arange(length, dtype=torch.float64).expand(batch, queries, heads, length)
    dense = torch.einsum("bqht,bthd->bqhd", weights, value).reshape(batch, queries, heads * head_dim)
    torch.testing.assert_close(deformable_attention_1d(value, locations, weights), dense)


def _loop_module(module: DeformableAttention1d, query, reference, value_input, mask):
    """The module written out for one query at a time, from its docstring's formulas."""
    batch, queries, hidden = query.shape
    heads, points = module.num_heads, module.num_points
    head_dim = hidden // heads
    out = torch.zeros(batch, queries, hidden, dtype=query.dtype)
    for b in range(batch):
        length = int(mask[b].sum())
        value = module.value_proj(value_input[b, :length]).view(length, heads, head_dim)
        for q in range(queries):
            offsets = module.sampling_offsets(query[b, q]).view(heads, points)
            weights = module.attention_weights(query[b, q]).view(heads, points).softmax(-1)
            row = []
            for h in range(heads):
                acc = torch.zeros(head_dim, dtype=query.dtype)
                for p in range(points):
                    if reference.shape[-1] == 1:
                        x = reference[b, q, 0] + offsets[h, p] / length
                    else:
                        x = reference[b, q, 0] + offsets[h, p] / points * reference[b, q, 1] * 0.5
                    acc = acc + weights[h, p] * _interpolate(value[:, h], float(x * length - 0.5))
                row.append(acc)
            out[b, q] = module.output_proj(torch.cat(row))
    return out


@pytest.mark.parametrize("reference_kind", ["point", "segment"])
def test_module_matches_a_loop_reference_and_ignores_padding(reference_kind):
    torch.manual_seed(1)
    module = DeformableAttention1d(hidden_size=8, num_heads=2, num_points=3).double()
    with torch.no_grad():  # non-trivial offsets and weights
        module.sampling_offsets.weight.normal_(0, 1.0)
        module.attention_weights.weight.normal_(0, 1.0)
    query = torch.randn(2, 4, 8, dtype=torch.float64)
    value_input = torch.randn(2, 9, 8, dtype=torch.float64)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 6:] = False
    if reference_kind == "point":
        reference = torch.rand(2, 4, 1, dtype=torch.float64)
    else:
        reference = torch.stack((torch.rand(2, 4), torch.rand(2, 4) * 0.8 + 0.1), -1).double()
    with torch.no_grad():
        got = module(query, reference, value_input, mask)
        torch.testing.assert_close(got, _loop_module(module, query, reference, value_input, mask))
        # padding changes nothing: the second sequence alone, unpadded, gives the same output
        alone = module(query[1:], reference[1:], value_input[1:, :6], None)
    torch.testing.assert_close(got[1:], alone)


def test_initial_offsets_spread_heads_left_and_right():
    module = DeformableAttention1d(hidden_size=16, num_heads=4, num_points=2)
    grid = module.sampling_offsets.bias.view(4, 2)
    # head 0 looks right, head 1 left, head 2 right and twice as far...; point p at p + 1 times the reach
    assert torch.equal(grid, torch.tensor([[1.0, 2.0], [-1.0, -2.0], [2.0, 4.0], [-2.0, -4.0]]))
    assert torch.count_nonzero(module.sampling_offsets.weight) == 0


# -------------------------------------------------------------------------------------------- RoI align
def _loop_roi_align(features, rois, output_size, ratio, lengths):
    out = torch.zeros(len(rois), output_size, features.shape[-1], dtype=features.dtype)
    for n, (b, start, end) in enumerate(rois.tolist()):
        b, length = int(b), int(lengths[int(b)])
        bin_size = (end - start) / output_size
        for i in range(output_size):
            acc = torch.zeros(features.shape[-1], dtype=features.dtype)
            for s in range(ratio):
                x = start + i * bin_size + (s + 0.5) * bin_size / ratio
                if x < -1.0 or x > length:
                    continue  # torchvision: 0 beyond one step outside
                x = min(max(x, 0.0), length - 1)
                lo = int(math.floor(x))
                hi = min(lo + 1, length - 1)
                acc = acc + (1 - (x - lo)) * features[b, lo] + (x - lo) * features[b, hi]
            out[n, i] = acc / ratio
    return out


def test_roi_align_matches_a_loop_reference():
    features = torch.randn(2, 10, 3, dtype=torch.float64)
    lengths = torch.tensor([10, 7])
    rois = torch.tensor(
        [[0, 1.2, 6.7], [1, -0.8, 3.1], [1, 4.0, 7.6], [0, 8.5, 10.4], [0, 3.0, 3.0], [1, -3.0, -1.5]],
        dtype=torch.float64,
    )
    got = roi_align_1d(features, rois, output_size=4, sampling_ratio=3, lengths=lengths)
    torch.testing.assert_close(got, _loop_roi_align(features, rois, 4, 3, lengths))
    assert got[-1].abs().max() == 0  # a segment entirely before the sequence reads zeros
    # the padded second sequence gives what it gives alone
    alone = roi_align_1d(features[1:, :7], rois[1:3] - torch.tensor([1.0, 0, 0], dtype=torch.float64), 4, 3)
    torch.testing.assert_close(got[1:3], alone)


def test_roi_align_of_a_constant_region_is_that_constant_and_bad_rois_are_named():
    features = torch.zeros(1, 8, 2)
    features[0, 2:6] = torch.tensor([3.0, -1.0])
    out = roi_align_1d(features, torch.tensor([[0, 2.0, 5.0]]), output_size=16, sampling_ratio=2)
    torch.testing.assert_close(out, torch.tensor([3.0, -1.0]).expand(1, 16, 2))
    with pytest.raises(ValueError, match=r"rois\[0\] ends before it starts"):
        roi_align_1d(features, torch.tensor([[0, 5.0, 2.0]]))
    with pytest.raises(ValueError, match="batch indices"):
        roi_align_1d(features, torch.tensor([[1, 1.0, 2.0]]))


# ----------------------------------------------------------------------------------------------- matcher
def _brute_force(cost: torch.Tensor) -> float:
    queries, targets = cost.shape
    best = math.inf
    for chosen in itertools.permutations(range(queries), targets):
        best = min(best, sum(float(cost[q, t]) for t, q in enumerate(chosen)))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_matcher_finds_the_brute_force_optimum(seed):
    generator = torch.Generator().manual_seed(seed)
    batch, queries, classes = 3, 5, 4
    probs = torch.rand(batch, queries, classes, generator=generator).softmax(-1)
    preds = torch.stack(
        (torch.rand(batch, queries, generator=generator), torch.rand(batch, queries, generator=generator) * 0.5 + 0.05),
        -1,
    )
    targets = []
    for n in (3, 0, 5):  # fewer targets than queries, none, as many as queries
        targets.append(
            {
                "class_labels": torch.randint(0, classes, (n,), generator=generator),
                "segments": torch.stack(
                    (torch.rand(n, generator=generator), torch.rand(n, generator=generator) * 0.4 + 0.05), -1
                ),
            }
        )
    matcher = HungarianSegmentMatcher(class_cost=2.0, l1_cost=5.0, iou_cost=2.0)
    matches = matcher(probs, preds, targets)
    for b, (rows, cols) in enumerate(matches):
        n = len(targets[b]["class_labels"])
        assert len(rows) == len(cols) == min(queries, n)
        assert len(set(rows.tolist())) == len(rows) and sorted(cols.tolist()) == list(range(n))
        # the cost, written out from the definition
        cost = torch.zeros(queries, n)
        for q, t in itertools.product(range(queries), range(n)):
            p, g = preds[b, q], targets[b]["segments"][t]
            iou = segment_iou(center_width_to_start_end(p[None]), center_width_to_start_end(g[None]))[0, 0]
            cost[q, t] = -2.0 * probs[b, q, targets[b]["class_labels"][t]] + 5.0 * (p - g).abs().sum() + 2.0 * (1 - iou)
        torch.testing.assert_close(matching_cost_matrices(probs, preds, targets)[b], cost)
        if n:
            assert sum(float(cost[q, t]) for q, t in zip(rows, cols)) == pytest.approx(_brute_force(cost), abs=1e-5)


def test_matcher_rejects_bad_input():
    with pytest.raises(ValueError, match="must be >= 0"):
        HungarianSegmentMatcher(class_cost=-1.0)
    matcher = HungarianSegmentMatcher()
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 2\)"):
        matcher(
            torch.rand(1, 3, 2),
            torch.rand(1, 3, 2),
            [{"class_labels": torch.tensor([2]), "segments": torch.tensor([[0.5, 0.2]])}],
        )
