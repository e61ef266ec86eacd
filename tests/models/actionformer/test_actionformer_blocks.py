"""The shared layers ActionFormer is built from: local attention against a dense reference, masked convolution
against nn.Conv1d, padding invariance of the transformer block, FPN, heads, and the focal / DIoU losses against
their formulas on hand-checked numbers."""

import math

import pytest
import torch
import torch.nn.functional as F
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)
from torch import nn

from momentzoo.layers.losses import offset_diou_loss, offset_iou_loss, sigmoid_focal_loss
from momentzoo.layers.masked_conv import MaskedConv1d, apply_mask, downsample_mask
from momentzoo.models.actionformer.modeling_actionformer import (
    ActionFormerAffineDropPath,
    ActionFormerClassificationHead,
    ActionFormerIdentityFPN,
    ActionFormerLocalAttention,
    ActionFormerRegressionHead,
    ActionFormerScale,
    ActionFormerTransformerBlock,
    drop_path,
    local_masked_attention,
    prior_bias,
)


def padded_mask(lengths, total):
    return torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]


# --------------------------------------------------------------------------------------------- attention
def dense_local_attention(q, k, v, key_mask, window):
    """Reference: full (T, T) scores, masked to |i - j| <= window // 2 and real keys."""
    t = torch.arange(q.shape[2])
    allowed = ((t[:, None] - t[None, :]).abs() <= window // 2)[None, None] & key_mask[:, None, None, :]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    probs = torch.nan_to_num(scores.masked_fill(~allowed, float("-inf")).softmax(-1))  # empty rows -> 0
    return probs @ v


@pytest.mark.parametrize("length", [1, 6, 37, 100])
@pytest.mark.parametrize("window", [3, 9])
@pytest.mark.parametrize("block_size", [1, 5, 32])
def test_local_attention_equals_dense_masked_attention(length, window, block_size):
    generator = torch.Generator().manual_seed(length * 100 + window)
    q, k, v = (torch.randn(2, 3, length, 8, generator=generator, requires_grad=True) for _ in range(3))
    key_mask = padded_mask([length, max(1, length * 2 // 3)], length)
    out = local_masked_attention(q, k, v, key_mask, window, block_size=block_size)
    reference = dense_local_attention(q, k, v, key_mask, window)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    reference_grads = torch.autograd.grad(reference.square().sum(), (q, k, v))
    for g, r in zip(grads, reference_grads):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)


def test_local_attention_window_is_local():
    # Changing a value far outside every window of query 0 does not change query 0's output.
    q, k, v = (torch.randn(1, 1, 50, 4) for _ in range(3))
    mask = torch.ones(1, 50, dtype=torch.bool)
    before = local_masked_attention(q, k, v, mask, 19)
    v[0, 0, 10] += 100.0  # |0 - 10| > 9
    after = local_masked_attention(q, k, v, mask, 19)
    assert torch.equal(before[0, 0, 0], after[0, 0, 0]) and not torch.equal(before[0, 0, 5], after[0, 0, 5])


def test_local_attention_rejects_bad_arguments():
    x = torch.randn(1, 1, 5, 4)
    with pytest.raises(ValueError, match="window_size must be a positive odd integer"):
        local_masked_attention(x, x, x, torch.ones(1, 5, dtype=torch.bool), 4)
    with pytest.raises(ValueError, match="key_mask must be"):
        local_masked_attention(x, x, x, torch.ones(1, 4, dtype=torch.bool), 3)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        ActionFormerLocalAttention(10, 3, 5)


# ------------------------------------------------------------------------------------------ masked conv
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("stride, groups, kernel", [(1, 1, 3), (2, 1, 3), (1, 8, 3), (2, 8, 3), (1, 1, 1), (4, 8, 5)])
def test_masked_conv_equals_conv1d_on_unpadded_input(grad, stride, groups, kernel):
    torch.manual_seed(0)
    conv = MaskedConv1d(8, 16, kernel, stride=stride, groups=groups)
    reference = nn.Conv1d(8, 16, kernel, stride=stride, padding=kernel // 2, groups=groups)
    reference.load_state_dict(conv.state_dict())
    x = torch.randn(2, 13, 8)
    with torch.set_grad_enabled(grad):
        out, mask = conv(x, None)
        expected = reference(x.transpose(1, 2)).transpose(1, 2)
    assert mask is None and out.shape == (2, math.ceil(13 / stride), 16)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_masked_conv_zeroes_padding_on_both_sides():
    torch.manual_seed(0)
    conv = MaskedConv1d(4, 4, 3, stride=2)
    x = torch.randn(2, 9, 4)
    mask = padded_mask([9, 5], 9)
    garbage = x.clone()
    garbage[1, 5:] = 1e6  # what a previous op left at padded steps must not leak into real ones
    out, out_mask = conv(garbage, mask)
    assert out_mask.tolist() == downsample_mask(mask, 2).tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert torch.all(out[1, 3:] == 0)
    alone, _ = conv(x[1:, :5], None)
    torch.testing.assert_close(out[1, :3], alone[0])
    assert apply_mask(x, None) is x
    with pytest.raises(ValueError, match="odd"):
        MaskedConv1d(4, 4, 2)
    with pytest.raises(ValueError, match=r"expects \(batch, time, 4\)"):
        conv(torch.randn(2, 4, 9).transpose(1, 2).transpose(1, 2)[:, :, :3], None)


# ---------------------------------------------------------------------------------------- transformer block
@pytest.mark.parametrize("stride", [1, 2])
def test_transformer_block_padding_invariance(stride):
    torch.manual_seed(0)
    block = ActionFormerTransformerBlock(16, 2, window_size=5, stride=stride, layer_scale_init_value=0.5).eval()
    lengths = [12, 7]  # odd length: the last real pooling window of video 1 reaches a padded step
    x = torch.randn(2, 12, 16)  # signed values: a max-pool that counted padding as 0 would show
    mask = padded_mask(lengths, 12)
    x = x.masked_fill(~mask[..., None], 3.0)  # non-zero garbage at padded steps
    with torch.no_grad():
        out, out_mask = block(x, mask)
        for i, length in enumerate(lengths):
            alone, none_mask = block(x[i : i + 1, :length], None)
            real = math.ceil(length / stride)
            assert none_mask is None and alone.shape[1] == real
            torch.testing.assert_close(out[i, :real], alone[0], atol=1e-5, rtol=1e-5)
            assert torch.all(out[i, real:] == 0)
    assert out_mask.sum(1).tolist() == [math.ceil(n / stride) for n in lengths]


def test_transformer_block_residual_structure():
    # With zero layer scale both residual branches vanish: the block is its skip path (identity or max-pool).
    block = ActionFormerTransformerBlock(8, 2, window_size=3, stride=2, layer_scale_init_value=1e-4).eval()
    nn.init.zeros_(block.drop_path_attn.scale)
    nn.init.zeros_(block.drop_path_mlp.scale)
    x = torch.randn(1, 7, 8)
    out, _ = block(x)
    torch.testing.assert_close(out, F.max_pool1d(x.transpose(1, 2), 3, 2, 1).transpose(1, 2))


def test_drop_path_and_layer_scale():
    x = torch.ones(1000, 3, 2)
    assert drop_path(x, 0.3, training=False) is x
    dropped = drop_path(x, 0.3, training=True)
    per_sample = dropped.flatten(1)
    # each sample is dropped whole or kept and rescaled by 1 / keep
    assert torch.all((per_sample == 0).all(1) | torch.isclose(per_sample, torch.tensor(1 / 0.7)).all(1))
    assert 0.2 < float((per_sample[:, 0] == 0).float().mean()) < 0.4
    layer = ActionFormerAffineDropPath(2, drop_prob=0.0, init_value=1e-4)
    torch.testing.assert_close(layer(x), x * 1e-4)
    assert ActionFormerAffineDropPath(2, init_value=None).scale is None


def test_block_gradient_checkpointing_flag():
    block = ActionFormerTransformerBlock(8, 2, window_size=3).train()
    x = torch.randn(1, 9, 8, requires_grad=True)
    reference = torch.autograd.grad(block(x)[0].sum(), x)[0]
    block.gradient_checkpointing = True
    calls = []

    def checkpoint(function, *args):
        calls.append(function)
        return torch.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)

    block._gradient_checkpointing_func = checkpoint
    torch.testing.assert_close(torch.autograd.grad(block(x)[0].sum(), x)[0], reference)
    assert len(calls) == 1  # the block went through the checkpoint function


# --------------------------------------------------------------------------------------------- FPN, heads
def test_identity_fpn_normalises_each_level_and_keeps_padding_zero():
    fpn = ActionFormerIdentityFPN(2, 4)
    features = [torch.randn(1, 6, 4) * 5 + 2, torch.randn(1, 3, 4)]
    masks = [padded_mask([4], 6), padded_mask([2], 3)]
    out, out_masks = fpn(features, masks)
    assert out_masks == masks
    torch.testing.assert_close(out[0][0, :4].mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    assert torch.all(out[0][0, 4:] == 0) and torch.all(out[1][0, 2:] == 0)
    with pytest.raises(ValueError, match="expects 2 levels"):
        fpn(features[:1], masks[:1])


def test_classification_head_prior_and_shapes():
    head = ActionFormerClassificationHead(8, 8, num_classes=3, prior_prob=0.01, empty_classes=(2,))
    assert prior_bias(0.01) == pytest.approx(-math.log(99))
    torch.testing.assert_close(torch.sigmoid(head.classifier.bias), torch.tensor([0.01, 0.01, 1e-6]))
    logits = head([torch.randn(2, 5, 8), torch.randn(2, 3, 8)], [None, padded_mask([3, 1], 3)])
    assert [tuple(x.shape) for x in logits] == [(2, 5, 3), (2, 3, 3)]
    assert torch.all(logits[1][1, 1:] == 0)
    with pytest.raises(ValueError, match="prior_prob"):
        prior_bias(1.0)


def test_regression_head_is_non_negative_with_a_scale_per_level():
    torch.manual_seed(0)
    head = ActionFormerRegressionHead(8, 8, num_levels=2)
    features = [torch.randn(1, 6, 8), torch.randn(1, 3, 8)]
    before = head(features, [None, None])
    assert all(x.shape[-1] == 2 and torch.all(x >= 0) for x in before)
    with torch.no_grad():
        head.scales[1].scale.fill_(2.0)
    after = head(features, [None, None])
    assert torch.equal(after[0], before[0])
    torch.testing.assert_close(after[1], 2 * before[1])
    scale = ActionFormerScale()
    assert scale(torch.tensor(4.0)).item() == 4.0  # starts at 1
    with torch.no_grad():
        scale.scale.fill_(0.5)
    assert scale(torch.tensor(4.0)).item() == 2.0
    with pytest.raises(ValueError, match="has 2 levels"):
        head(features[:1], [None])


# ----------------------------------------------------------------------------------------------------- losses
def test_sigmoid_focal_loss_matches_the_formula():
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    expected = []
    for x, y in zip(logits.tolist(), targets.tolist()):
        p = 1 / (1 + math.exp(-x))
        # -alpha (1 - p)^gamma log p for positives, -(1 - alpha) p^gamma log(1 - p) for negatives
        expected.append(-0.25 * (1 - p) ** 2 * math.log(p) if y == 1 else -0.75 * p**2 * math.log(1 - p))
    out = sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0)
    torch.testing.assert_close(out, torch.tensor(expected))
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, reduction="sum"), torch.tensor(sum(expected)))
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, reduction="mean"), torch.tensor(sum(expected) / 4))
    # alpha < 0 and gamma 0: plain binary cross-entropy
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, targets, alpha=-1, gamma=0.0),
        F.binary_cross_entropy_with_logits(logits, targets, reduction="none"),
    )
    assert sigmoid_focal_loss(logits.bfloat16(), targets).dtype == torch.float32
    with pytest.raises(ValueError, match="same shape"):
        sigmoid_focal_loss(logits, targets[:2])
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(logits, targets, reduction="max")


