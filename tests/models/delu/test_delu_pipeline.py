"""DELU and MLLM4WTAL checkpoints through the shared TAL interface (`TemporalLocalizationConfigMixin`): the
`temporal-action-localization` pipeline on feature arrays and `momentzoo.training.tal`'s `predict_tal` /
`evaluate_tal`, both reading the config's declared `inference_window` and `window_merge_nms_kwargs()`."""

import math

import numpy as np
import pytest
import torch
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)
from transformers import pipeline

import momentzoo  # noqa: F401  (registers the models and the pipeline)
from momentzoo.models.delu import DELUModel
from momentzoo.models.temporal_localization import TemporalLocalizationConfigMixin
from momentzoo.pipelines import TemporalActionLocalizationPipeline
from momentzoo.testing.delu import tiny_delu_config
from momentzoo.testing.mllm4wtal import tiny_mllm4wtal
from momentzoo.training.mllm4wtal import make_synthetic_wtal_dataset
from momentzoo.training.tal import evaluate_tal, predict_tal

NAMES = ["jump", "run", "throw"]
GEOMETRY = {"fps": 10.0, "feature_stride": 5, "num_frames": 5}


def _shared_format(detections, duration, names=NAMES):
    assert isinstance(detections, list) and detections
    scores = [d["score"] for d in detections]
    assert scores == sorted(scores, reverse=True)
    for d in detections:
        assert set(d) == {"segment", "score", "label"}
        start, end = d["segment"]
        assert 0.0 <= start < end <= duration + 1e-6, d
        assert math.isfinite(d["score"]) and d["label"] in names


def _features(length: int) -> np.ndarray:
    """Two 8-d streams with an 'action' (a shifted mean) in the middle third, so proposals exist."""
    features = np.random.default_rng(0).standard_normal((length, 16)).astype(np.float32)
    features[length // 3 : 2 * length // 3] += 2.0
    return features


@pytest.fixture(scope="module")
def delu_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("delu")
    DELUModel(tiny_delu_config(id2label=dict(enumerate(NAMES)), **GEOMETRY)).eval().save_pretrained(path)
    return path


def test_delu_config_declares_the_tal_capabilities():
    config = tiny_delu_config(inference_window_size=32, inference_window_overlap=0.25, nms_method="none")
    assert isinstance(config, TemporalLocalizationConfigMixin)
    assert config.inference_window == (32, 0.25)
    assert config.window_merge_nms_kwargs()["iou_threshold"] == 1.0  # "none": only exact duplicates are merged
    assert tiny_delu_config().inference_window == (None, 0.0)  # DELU scores whole videos


def test_pipeline_on_a_delu_checkpoint_returns_the_shared_format_and_equals_the_model(delu_dir):
    detector = pipeline("temporal-action-localization", model=str(delu_dir))
    assert isinstance(detector, TemporalActionLocalizationPipeline)
    features = _features(60)
    detections = detector(features, **GEOMETRY)
    duration = (59 * 5 + 5) / 10.0  # every frame the features saw
    _shared_format(detections, duration)
    # whole video (the declared window is None): exactly the model's own decoding, with names
    model = DELUModel.from_pretrained(delu_dir).eval()
    with torch.no_grad():
        outputs = model(input_features=torch.from_numpy(features)[None])
    expected = model.post_process(outputs, [{"duration": duration, **GEOMETRY}], label_names=True)[0]
    assert [(d["label"], d["segment"]) for d in detections] == [
        (d["label"], pytest.approx(d["segment"])) for d in expected
    ]
    assert [d["score"] for d in detections] == pytest.approx([d["score"] for d in expected], rel=1e-5, abs=1e-6)


def test_pipeline_windows_a_delu_checkpoint_as_its_config_declares(delu_dir, tmp_path):
    model = DELUModel.from_pretrained(delu_dir)
    model.config.inference_window_size, model.config.inference_window_overlap = 24, 0.5
    model.save_pretrained(tmp_path)
    detector = pipeline("temporal-action-localization", model=str(tmp_path))
    windowed = detector(_features(60), **GEOMETRY)
    _shared_format(windowed, 30.0)
    whole = detector(_features(60), window_size=None, **GEOMETRY)  # a caller may still override the declaration
    assert [d["segment"] for d in windowed] != [d["segment"] for d in whole]


def test_pipeline_on_an_mllm4wtal_checkpoint_needs_no_descriptions(tmp_path):
    torch.manual_seed(0)
    model, _ = tiny_mllm4wtal(base_config=tiny_delu_config(id2label=dict(enumerate(NAMES)), **GEOMETRY))
    model.eval().save_pretrained(tmp_path)
    detections = pipeline("temporal-action-localization", model=str(tmp_path))(_features(60), **GEOMETRY)
    _shared_format(detections, 30.0)
    with torch.no_grad():
        outputs = model(input_features=torch.from_numpy(_features(60))[None])
    expected = model.post_process(outputs, [{"duration": 30.0, **GEOMETRY}], label_names=True)[0]
    assert [d["score"] for d in detections] == pytest.approx([d["score"] for d in expected], rel=1e-5, abs=1e-6)


def test_predict_and_evaluate_tal_serve_delu():
    data = make_synthetic_wtal_dataset(
        num_classes=3, num_confusable_pairs=1, feature_dim=16, num_videos={"test": 4}, seed=0
    )["test"]
    names = data.features["labels"].feature.names
    torch.manual_seed(0)
    model = DELUModel(tiny_delu_config(id2label=dict(enumerate(names))))
    predictions = predict_tal(model, data, window_size=32, window_overlap=0.25)
    assert list(predictions) == data["video_id"]
    for video_id, detections in predictions.items():
        if detections:
            _shared_format(detections, data[data["video_id"].index(video_id)]["duration"], names)
    assert any(predictions.values())
    metrics, _ = evaluate_tal(model, data, iou_thresholds=(0.3, 0.5))
    assert set(metrics) >= {"mAP@0.3", "mAP@0.5", "average_mAP"}
    assert 0.0 <= metrics["average_mAP"] <= 1.0
