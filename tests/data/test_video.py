import math
from pathlib import Path

import numpy as np
import pytest
import torch

from momentzoo.data.synthetic_video import SYNTHETIC_VIDEO_CLASSES, make_synthetic_video_dataset
from momentzoo.data.video import VideoFrames, probe_video, read_video_frames, resolve_video_path

FPS = 12


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic_videos")
    return folder, make_synthetic_video_dataset(folder, num_videos=6, seed=0, fps=FPS)


def _square(frame):
    """(centre x, area) of the bright square in a frame; background pixels are below 80, the square above 150."""
    mask = frame.max(axis=-1) > 115
    if not mask.any():
        return None, 0
    return float(np.nonzero(mask)[1].mean()), int(mask.sum())


# --- synthetic raw videos ---


def test_synthetic_video_rows_follow_the_tal_contract(synthetic):
    folder, dataset = synthetic
    assert set(dataset.column_names) == {"video_id", "duration", "fps", "video", "segments", "labels"}
    assert dataset.features["video"].decode is False
    assert dataset.features["labels"].feature.names == SYNTHETIC_VIDEO_CLASSES
    assert dataset.features["duration"].dtype == "float64"
    # every class appears: labels are dealt in shuffled rounds
    assert {label for labels in dataset["labels"] for label in labels} == set(range(len(SYNTHETIC_VIDEO_CLASSES)))
    for row in dataset:
        assert Path(row["video"]["path"]).is_file() and row["video"]["bytes"] is None
        info = probe_video(row["video"])
        assert info.fps == FPS and (info.width, info.height) == (64, 64)
        assert info.duration == pytest.approx(row["duration"], abs=1e-5)
        assert 8 <= row["duration"] <= 12
        segments = np.asarray(row["segments"])
        assert len(segments) == len(row["labels"]) >= 1
        assert (segments[:, 1] > segments[:, 0]).all() and segments.min() >= 0 and segments.max() <= row["duration"]
        assert (segments[1:, 0] >= segments[:-1, 1]).all()  # sorted, non-overlapping
        lengths = segments[:, 1] - segments[:, 0]
        assert ((lengths >= 2 - 1e-5) & (lengths <= 4 + 1e-5)).all()


def test_synthetic_videos_are_deterministic_by_seed(synthetic, tmp_path):
    folder, dataset = synthetic
    again = make_synthetic_video_dataset(tmp_path / "same", num_videos=6, seed=0, fps=FPS)
    other = make_synthetic_video_dataset(tmp_path / "other", num_videos=6, seed=1, fps=FPS)
    assert again["segments"] == dataset["segments"] and again["labels"] == dataset["labels"]
    for video_id in dataset["video_id"]:
        assert (folder / f"{video_id}.mp4").read_bytes() == (tmp_path / "same" / f"{video_id}.mp4").read_bytes()
    assert other["segments"] != dataset["segments"]
    assert not list(tmp_path.rglob(".*tmp*"))  # written atomically, nothing left behind


def test_synthetic_motion_encodes_the_class(synthetic):
    _, dataset = synthetic
    seen = set()
    for row in dataset:
        decoded = read_video_frames(row["video"])
        for (start, end), label in zip(row["segments"], row["labels"]):
            inside = (decoded.timestamps >= start - 1e-4) & (decoded.timestamps < end - 1e-4)
            squares = [_square(frame) for frame in decoded.frames[inside]]
            assert all(area > 0 for _, area in squares), "the square is visible on every frame of the action"
            (x_first, area_first), (x_last, area_last) = squares[0], squares[-1]
            name = SYNTHETIC_VIDEO_CLASSES[label]
            if name == "square_moves_right":
                assert x_last - x_first > 25 and abs(area_last - area_first) < 0.3 * area_first
            elif name == "square_moves_left":
                assert x_first - x_last > 25 and abs(area_last - area_first) < 0.3 * area_first
            elif name == "square_grows":
                assert area_last > 8 * area_first and abs(x_last - x_first) < 3
            else:
                assert area_first > 8 * area_last and abs(x_last - x_first) < 3
            seen.add(name)
        # background only outside the actions
        outside = np.ones(len(decoded.timestamps), dtype=bool)
        for start, end in row["segments"]:
            outside &= ~((decoded.timestamps >= start - 1e-4) & (decoded.timestamps < end - 1e-4))
        assert all(_square(frame)[1] == 0 for frame in decoded.frames[outside])
    assert seen == set(SYNTHETIC_VIDEO_CLASSES)


def test_synthetic_video_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError, match="classes"):
        make_synthetic_video_dataset(tmp_path, classes=["square_jumps"])
    with pytest.raises(ValueError, match="size"):
        make_synthetic_video_dataset(tmp_path, size=63)
    with pytest.raises(ValueError, match="min_duration"):
        make_synthetic_video_dataset(tmp_path, min_duration=3.0, max_duration=4.0)


# --- reading frames ---