def test_diou_loss_matches_hand_computed_values():
    # Shared anchor at 0. pred (1, 3) = [-1, 3], target (2, 2) = [-2, 2]: intersection 3, union 5 -> IoU 0.6;
    # centres 1 and 0, enclosing [-2, 3] of length 5 -> penalty (1 / 5)^2 = 0.04; loss 1 - 0.6 + 0.04 = 0.44.
    # pred (0.5, 0.5) = [-0.5, 0.5] inside target (1, 3) = [-1, 3]: IoU 1 / 4, centres 0 and 1, enclosing 4:
    # loss 1 - 0.25 + (1 / 4)^2 = 0.8125. Identical segments: 0.
    pred = torch.tensor([[1.0, 3.0], [0.5, 0.5], [2.0, 1.0]])
    target = torch.tensor([[2.0, 2.0], [1.0, 3.0], [2.0, 1.0]])
    torch.testing.assert_close(offset_diou_loss(pred, target), torch.tensor([0.44, 0.8125, 0.0]))
    torch.testing.assert_close(offset_iou_loss(pred, target), torch.tensor([0.4, 0.75, 0.0]))
    torch.testing.assert_close(offset_diou_loss(pred, target, reduction="sum"), torch.tensor(1.2525))
    empty = torch.zeros(0, 2, requires_grad=True)
    loss = offset_diou_loss(empty, torch.zeros(0, 2), reduction="mean")
    assert loss.item() == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        offset_diou_loss(torch.zeros(3), torch.zeros(3))
