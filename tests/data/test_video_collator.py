"""`TemporalVideoCollator`: synthetic mp4s into the pixel_values of an ActionVLM with a tiny VideoMAE, and one
training step through the model from the frames themselves."""

import json
import math

import numpy as np
import pytest
import torch

from momentzoo.data import FramePreprocessor, TemporalVideoCollator, make_synthetic_video_dataset, read_video_frames
from momentzoo.data.feature_extraction import _processor_class_defaults
from momentzoo.segments import seconds_to_feature_grid
from momentzoo.testing import tiny_qwen2, tiny_videomae
from momentzoo.testing.actionvlm import TINY_ACTIONVLM_HEAD

FPS = 8  # the synthetic videos' own rate: every frame is sampled
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rows = make_synthetic_video_dataset(
        folder,
        num_videos=3,
        seed=0,
        size=32,
        fps=FPS,
        min_duration=8,
        max_duration=10,
        classes=["square_moves_right", "square_moves_left", "square_grows"],
    )
    return folder, [dict(row, video=row["video"]["path"]) for row in rows]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization

    root = tmp_path_factory.mktemp("backbones")
    torch.manual_seed(0)
    tiny_videomae(image_size=32, num_frames=4, hidden_size=32).save_pretrained(root / "videomae")
    # as MCG-NJU's VideoMAE checkpoints: ImageNet statistics, not the image processor class's 0.5 defaults
    (root / "videomae" / "preprocessor_config.json").write_text(
        json.dumps(
            {"image_processor_type": "VideoMAEImageProcessor", "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}
        )
    )
    lm, tokenizer = tiny_qwen2(hidden_size=32, num_layers=2)
    lm.save_pretrained(root / "qwen2")
    tokenizer.save_pretrained(root / "qwen2")
    return ActionVLMForTemporalLocalization.from_backbones(
        root / "qwen2",
        root / "videomae",
        tokenizer=root / "qwen2",
        num_classes=3,
        vision_tuning="adapter",
        **TINY_ACTIONVLM_HEAD,
    )


def _frames(path, **kwargs):
    return read_video_frames(path, fps=FPS, size=32, **kwargs).frames


def test_whole_videos_in_evaluation(model, videos):
    _, rows = videos
    collator = TemporalVideoCollator.from_model(model, fps=FPS, training=False, return_metadata=True)
    assert (collator.clip_length, collator.feature_stride, collator.num_frames) == (4, 2, 2)
    batch = collator(rows[:2])
    assert set(batch) == {"pixel_values", "attention_mask", "labels", "metadata"}
    counts = [math.ceil(row["duration"] * FPS - 1e-9) for row in rows[:2]]
    frames = batch["pixel_values"].shape[1]
    assert batch["pixel_values"].shape == (2, frames, 3, 32, 32) and frames % 4 == 0 and frames >= max(counts)
    assert batch["attention_mask"].sum(1).tolist() == counts
    preprocessor = FramePreprocessor.for_model(model)
    for b, row in enumerate(rows[:2]):
        expected = preprocessor(list(_frames(row["video"])))
        torch.testing.assert_close(batch["pixel_values"][b, : counts[b]], expected, rtol=0, atol=0)
        assert (batch["pixel_values"][b, counts[b] :] == 0).all()
        # ground truth in tokens of 2 frames, on ActionFormer's grid
        grid = seconds_to_feature_grid(np.asarray(row["segments"]), FPS, 2, 2)
        torch.testing.assert_close(batch["labels"][b]["segments"], torch.tensor(grid, dtype=torch.float32))
        assert batch["labels"][b]["class_labels"].tolist() == list(row["labels"])
        assert batch["metadata"][b] == {
            "video_id": row["video_id"],
            "duration": row["duration"],
            "fps": FPS,
            "feature_stride": 2,
            "num_frames": 2,
            "window_start": 0,
            "segments_clipped": 0,
            "segments_dropped": 0,
        }
    # the crop is the encoder's; the statistics its checkpoint's, kept in the model's config by from_backbones
    assert preprocessor.image_size == 32
    assert (model.config.image_mean, model.config.image_std) == (IMAGENET_MEAN, IMAGENET_STD)
    assert (preprocessor.image_mean, preprocessor.image_std) == (IMAGENET_MEAN, IMAGENET_STD)
    assert _processor_class_defaults("videomae")["image_mean"] != IMAGENET_MEAN  # what would have been used
    assert FramePreprocessor.for_model(model, image_mean=[0.5] * 3).image_mean == [0.5] * 3  # an explicit choice wins


def test_training_decodes_only_a_random_window_of_whole_tokens(model, videos):
    _, rows = videos
    collator = TemporalVideoCollator.from_model(
        model, fps=FPS, max_frames=24, return_metadata=True, generator=torch.Generator().manual_seed(0)
    )
    preprocessor = collator.preprocessor
    starts = set()
    for _ in range(3):
        batch = collator(rows)
        assert batch["pixel_values"].shape[1] == 24
        for b, row in enumerate(rows):
            start = batch["metadata"][b]["window_start"]
            starts.add(start)
            n = int(batch["attention_mask"][b].sum())
            assert n == 24  # the videos are longer than a window
            # the window's frames are those of the whole video from frame 2 * start (a seek, then decoding)
            whole = _frames(row["video"])
            torch.testing.assert_close(
                batch["pixel_values"][b, :n], preprocessor(list(whole[2 * start : 2 * start + n])), rtol=0, atol=0
            )
            segments = batch["labels"][b]["segments"]
            assert len(segments) >= 1 and (segments >= 0).all() and (segments <= 12).all()
            grid = seconds_to_feature_grid(np.asarray(row["segments"]), FPS, 2, 2) - start
            inside = [s for s in grid.tolist() if s[1] > 0 and s[0] < 12]
            assert len(segments) <= len(inside)
    assert len(starts) > 1


def test_a_training_step_from_the_frames_and_predictions_in_seconds(model, videos):
    _, rows = videos
    collator = TemporalVideoCollator.from_model(
        model, fps=FPS, max_frames=32, return_metadata=True, generator=torch.Generator().manual_seed(1)
    )
    batch = collator(rows[:2])
    metadata = batch.pop("metadata")
    model.train()
    model.zero_grad()
    out = model(**batch, use_language=False)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.temporal_adapters[0].up.weight.grad.abs().sum() > 0  # the encoder's adapters learn from pixels
    model.eval()
    with torch.no_grad():
        predictions = model.post_process(
            model(**{k: v for k, v in batch.items() if k != "labels"}, use_language=False), metadata
        )
    for preds, meta in zip(predictions, metadata):
        assert preds and all(0 <= p["segment"][0] <= p["segment"][1] <= meta["duration"] for p in preds)


def test_dataloader_workers_give_the_same_batches(model, videos):
    folder, rows = videos
    relative = [dict(row, video=row["video"].split("/")[-1]) for row in rows]  # resolved under video_root
    collator = TemporalVideoCollator.from_model(model, fps=FPS, training=False, video_root=str(folder))

    def batches(num_workers):
        return list(
            torch.utils.data.DataLoader(
                relative, batch_size=2, num_workers=num_workers, collate_fn=collator, timeout=60 if num_workers else 0
            )
        )

    for a, b in zip(batches(0), batches(2)):
        torch.testing.assert_close(a["pixel_values"], b["pixel_values"], rtol=0, atol=0)
        assert torch.equal(a["attention_mask"], b["attention_mask"])


def test_bad_rows_are_errors_naming_the_video(model, videos, tmp_path):
    folder, rows = videos
    collator = TemporalVideoCollator.from_model(model, fps=FPS, training=False, video_root=str(folder))
    with pytest.raises(ValueError, match="'synthetic_video_000'.*no 'video' field.*remove_unused_columns=False"):
        collator([{k: v for k, v in rows[0].items() if k != "video"}])
    with pytest.raises(ValueError, match="'escape'.*"):
        collator([dict(rows[0], video_id="escape", video="../outside.mp4")])
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="'broken'.*broken.mp4"):
        collator([dict(rows[0], video_id="broken", video="broken.mp4")])
    with pytest.raises(ValueError, match="longer than max_frames 16"):
        TemporalVideoCollator.from_model(model, fps=FPS, training=False, max_frames=16)(rows[:1])
    with pytest.raises(ValueError, match="max_frames must be None or a positive multiple of clip_length 4"):
        TemporalVideoCollator.from_model(model, fps=FPS, max_frames=10)
    with pytest.raises(ValueError, match="fps must be a finite number > 0"):
        TemporalVideoCollator.from_model(model, fps=0)
    with pytest.raises(ValueError, match="TemporalVideoCollator.crop_ratio must be None or"):
        TemporalVideoCollator.from_model(model, fps=FPS, crop_ratio=(0.9,))
