"""Qwen2.5-VL video inputs without torchvision (`momentzoo.data.qwen2_5_vl_video`)."""

import math

import numpy as np
import pytest
import torch
from torch_threads import one_torch_thread  # noqa: F401  (fixture)

from momentzoo.data.qwen2_5_vl_video import (
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    Qwen2_5_VLVideoChatProcessor,
    Qwen2_5_VLVideoProcessor,
    VideoClip,
    smart_resize,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    from momentzoo.testing import tiny_qwen2_5_vl

    model, tokenizer = tiny_qwen2_5_vl()
    return model, tokenizer


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory):
    from momentzoo.data import make_synthetic_video_dataset

    rows = make_synthetic_video_dataset(
        tmp_path_factory.mktemp("videos"), num_videos=1, size=64, fps=12, min_duration=8.0, max_duration=8.0, gop=6
    )
    return rows[0]["video"]["path"], float(rows[0]["duration"])


def _frames(t=6, h=56, w=84, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def test_smart_resize_matches_transformers():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as reference

    rng = np.random.default_rng(0)
    for _ in range(300):
        h, w = (int(x) for x in rng.integers(20, 2000, size=2))
        low = int(rng.integers(1, 64)) * 28 * 28
        high = low + int(rng.integers(0, 2000)) * 28 * 28
        assert smart_resize(h, w, 28, low, high) == reference(h, w, 28, low, high)
        rh, rw = smart_resize(h, w, 28, low, high)
        assert rh % 28 == 0 and rw % 28 == 0


def test_patch_layout_and_normalisation_equal_the_stock_image_processor():
    # A still image is a 2-frame video in Qwen2-VL: the PIL image processor (no torchvision) tiles it over the
    # temporal patch, so a video of two identical frames must give exactly its pixel_values and grid.
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    image = _frames(1, 56, 84)[0]  # multiples of 28 within the budget: no resize on either side
    stock = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=56 * 84)(
        images=Image.fromarray(image), return_tensors="pt"
    )
    ours = Qwen2_5_VLVideoProcessor(min_pixels=28 * 28, max_pixels=56 * 84, total_pixels=None).preprocess(
        np.stack([image, image]), fps=2.0
    )
    assert ours["video_grid_thw"].tolist() == stock["image_grid_thw"].tolist() == [[1, 4, 6]]
    torch.testing.assert_close(ours["pixel_values_videos"], stock["pixel_values"].float(), atol=1e-5, rtol=1e-5)


