"""`momentzoo quickstart --fast`: a reduced run end to end through the CLI; every output exists and is well formed,
the saved checkpoints are the evaluated models, and the written files reproduce the printed metrics."""

import contextlib
import io
import json
import math

import pytest
import torch
from PIL import Image

from momentzoo import AutoModelForTemporalLocalization, cli
from momentzoo.commands.evaluate import evaluate_files
from momentzoo.commands.quickstart import FAST_DATA, QuickstartConfig
from momentzoo.data import TemporalLocalizationCollator, make_synthetic_tal_dataset


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    output = tmp_path_factory.mktemp("quickstart")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["quickstart", "--fast", "--no_progress", "--plot_videos", "2", "--output_dir", str(output)])
    assert code == 0
    return output, printed.getvalue()


@pytest.fixture(scope="module")
def run(quickstart):
    return quickstart[0]


def test_outputs_are_well_formed(run):
    assert {p.name for p in run.iterdir()} == {
        "actionformer",
        "actionvlm",
        "predictions",
        "ground_truth.json",
        "metrics.json",
        "timeline.png",
    }
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["models"]) == {"ActionFormer", "ActionVLM"}
    for values in metrics["models"].values():
        for key in ("mAP@0.3", "mAP@0.4", "mAP@0.5", "mAP@0.6", "mAP@0.7", "average_mAP"):
            assert 0.0 <= values[key] <= 1.0
        assert values["average_mAP"] == pytest.approx(sum(values[f"mAP@{t}"] for t in (0.3, 0.4, 0.5, 0.6, 0.7)) / 5)
        assert values["epochs"] == 2 and math.isfinite(values["train_loss"])
    # ActionVLM alternated: a vision-only epoch, then a vision-language one
    assert metrics["models"]["ActionVLM"]["schedule"] == ["vision", "vision-language"]
    weights = metrics["language_weight"]
    assert metrics["order_confusable_classes"] == ["open door", "close door"]
    assert 0.0 <= weights["order_confusable"] < 1.0 and 0.0 <= weights["other"] < 1.0
    assert set(weights["per_class"]) == set(metrics["classes"])
    assert metrics["seconds"]["wall"] > 0 and metrics["seconds"]["cpu"] > 0

    truth = json.loads((run / "ground_truth.json").read_text())["database"]
    test = make_synthetic_tal_dataset(**FAST_DATA)["test"]
    assert sorted(truth) == sorted(test["video_id"])
    for key, name in (("actionformer", "ActionFormer"), ("actionvlm", "ActionVLM")):
        results = json.loads((run / "predictions" / f"{key}.json").read_text())["results"]
        assert sorted(results) == sorted(truth)
        for video_id, detections in results.items():
            duration = truth[video_id]["duration"]
            for d in detections:
                assert 0.0 <= d["segment"][0] <= d["segment"][1] <= duration + 1e-6
                assert d["label"] in metrics["classes"] and 0.0 <= d["score"] <= 1.0
        # `momentzoo evaluate` on the written files gives the reported numbers
        scored, _ = evaluate_files(run / "ground_truth.json", run / "predictions" / f"{key}.json")
        assert scored["average_mAP"] == pytest.approx(metrics["models"][name]["average_mAP"], abs=1e-9)
        card = (run / key / "README.md").read_text()
        assert name in card and "average_mAP" in card and f"# {key}\n" in card and str(run) not in card
    assert "momentzoo quickstart" in (run / "actionformer" / "README.md").read_text()  # training details
    with Image.open(run / "timeline.png") as image:
        assert image.format == "PNG" and image.width >= 800 and image.height >= 300
    assert len(metrics["timeline_videos"]) == 2


def test_prints_the_table(quickstart):
    printed = quickstart[1]
    metrics = json.loads((quickstart[0] / "metrics.json").read_text())
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert lines[header].split() == ["model", "@0.3", "@0.4", "@0.5", "@0.6", "@0.7", "avg"]
    for line, name in zip(lines[header + 2 : header + 4], ("ActionFormer", "ActionVLM")):
        cells = line.split()
        assert cells[0] == name
        assert float(cells[-1]) == pytest.approx(100 * metrics["models"][name]["average_mAP"], abs=0.05)
    assert "order-confusable classes (open door, close door)" in printed and "other classes" in printed


def test_saved_checkpoints_are_the_evaluated_models(run):
    test = make_synthetic_tal_dataset(**FAST_DATA)["test"].with_format("numpy")
    rows = [test[i] for i in range(2)]
    batch = TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True)(rows)
    metadata = batch.pop("metadata")
    batch.pop("labels")
    for key in ("actionformer", "actionvlm"):
        model = AutoModelForTemporalLocalization.from_pretrained(run / key).eval()
        with torch.no_grad():
            detections = model.post_process(model(**batch), metadata, label_names=True)
        saved = json.loads((run / "predictions" / f"{key}.json").read_text())["results"]
        for row, found in zip(rows, detections):
            expected = saved[row["video_id"]]
            assert len(found) == len(expected)
            for a, b in zip(found[:20], expected[:20]):
                assert a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], abs=1e-5)
                assert a["segment"] == pytest.approx(b["segment"], abs=1e-4)


def test_config_is_validated():
    with pytest.raises(ValueError, match="models must be"):
        QuickstartConfig(models=("actionformer", "psftr"))
    with pytest.raises(ValueError, match="actionvlm_epochs"):
        QuickstartConfig(actionvlm_epochs=0)
    assert QuickstartConfig().epochs("actionformer") == 15 and QuickstartConfig(fast=True).epochs("actionvlm") == 2
