import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModel

from momentzoo import cli
from momentzoo.data.feature_extraction import (
    GEOMETRY_FILENAME,
    VideoFeatureExtractor,
    extract_features_to_folder,
    feature_geometry_kwargs,
    find_videos,
)
from momentzoo.data.synthetic_video import make_synthetic_video_dataset
from momentzoo.data.video import read_video_frames
from momentzoo.testing import tiny_clip, tiny_videomae

FPS = 12


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    dataset = make_synthetic_video_dataset(folder, num_videos=4, seed=3, fps=FPS, min_duration=8, max_duration=9)
    return folder, dataset


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(0)
    tiny_videomae(image_size=32, num_frames=4).save_pretrained(root / "videomae")
    vision = CLIPVisionConfig(
        image_size=32, patch_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2
    )
    CLIPVisionModel(vision).eval().save_pretrained(root / "clip_vision")
    tiny_clip(image_size=32)[0].save_pretrained(root / "clip")
    return root


def _load(folder):
    return {path.stem: np.load(path) for path in sorted(folder.glob("*.npy"))}


def test_videomae_clip_features_match_a_manual_forward(videos, encoders, tmp_path):
    folder, dataset = videos
    extractor = VideoFeatureExtractor.from_pretrained(encoders / "videomae", fps=8, feature_stride=3, batch_size=5)
    assert (extractor.encoder_kind, extractor.num_frames, extractor.feature_stride) == ("clip", 4, 3)
    report = extract_features_to_folder(extractor, folder, tmp_path, progress=False)
    assert report.ok and report.processed == sorted(dataset["video_id"]) and not report.skipped

    geometry = json.loads((tmp_path / GEOMETRY_FILENAME).read_text())
    assert geometry["fps"] == 8 and geometry["feature_stride"] == 3 and geometry["num_frames"] == 4
    assert geometry["feature_dim"] == 32 and geometry["encoder"] == str(encoders / "videomae")
    assert geometry["image_mean"] == [
        0.5,
        0.5,
        0.5,
    ]  # VideoMAE image processor's defaults (no preprocessor config saved)

    row = dataset[0]
    features = np.load(tmp_path / f"{row['video_id']}.npy")
    frames = read_video_frames(row["video"], fps=8, size=32).frames
    num_sampled = len(frames)
    # clips start every 3 frames until one reaches the last frame; the last clip repeats the last frame
    num_clips = min(-(-(num_sampled - 4) // 3), (num_sampled - 1) // 3) + 1
    assert features.shape == (num_clips, 32) and features.dtype == np.float32
    assert geometry["videos"][row["video_id"]] == {
        "file": f"{row['video_id']}.npy",
        "source": f"{row['video_id']}.mp4",
        "fps": 8.0,
        "duration": pytest.approx(row["duration"], abs=1e-5),
        "num_features": num_clips,
    }
    model = tiny_videomae(image_size=32, num_frames=4)
    model.load_state_dict(extractor.model.state_dict())
    for index in (0, 5, num_clips - 1):
        picks = np.minimum(np.arange(index * 3, index * 3 + 4), num_sampled - 1)
        pixels = torch.from_numpy(frames[picks]).permute(0, 3, 1, 2).float() / 255
        pixels = (pixels - 0.5) / 0.5
        with torch.no_grad():
            expected = model(pixel_values=pixels[None]).last_hidden_state.mean(dim=1)[0].numpy()
        np.testing.assert_allclose(features[index], expected, atol=1e-5)


def test_clip_frame_encoder_pooling_modes(videos, encoders, tmp_path):
    folder, dataset = videos
    row = dataset[1]
    frames = read_video_frames(row["video"], fps=FPS, size=32).frames
    runs = {}
    for name, model_dir, pooling in (
        ("mean", "clip_vision", "mean"),
        ("pooler", "clip_vision", "pooler"),
        ("projection", "clip", "projection"),
    ):
        extractor = VideoFeatureExtractor.from_pretrained(encoders / model_dir, pooling=pooling, feature_stride=2)
        assert extractor.encoder_kind == "frame" and extractor.num_frames == 1
        assert extractor.image_mean == pytest.approx([0.48145466, 0.4578275, 0.40821073])  # CLIP's statistics
        runs[name] = extractor.extract(row["video"])[0]
        assert runs[name].shape[0] == len(frames[::2])  # the native 12 fps, every other frame
    assert runs["mean"].shape[1] == runs["pooler"].shape[1] == 32 and runs["projection"].shape[1] == 16
    assert not np.allclose(runs["mean"], runs["pooler"], atol=1e-3)

    model = CLIPVisionModel.from_pretrained(encoders / "clip_vision").eval()
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    pixels = (torch.from_numpy(frames[::2][:3]).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        output = model(pixel_values=pixels)
    np.testing.assert_allclose(runs["pooler"][:3], output.pooler_output.numpy(), atol=1e-5)
    np.testing.assert_allclose(runs["mean"][:3], output.last_hidden_state.mean(dim=1).numpy(), atol=1e-5)

    with pytest.raises(ValueError, match="get_image_features"):
        VideoFeatureExtractor.from_pretrained(encoders / "clip_vision", pooling="projection")
    with pytest.raises(ValueError, match="pooler_output"):
        VideoFeatureExtractor.from_pretrained(encoders / "videomae", pooling="pooler")
    with pytest.raises(ValueError, match="num_frames must be 1"):
        VideoFeatureExtractor.from_pretrained(encoders / "clip_vision", num_frames=8)


def test_saved_preprocessor_config_sets_resize_crop_and_statistics(videos, encoders, tmp_path):
    folder, dataset = videos
    model_dir = tmp_path / "clip_vision"
    CLIPVisionModel.from_pretrained(encoders / "clip_vision").save_pretrained(model_dir)
    (model_dir / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "CLIPImageProcessor",
                "size": {"shortest_edge": 48},
                "crop_size": {"height": 32, "width": 32},
                "do_center_crop": True,
                "image_mean": [0.1, 0.2, 0.3],
                "image_std": [0.5, 0.6, 0.7],
            }
        )
    )
    extractor = VideoFeatureExtractor.from_pretrained(model_dir, fps=2, batch_size=1)
    assert extractor.resize == 48 and extractor.crop_size == (32, 32)
    assert extractor.image_mean == [0.1, 0.2, 0.3] and extractor.image_std == [0.5, 0.6, 0.7]
    features = extractor.extract(dataset[0]["video"])[0]

    frames = read_video_frames(dataset[0]["video"], fps=2, size=48).frames[:, 8:40, 8:40]
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    pixels = (pixels - torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.5, 0.6, 0.7]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = extractor.model(pixel_values=pixels).last_hidden_state.mean(dim=1).numpy()
    np.testing.assert_allclose(features, expected, atol=1e-5)


def test_batch_size_does_not_change_features(videos, encoders):
    folder, dataset = videos
    one = VideoFeatureExtractor.from_pretrained(encoders / "videomae", fps=6, feature_stride=2, batch_size=4)
    many = VideoFeatureExtractor.from_pretrained(encoders / "videomae", fps=6, feature_stride=2, batch_size=64)
    np.testing.assert_allclose(one.extract(dataset[2]["video"])[0], many.extract(dataset[2]["video"])[0], atol=1e-5)


def test_clip_windows_cover_every_frame():
    extractor = VideoFeatureExtractor.__new__(VideoFeatureExtractor)
    frames = [np.full((1,), i) for i in range(11)]
    for length, stride, expected in (
        (4, 3, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [9, 10, 10, 10]]),
        (4, 4, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 10]]),
        (1, 4, [[0], [4], [8]]),
        (16, 4, [list(range(11)) + [10] * 5]),
    ):
        extractor.num_frames, extractor.feature_stride = length, stride
        clips = [clip[:, 0].tolist() for clip in extractor._clips(iter(frames))]
        assert clips == expected