def test_patch_order_by_hand():
    # One frame pair of 28x28 = a 2x2 grid of 14-pixel patches; rows are (merge_h, merge_w) inside the merge
    # window, each row is channel-major (C, t, 14, 14).
    frames = _frames(2, 28, 28)
    proc = Qwen2_5_VLVideoProcessor(min_pixels=28 * 28, max_pixels=28 * 28, total_pixels=None)
    out = proc.preprocess(frames, fps=2.0)["pixel_values_videos"]
    mean = torch.tensor(OPENAI_CLIP_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(OPENAI_CLIP_STD).view(1, 3, 1, 1) * 255
    norm = (torch.from_numpy(frames).permute(0, 3, 1, 2).float() - mean) / std  # (2, 3, 28, 28)
    for row, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        patch = norm[:, :, 14 * i : 14 * i + 14, 14 * j : 14 * j + 14].permute(1, 0, 2, 3).reshape(-1)
        torch.testing.assert_close(out[row], patch)


def test_odd_frame_count_repeats_the_last_frame():
    proc = Qwen2_5_VLVideoProcessor(min_pixels=28 * 28, total_pixels=64 * 28 * 28)
    frames = _frames(5)
    odd = proc.preprocess(frames, fps=2.0)
    padded = proc.preprocess(np.concatenate([frames, frames[-1:]]), fps=2.0)
    assert odd["video_grid_thw"].tolist() == padded["video_grid_thw"].tolist()
    assert odd["video_grid_thw"][0, 0] == 3
    torch.testing.assert_close(odd["pixel_values_videos"], padded["pixel_values_videos"])
    assert odd["second_per_grid_ts"].tolist() == [1.0]  # temporal patch 2 / 2 fps


def test_pixel_budget_and_frame_counts_follow_the_paper():
    proc = Qwen2_5_VLVideoProcessor()  # 2 fps, 16*28*28 .. 768*28*28 per frame, 3584*28*28 per video
    assert proc.num_frames(50.0) == 100 and proc.num_frames(0.4) == proc.min_frames == 4
    assert proc.num_frames(10_000.0) == proc.max_frames == 768
    # A 50 s 480x360 video: 100 frames share 3584 * 28^2 * 2 pixels, so at most 3584 video tokens.
    grid = proc.grid_thw(100, 360, 480)
    tokens = proc.num_video_tokens(torch.tensor([grid]))[0]
    assert grid == (50, 14, 18) and tokens == 50 * 14 * 18 // 4 == 3150 <= 3584  # frames of 196 x 252
    cap = proc.frame_pixel_cap(100)
    assert cap == int(3584 * 28 * 28 * 2 / 100)
    h, w = proc.frame_size(360, 480, 100)
    assert h * w <= cap and abs(w / h - 480 / 360) < 0.1
    # A short video keeps the per-frame maximum, a very long one the per-frame floor.
    assert proc.frame_size(360, 480, 4) == smart_resize(360, 480, 28, proc.min_pixels, proc.max_pixels)
    assert proc.frame_pixel_cap(768) == max(int(3584 * 28 * 28 * 2 / 768), int(16 * 28 * 28 * 1.05))


def test_read_clip_cuts_a_time_range(synthetic_video):
    path, duration = synthetic_video
    proc = Qwen2_5_VLVideoProcessor(min_pixels=28 * 28, total_pixels=64 * 28 * 28)
    clip = proc.read_clip(path, 2.0, 5.0)
    assert (clip.start, clip.end) == (2.0, 5.0) and len(clip.frames) == 6 and clip.fps == pytest.approx(2.0)
    whole = proc.read_clip(path)
    assert len(whole.frames) == round(duration * 2) and whole.end == pytest.approx(duration)
    # A 1 s clip would give 2 frames: the minimum of 4 raises the sampling rate instead.
    short = proc.read_clip(path, 3.0, 4.0)
    assert len(short.frames) == 4 and short.fps == pytest.approx(4.0)
    inputs = proc.preprocess(short.frames, short.fps)
    assert inputs["second_per_grid_ts"].item() == pytest.approx(0.5)
    # The frames of a cut equal the frames at the same times in the whole video.
    np.testing.assert_array_equal(clip.frames.numpy(), whole.frames[4:10].numpy())
    with pytest.raises(ValueError, match="invalid clip"):
        proc.read_clip(path, 6.0, 5.0)
    with pytest.raises(ValueError, match="not found"):
        proc.read_clip(path + ".missing")


def test_bad_frames_are_rejected():
    proc = Qwen2_5_VLVideoProcessor()
    with pytest.raises(ValueError, match="uint8"):
        proc.preprocess(_frames().astype(np.float32), fps=2.0)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        proc.preprocess(_frames()[..., :2], fps=2.0)
    with pytest.raises(ValueError, match="fps"):
        proc.preprocess(_frames(), fps=0)
    with pytest.raises(ValueError, match="min_pixels"):
        Qwen2_5_VLVideoProcessor(min_pixels=2000, max_pixels=1000)
    with pytest.raises(ValueError, match="fps"):
        Qwen2_5_VLVideoProcessor(fps=-1)


def test_save_and_load(tmp_path):
    proc = Qwen2_5_VLVideoProcessor(fps=1.0, total_pixels=100 * 28 * 28)
    proc.save_pretrained(tmp_path)
    assert Qwen2_5_VLVideoProcessor.from_pretrained(tmp_path).to_dict() == proc.to_dict()
    (tmp_path / "momentzoo_video_processor.json").write_text('{"fps": 1.0, "colour": 3}')
    with pytest.raises(ValueError, match="unknown setting"):
        Qwen2_5_VLVideoProcessor.from_pretrained(tmp_path)


def test_video_tokens_equal_vision_features_in_forward_and_generate(tiny):
    model, tokenizer = tiny
    proc = Qwen2_5_VLVideoChatProcessor(
        tokenizer,
        Qwen2_5_VLVideoProcessor.from_model_config(model.config, min_pixels=28 * 28, total_pixels=48 * 28 * 28),
    )
    text = proc.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "find the door"}]}]
    )
    videos = [VideoClip(_frames(7, 60, 80, seed=1), fps=2.0), (_frames(4, 90, 40, seed=2), 1.0)]
    batch = proc([text, text], videos)
    grid = batch["video_grid_thw"]
    expected = (grid.prod(-1) // model.config.vision_config.spatial_merge_size**2).tolist()
    video_id = model.config.video_token_id
    assert ((batch["input_ids"] == video_id).sum(1)).tolist() == expected
    assert torch.equal(batch["mm_token_type_ids"] == 2, batch["input_ids"] == video_id)
    assert batch["attention_mask"][:, 0].tolist().count(0) == 1  # left padding of the shorter prompt
    assert batch["second_per_grid_ts"].tolist() == [1.0, 2.0]

    seen = []
    hook = model.model.visual.register_forward_hook(lambda m, i, o: seen.append(o.pooler_output.shape[0]))
    try:
        with torch.no_grad():
            logits = model(**batch).logits
            generated = model.generate(**batch, max_new_tokens=4, do_sample=False)
    finally:
        hook.remove()
    assert logits.shape[:2] == batch["input_ids"].shape and torch.isfinite(logits).all()
    assert generated.shape == (2, batch["input_ids"].shape[1] + 4)
    assert seen == [sum(expected), sum(expected)]  # the forward and the prefill of generate

    # The 3-D rotary positions follow the video grid: with mm_token_type_ids the video block spans fewer
    # positions than tokens (t * h * w tokens on a (t, h, w) grid); without it, transformers counts 1-D.
    positions, _ = model.model.get_rope_index(
        batch["input_ids"],
        batch["mm_token_type_ids"],
        video_grid_thw=grid,
        second_per_grid_ts=batch["second_per_grid_ts"],
        attention_mask=batch["attention_mask"],
    )
    row = batch["input_ids"][0] == video_id
    assert positions[1, 0][row].max() - positions[1, 0][row].min() == grid[0, 1] // 2 - 1


def test_placeholder_count_must_match(tiny):
    _, tokenizer = tiny
    proc = Qwen2_5_VLVideoChatProcessor(tokenizer)
    with pytest.raises(ValueError, match="placeholders but 0 videos"):
        proc(["<|video_pad|> hi"], [])
    with pytest.raises(ValueError, match="placeholders but 2 videos"):
        proc(["<|video_pad|> hi"], [(_frames(), 2.0), (_frames(), 2.0)])


def test_equals_the_stock_video_processor_where_torchvision_loads():
    try:
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    except Exception as error:  # torchvision missing or CUDA-linked (STACK.md): the stock processor cannot load
        pytest.skip(f"the stock Qwen2-VL video processor needs torchvision: {type(error).__name__}: {error}")
    frames = _frames(9, 120, 170, seed=3)
    ours = Qwen2_5_VLVideoProcessor(min_pixels=28 * 28, total_pixels=40 * 28 * 28)
    cap = ours.frame_pixel_cap(len(frames))
    stock = Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=cap, do_sample_frames=False)
    expected = stock(
        videos=[torch.from_numpy(frames).permute(0, 3, 1, 2)], return_tensors="pt", cap_pixels_per_frame=False
    )
    got = ours.preprocess(frames, fps=2.0)
    assert got["video_grid_thw"].tolist() == expected["video_grid_thw"].tolist()
    diff = (got["pixel_values_videos"] - expected["pixel_values_videos"]).abs()
    # Equal up to one uint8 level where bicubic rounding differs by a hair.
    assert diff.max() <= 1.0 / (255 * min(OPENAI_CLIP_STD)) + 1e-5 and diff.mean() < 1e-3
    assert math.isclose(got["second_per_grid_ts"].item(), 1.0)