def test_time_range_read_seeks_and_samples_by_timestamp(synthetic):
    folder, dataset = synthetic
    video = dataset[1]["video"]
    full = read_video_frames(video)  # every frame, no seek
    assert len(full.timestamps) == round(dataset[1]["duration"] * FPS)
    np.testing.assert_allclose(full.timestamps, np.arange(len(full.timestamps)) / FPS, atol=1e-6)

    # one keyframe per second: starting at 5.3 s needs a seek to 5 s and decoding forward
    part = read_video_frames(video, start=5.3, end=7.9)
    assert (part.timestamps >= 5.3).all() and (part.timestamps < 7.9).all()
    first = math.ceil(5.3 * FPS)
    np.testing.assert_array_equal(part.frames, full.frames[first : first + len(part.timestamps)])
    assert len(part.timestamps) == math.ceil(7.9 * FPS) - first

    # resampled at 5 fps: sample k shows the frame on screen at 5.3 + k / 5
    sampled = read_video_frames(video, start=5.3, end=7.9, fps=5)
    assert len(sampled.timestamps) == 13  # 5.3, 5.5, ..., 7.7: (end - start) * fps samples
    np.testing.assert_allclose(sampled.timestamps, 5.3 + np.arange(13) / 5)
    on_screen = np.floor(sampled.timestamps * FPS + 1e-6).astype(int)
    np.testing.assert_array_equal(sampled.frames, full.frames[on_screen])
    np.testing.assert_allclose(sampled.frame_timestamps, on_screen / FPS, atol=1e-6)
    assert sampled.fps == 5 and sampled.duration == pytest.approx(dataset[1]["duration"], abs=1e-5)


def test_upsampling_repeats_frames_and_stops_at_the_video_end(synthetic):
    _, dataset = synthetic
    video = dataset[0]["video"]
    duration = probe_video(video).duration  # the float32 column is rounded
    up = read_video_frames(video, start=duration - 1.0, end=duration + 5, fps=2 * FPS)
    assert len(up.timestamps) == 2 * FPS  # clipped at the end of the video
    assert up.timestamps.max() < duration
    np.testing.assert_array_equal(up.frames[0::2], up.frames[1::2])
    np.testing.assert_array_equal(up.frame_timestamps[0::2], up.frame_timestamps[1::2])


def test_sources_sizes_and_tensor_output(synthetic):
    folder, dataset = synthetic
    path = Path(dataset[2]["video"]["path"])
    data = path.read_bytes()
    reference = read_video_frames(path, 1.0, 3.0, fps=4)
    for source in (str(path), data, bytearray(data), {"bytes": data, "path": None}, {"bytes": None, "path": str(path)}):
        np.testing.assert_array_equal(read_video_frames(source, 1.0, 3.0, fps=4).frames, reference.frames)
    rooted = read_video_frames(path.name, 1.0, 3.0, fps=4, root=folder)
    np.testing.assert_array_equal(rooted.frames, reference.frames)

    assert read_video_frames(path, 0, 1, size=32).frames.shape == (FPS, 32, 32, 3)  # shorter side (square video)
    assert read_video_frames(path, 0, 1, size=(24, 40)).frames.shape == (FPS, 24, 40, 3)
    pt = read_video_frames(path, 0, 1, fps=4, return_tensors="pt")
    assert isinstance(pt, VideoFrames) and pt.frames.dtype == torch.uint8 and pt.frames.shape == (4, 64, 64, 3)


def test_bad_videos_name_the_file(synthetic, tmp_path):
    _, dataset = synthetic
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(ValueError, match="not found: .*nowhere.mp4"):
        read_video_frames(missing)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.*empty.mp4"):
        read_video_frames(empty)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="garbage.mp4"):
        probe_video(garbage)
    with pytest.raises(ValueError, match="video bytes"):
        read_video_frames(b"not a video at all")
    with pytest.raises(ValueError, match="neither"):
        read_video_frames({"bytes": None, "path": None})
    video = dataset[0]["video"]
    with pytest.raises(ValueError, match="at or after the end"):
        read_video_frames(video, start=60)
    with pytest.raises(ValueError, match="invalid time range"):
        read_video_frames(video, start=3, end=2)
    with pytest.raises(ValueError, match="fps must be positive"):
        read_video_frames(video, fps=0)


def test_paths_cannot_escape_the_data_root(tmp_path):
    root = tmp_path / "videos"
    assert resolve_video_path(root, "a/b.mp4") == root / "a" / "b.mp4"
    assert resolve_video_path(root, "a/../b.mp4") == root / "b.mp4"
    for bad in ("../secret.mp4", "a/../../secret.mp4", "/etc/passwd", str(tmp_path / "other" / "x.mp4"), "", "."):
        with pytest.raises(ValueError):
            resolve_video_path(root, bad)
    with pytest.raises(ValueError, match="escapes the data root"):
        read_video_frames("../x.mp4", root=root)


@pytest.mark.real_data
def test_real_charades_video_time_range(real_data):
    path = real_data / "videos" / "charades_OHOFG.mp4"
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (640, 360, 335)
    assert info.fps == pytest.approx(10000 / 1049)
    # The stream lasts 335 frames (35.14 s); Charades-STA's 35.04 s is the timestamp of the last frame.
    assert info.duration == pytest.approx(335 * 1049 / 10000, abs=1e-6)
    tail = read_video_frames(path, start=34.5)
    assert tail.timestamps[-1] == pytest.approx(35.04, abs=0.01)

    clip = read_video_frames(path, start=10.0, end=15.0, fps=4, size=112)
    assert clip.frames.shape == (20, 112, 199, 3) and clip.frames.dtype == np.uint8
    assert (clip.timestamps >= 10.0).all() and (clip.timestamps < 15.0).all()
    assert (clip.frame_timestamps <= clip.timestamps + 1e-9).all()
    assert (clip.timestamps - clip.frame_timestamps < 1049 / 10000 + 1e-6).all()  # the frame on screen
    assert clip.frames.std() > 10  # real content, not blank frames
    native = read_video_frames(path, start=10.0, end=15.0)
    assert len(native.timestamps) == pytest.approx(5 * info.fps, abs=1)
    assert (native.timestamps >= 10.0).all() and (native.timestamps < 15.0).all()
