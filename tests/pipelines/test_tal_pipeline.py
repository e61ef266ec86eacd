"""The `temporal-action-localization` pipeline: feature arrays, synthetic mp4s and a real video, through
ActionFormer (with a separate tiny VideoMAE encoder) and an end-to-end ActionVLM (its own encoder)."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import pipeline

import momentzoo  # noqa: F401  (registers the pipeline)
from momentzoo.data import make_synthetic_video_dataset
from momentzoo.data.feature_extraction import VideoFeatureExtractor
from momentzoo.data.video import probe_video
from momentzoo.data.windows import window_starts
from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
from momentzoo.pipelines import TemporalActionLocalizationPipeline
from momentzoo.pipelines.temporal_action_localization import ModelVideoEncoder
from momentzoo.testing import tiny_qwen2, tiny_videomae
from momentzoo.testing.actionformer import tiny_actionformer_config
from momentzoo.testing.actionvlm import TINY_ACTIONVLM_HEAD

NAMES = ["jump", "run", "throw"]
GEOMETRY = dict(fps=30.0, feature_stride=4, num_frames=16)


def _well_formed(detections, duration, names):
    assert isinstance(detections, list) and detections
    scores = [d["score"] for d in detections]
    assert scores == sorted(scores, reverse=True)
    for d in detections:
        assert set(d) == {"segment", "score", "label"}
        start, end = d["segment"]
        assert 0.0 <= start <= end <= duration + 1e-6, d
        assert 0.0 <= d["score"] <= 1.0 and math.isfinite(d["score"])
        assert d["label"] in names


@pytest.fixture(scope="module")
def actionformer_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = tiny_actionformer_config(input_dim=32, max_seq_len=64, id2label=dict(enumerate(NAMES)), **GEOMETRY)
    path = tmp_path_factory.mktemp("actionformer")
    ActionFormerForTemporalLocalization(config).eval().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def detector(actionformer_dir):
    return pipeline("temporal-action-localization", model=str(actionformer_dir))


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(0)
    tiny_videomae(image_size=32, num_frames=4, hidden_size=32).save_pretrained(root / "videomae")
    lm, tokenizer = tiny_qwen2(hidden_size=32, num_layers=2)
    lm.save_pretrained(root / "qwen2")
    tokenizer.save_pretrained(root / "qwen2")
    return root


@pytest.fixture(scope="module")
def synthetic_mp4(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rows = make_synthetic_video_dataset(folder, num_videos=1, seed=0, size=32, fps=8, min_duration=8, max_duration=9)
    return rows[0]["video"]["path"], float(rows[0]["duration"])


def test_registered_and_equal_to_the_model_on_one_window(detector, actionformer_dir):
    assert isinstance(detector, TemporalActionLocalizationPipeline)
    features = np.random.default_rng(0).standard_normal((50, 32)).astype(np.float32)
    detections = detector(features, **GEOMETRY)
    duration = (49 * 4 + 16) / 30.0  # default: every frame the features saw
    _well_formed(detections, duration, NAMES)
    # one window (50 <= max_seq_len 64): exactly the model's own decoding of the whole video, with names
    model = ActionFormerForTemporalLocalization.from_pretrained(actionformer_dir).eval()
    with torch.no_grad():
        outputs = model(input_features=torch.from_numpy(features)[None])
    expected = model.post_process(outputs, [{"duration": duration, **GEOMETRY}], label_names=True)[0]
    assert [d["label"] for d in detections] == [d["label"] for d in expected]
    np.testing.assert_allclose([d["segment"] for d in detections], [d["segment"] for d in expected], atol=1e-5)
    np.testing.assert_allclose([d["score"] for d in detections], [d["score"] for d in expected], atol=1e-6)
    # the same through a TAL row and through a torch tensor; filters
    row = {"video_id": "v", "features": features, "duration": duration, **GEOMETRY}
    assert detector(row) == detections
    assert detector(torch.from_numpy(features), **GEOMETRY) == detections
    top = detector(features, top_k=3, threshold=0.0, **GEOMETRY)
    assert top == detections[:3]
    assert all(d["score"] >= 0.02 for d in detector(features, threshold=0.02, **GEOMETRY))


def test_geometry_maps_steps_to_seconds(detector):
    features = np.random.default_rng(1).standard_normal((40, 32)).astype(np.float32)
    at_30 = detector(features, **GEOMETRY)
    at_15 = detector(features, fps=15.0, feature_stride=4, num_frames=16)
    # seconds = (step * stride + num_frames / 2) / fps: halving fps doubles every time (and the default duration)
    np.testing.assert_allclose(
        [d["segment"] for d in at_15], [[2 * s, 2 * e] for s, e in (d["segment"] for d in at_30)], rtol=1e-5
    )
    clipped = detector(features, duration=2.0, **GEOMETRY)
    assert max(d["segment"][1] for d in clipped) <= 2.0


def test_sliding_windows_cover_a_long_video(detector):
    features = np.random.default_rng(2).standard_normal((200, 32)).astype(np.float32)
    duration = (199 * 4 + 16) / 30.0
    windows = window_starts(200, 64, 48)
    assert windows == [0, 48, 96, 136]
    detections = detector(features, **GEOMETRY)  # windows of max_seq_len = 64 steps
    _well_formed(detections, duration, NAMES)
    ends = [d["segment"][1] for d in detections]
    # detections of the last window are shifted to its place in the video
    assert max(ends) > (136 * 4 + 8) / 30.0
    whole = detector(features, window_size=None, **GEOMETRY)
    _well_formed(whole, duration, NAMES)
    assert whole != detections
    # a window at least as long as the video is the whole video
    assert detector(features, window_size=500, **GEOMETRY) == whole


def test_bad_inputs_are_clear_errors(detector, tmp_path):
    with pytest.raises(ValueError, match="input_dim=32"):
        detector(np.zeros((10, 8), dtype=np.float32))
    bad = np.zeros((10, 32), dtype=np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        detector(bad)
    with pytest.raises(ValueError, match="feature_extractor"):
        detector(str(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError, match="not found"):
        detector(str(tmp_path / "missing.npy"))
    with pytest.raises(ValueError, match="fixed class set"):
        detector(np.zeros((10, 32), dtype=np.float32), candidate_labels=["a", "b"])
    with pytest.raises(ValueError, match="fps must be"):
        detector(np.zeros((10, 32), dtype=np.float32), fps=0)
    with pytest.raises(ValueError, match="unknown argument"):
        detector(np.zeros((10, 32), dtype=np.float32), fpss=3)
    np.save(tmp_path / "video_7.npy", np.ones((12, 32), dtype=np.float32))
    _well_formed(detector(str(tmp_path / "video_7.npy")), (11 * 4 + 16) / 30.0, NAMES)


def test_synthetic_mp4_with_a_separate_encoder(actionformer_dir, encoders, synthetic_mp4, capsys):
    path, duration = synthetic_mp4
    detector = pipeline(
        "temporal-action-localization",
        model=str(actionformer_dir),
        feature_extractor=str(encoders / "videomae"),
        feature_extractor_kwargs={"feature_stride": 2, "num_frames": 4},
    )
    encoder = detector.video_encoder
    assert isinstance(encoder, VideoFeatureExtractor) and (encoder.feature_stride, encoder.num_frames) == (2, 4)
    detections = detector(path)
    _well_formed(detections, duration, NAMES)
    # the pipeline's detections are the model's on the encoder's features, with the encoder's geometry
    features, fps, video_duration = encoder.extract(path)
    assert video_duration == pytest.approx(duration)
    on_features = detector(features, fps=fps, feature_stride=2, num_frames=4, duration=video_duration)
    assert on_features == detections
    # a progress bar over the clips while the video is encoded (by default only once that takes over 2 s)
    capsys.readouterr()
    assert detector(path, progress=True) == detections
    bar = capsys.readouterr().err
    clips = len(features)
    assert f"encoding {Path(path).name}" in bar and f"0/{clips} [" in bar  # the total is the clips encoded
    detector(path, progress=False)
    assert "encoding" not in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress must be"):
        detector(path, progress="yes")
    with pytest.raises(ValueError, match="input_dim=32"):
        pipeline(
            "temporal-action-localization",
            model=str(actionformer_dir),
            feature_extractor=VideoFeatureExtractor(
                tiny_videomae(hidden_size=16), "tiny", image_mean=[0.5] * 3, image_std=[0.5] * 3
            ),
        )


def _actionvlm_dir(encoders, tmp_path):
    from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization

    torch.manual_seed(0)
    model = ActionVLMForTemporalLocalization.from_backbones(
        encoders / "qwen2",
        encoders / "videomae",
        id2label=dict(enumerate(NAMES)),
        **TINY_ACTIONVLM_HEAD,
    ).eval()
    model.save_pretrained(tmp_path / "actionvlm")
    return tmp_path / "actionvlm"


def test_end_to_end_model_encodes_the_video_itself(encoders, synthetic_mp4, tmp_path):
    path, duration = synthetic_mp4
    detector = pipeline("temporal-action-localization", model=str(_actionvlm_dir(encoders, tmp_path)))
    encoder = detector.video_encoder
    assert isinstance(encoder, ModelVideoEncoder)
    assert (encoder.feature_stride, encoder.num_frames) == (2, 2)  # one token per 2-frame tubelet
    features, fps, video_duration = encoder.extract(path)
    info = probe_video(path)
    assert fps == pytest.approx(info.fps) and video_duration == pytest.approx(duration)
    frames = round(duration * fps)
    assert features.shape == (math.ceil(frames / 2), 32)
    detections = detector(path)
    _well_formed(detections, duration, NAMES)
    assert detector(features, fps=fps, feature_stride=2, num_frames=2, duration=video_duration) == detections


@pytest.mark.real_data
def test_real_charades_video(real_data, actionformer_dir, encoders):
    path = real_data / "videos" / "charades_OHOFG.mp4"
    detector = pipeline(
        "temporal-action-localization",
        model=str(actionformer_dir),
        feature_extractor=str(encoders / "videomae"),
        feature_extractor_kwargs={"feature_stride": 4, "num_frames": 4, "fps": 8.0, "batch_size": 32},
    )
    duration = probe_video(path).duration
    assert duration == pytest.approx(35.0, abs=0.3)
    detections = detector(str(path))
    _well_formed(detections, duration, NAMES)
    assert len(detections) <= 200