def test_kill_and_resume_skips_finished_videos(videos, encoders, tmp_path, capsys):
    folder, dataset = videos
    output = tmp_path / "features"
    args = [
        "extract-features", str(folder), str(output), "--model", str(encoders / "videomae"),
        "--fps", "8", "--batch_size", "4", "--device", "cpu", "--no_progress",
    ]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_NO_ADVISORY_WARNINGS="1")
    process = subprocess.Popen([sys.executable, "-m", "momentzoo.cli", *args], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while not list(output.glob("*.npy")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        stderr = process.communicate()[1].decode()
    assert process.returncode == -signal.SIGKILL, f"the run ended by itself ({process.returncode}): {stderr[-2000:]}"
    done = {path.name: path.stat().st_mtime_ns for path in output.glob("*.npy")}
    assert 1 <= len(done) < len(dataset), "killed after the first video and before the last"

    assert cli.main(args) == 0  # the resumed run, in this process
    assert f"{len(dataset) - len(done)} processed, {len(done)} skipped" in capsys.readouterr().err
    for name, mtime in done.items():
        assert (output / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert not list(output.glob(".*tmp*")), "temporary files of the killed run are cleaned up"

    clean = tmp_path / "clean"
    assert cli.main([args[0], str(folder), str(clean), *args[3:]]) == 0
    resumed_features, clean_features = _load(output), _load(clean)
    assert sorted(resumed_features) == sorted(dataset["video_id"]) == sorted(clean_features)
    for video_id in clean_features:
        np.testing.assert_allclose(resumed_features[video_id], clean_features[video_id], atol=1e-5)
    assert json.loads((output / GEOMETRY_FILENAME).read_text()) == json.loads((clean / GEOMETRY_FILENAME).read_text())


def test_corrupt_videos_are_reported_and_the_rest_processed(videos, encoders, tmp_path, capsys):
    folder, dataset = videos
    mixed = tmp_path / "mixed"
    (mixed / "sub").mkdir(parents=True)
    for video_id in dataset["video_id"][:2]:
        (mixed / f"{video_id}.mp4").write_bytes((folder / f"{video_id}.mp4").read_bytes())
    (mixed / "sub" / "broken.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    )
    (mixed / "empty.mkv").write_bytes(b"")
    (mixed / "notes.txt").write_text("not a video")
    output = tmp_path / "out"
    argv = [
        "extract-features",
        str(mixed),
        str(output),
        "--model",
        str(encoders / "clip_vision"),
        "--fps",
        "2",
        "--no_progress",
    ]

    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "2 processed, 0 skipped (already done), 2 failed" in err
    assert "broken.mp4" in err and "empty.mkv" in err
    assert sorted(p.name for p in output.glob("*.npy")) == sorted(f"{v}.npy" for v in dataset["video_id"][:2])
    geometry = json.loads((output / GEOMETRY_FILENAME).read_text())
    assert sorted(geometry["videos"]) == sorted(dataset["video_id"][:2])

    # rerun: finished videos skipped, the broken ones retried and reported again
    assert cli.main(argv) == 1
    assert "0 processed, 2 skipped (already done), 2 failed" in capsys.readouterr().err

    # a resume with other settings is refused rather than mixing features
    assert cli.main(argv[:-3] + ["--fps", "3", "--no_progress"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "fps: 2.0 -> 3.0" in err


def test_extracted_folder_builds_a_thumos_style_dataset(videos, encoders, tmp_path):
    """synthetic mp4s -> extract-features -> the THUMOS14 builder, with the geometry read from geometry.json."""
    from momentzoo.data.builders import Thumos14Builder

    folder, dataset = videos
    features_dir = tmp_path / "features"
    assert cli.main(["extract-features", str(folder), str(features_dir), "--model", str(encoders / "videomae"),
                     "--fps", "6", "--feature_stride", "2", "--no_progress"]) == 0  # fmt: skip
    names = dataset.features["labels"].feature.names
    database = {
        row["video_id"]: {
            "subset": "val" if index < 3 else "test",
            "fps": float(FPS),
            "duration": row["duration"],
            "annotations": [{"segment": s, "label": names[l]} for s, l in zip(row["segments"], row["labels"])],
        }
        for index, row in enumerate(dataset)
    }
    (tmp_path / "annotations.json").write_text(json.dumps({"database": database}))
    kwargs = feature_geometry_kwargs(features_dir)
    assert (
        kwargs["fps"] == 6
        and kwargs["feature_stride"] == 2
        and kwargs["num_frames"] == 4
        and kwargs["feature_dim"] == 32
    )
    builder = Thumos14Builder(
        annotation_file=str(tmp_path / "annotations.json"), cache_dir=str(tmp_path / "cache"), **kwargs
    )
    builder.download_and_prepare()
    built = builder.as_dataset()
    assert (built["val"].num_rows, built["test"].num_rows) == (3, 1)
    for row in built["val"].with_format("numpy"):
        assert (row["fps"], row["feature_stride"], row["num_frames"]) == (6, 2, 4)
        np.testing.assert_allclose(row["features"], np.load(features_dir / f"{row['video_id']}.npy"))
    with pytest.raises(ValueError, match="not found"):
        feature_geometry_kwargs(tmp_path)


def test_video_discovery(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.mp4", "y.MKV", "z.txt", ".hidden.mp4"):
        (tmp_path / name).write_bytes(b"0")
    assert {k: v.name for k, v in find_videos(tmp_path).items()} == {"x": "x.mp4", "y": "y.MKV"}
    (tmp_path / "x.webm").write_bytes(b"0")
    with pytest.raises(ValueError, match="share an id"):
        find_videos(tmp_path)
    with pytest.raises(ValueError, match="not found"):
        find_videos(tmp_path / "missing")
