import json
import os
import subprocess
import sys

import pytest

from momentzoo.cli import main
from momentzoo.commands.evaluate import EXAMPLE_DIR
from momentzoo.metrics.tal_map import compute_tal_map


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def files(tmp_path):
    gt = {
        "database": {
            "v1": {
                "subset": "test",
                "duration": 30.0,
                "annotations": [
                    {"segment": [1.0, 5.0], "label": "Jump"},
                    {"segment": [10.0, 12.0], "label": "Ambiguous"},
                ],
            },
            "v2": {"subset": "test", "duration": 20.0, "annotations": [{"segment": [2.0, 8.0], "label": "Run"}]},
            "v3": {"subset": "val", "duration": 20.0, "annotations": [{"segment": [0.0, 3.0], "label": "Run"}]},
        }
    }
    preds = {
        "results": {
            "v1": [
                {"segment": [1.2, 5.0], "label": "Jump", "score": 0.9},
                {"segment": [10.0, 12.0], "label": "Ambiguous", "score": 0.8},
            ]
        }
    }
    return tmp_path, write(tmp_path / "gt.json", gt), write(tmp_path / "pred.json", preds), gt, preds


def test_example_runs_and_matches_the_metric(tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--example", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    database = json.loads((EXAMPLE_DIR / "ground_truth.json").read_text())["database"]
    results = json.loads((EXAMPLE_DIR / "predictions.json").read_text())["results"]
    expected = compute_tal_map(
        [results[v] for v in database], [database[v]["annotations"] for v in database], ignore_labels=["Ambiguous"]
    )
    assert {k: report[k] for k in expected} == expected
    assert report["evaluation"]["videos"] == 6 and report["evaluation"]["ignore_labels"] == ["Ambiguous"]
    assert f"{100 * expected['average_mAP']:.2f}" in printed and "tIoU" in printed
    assert 0.3 < expected["mAP@0.7"] < expected["mAP@0.3"] < 1.0


def test_videos_without_predictions_count_as_misses(files, capsys):
    tmp_path, gt, pred, _, _ = files
    out = tmp_path / "m.json"
    assert (
        main(
            [
                "evaluate",
                "--references",
                gt,
                "--predictions",
                pred,
                "--subset",
                "test",
                "--ignore_labels",
                "Ambiguous",
                "--iou_thresholds",
                "0.5",
                "0.9",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    # Jump found (tIoU 0.95), Run's only instance is in v2, which has no predictions: AP 0.
    assert report["per_class_AP"] == {"Jump": [1.0, 1.0], "Run": [0.0, 0.0]}
    assert report["mAP@0.5"] == 0.5 and report["evaluation"]["videos_without_predictions"] == 1
    assert "2 videos (subset test), 2 ground-truth segments (1 ignored: Ambiguous)" in capsys.readouterr().out
    # Without --subset every video is scored (v3 holds another Run instance), and Ambiguous is a class.
    assert main(["evaluate", "--references", gt, "--predictions", pred, "--output", str(out)]) == 0
    assert json.loads(out.read_text())["per_class_AP"]["Ambiguous"][0] == 1.0


def test_predictions_of_other_subsets_are_left_out_with_a_warning(files, capsys):
    tmp_path, gt, _, _, preds = files
    preds["results"]["v3"] = [{"segment": [0.0, 3.0], "label": "Run", "score": 0.99}]
    pred = write(tmp_path / "pred2.json", preds)
    out = tmp_path / "m.json"
    assert main(["evaluate", "--references", gt, "--predictions", pred, "--subset", "test", "--output", str(out)]) == 0
    assert "warning: left out 1 predictions for 1 video(s) outside subset 'test'" in capsys.readouterr().err
    assert json.loads(out.read_text())["per_class_AP"]["Run"] == [0.0] * 5


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda g, p: p["results"].update(v9=[]), "pred.json: 1 video(s) not in the ground truth"),
        (
            lambda g, p: p["results"]["v1"].append({"segment": [3.0, 2.0], "label": "Jump", "score": 0.5}),
            "pred.json: predictions of video 'v1', item 2: 'segment' end < start",
        ),
        (
            lambda g, p: p["results"]["v1"].append({"segment": [1.0, 2.0], "label": "Jump"}),
            "pred.json: predictions of video 'v1', item 2: missing field 'score'",
        ),
        (
            lambda g, p: p["results"].update(v2={"segment": [1, 2]}),
            "pred.json: video 'v2': expected a list of detections",
        ),
        (
            lambda g, p: g["database"]["v2"]["annotations"].append({"segment": [1.0, "x"], "label": "Run"}),
            "gt.json: references of video 'v2', item 1: 'segment' must be two numbers",
        ),
        (lambda g, p: g["database"]["v2"].pop("annotations"), "gt.json: video 'v2': \"annotations\" must be a list"),
        (lambda g, p: g["database"]["v2"].pop("subset"), "gt.json: video 'v2': no \"subset\" field"),
        (lambda g, p: g.pop("database"), 'gt.json: expected a JSON object with a "database" object'),
        (
            lambda g, p: [d.update(label=3) for d in p["results"]["v1"]],
            "predictions labels are ints but references labels are strs",
        ),
        (
            lambda g, p: p["results"]["v1"][0].update(label=3),
            "predictions of video 'v1', item 1: 'label' 'Ambiguous' is a str but earlier labels are ints",
        ),
    ],
)
def test_errors_name_the_file_and_video(files, capsys, change, message):
    tmp_path, _, _, gt, preds = files
    change(gt, preds)
    gt_path, pred_path = write(tmp_path / "gt.json", gt), write(tmp_path / "pred.json", preds)
    assert main(["evaluate", "--references", gt_path, "--predictions", pred_path, "--subset", "test"]) == 1
    err = capsys.readouterr().err
    assert message in err, err


def test_usage_errors(files, capsys):
    tmp_path, gt, pred, _, _ = files
    assert main(["evaluate", "--references", gt, "--predictions", pred, "--subset", "train"]) == 1
    assert "no ground-truth video in subset 'train' (subsets found: ['test', 'val'])" in capsys.readouterr().err
    assert main(["evaluate", "--references", gt]) == 2
    assert main(["evaluate", "--example", "--references", gt]) == 2
    assert main(["evaluate", "--references", str(tmp_path / "missing.json"), "--predictions", pred]) == 1
    assert "missing.json: cannot read the ground truth file" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["evaluate", "--references", str(tmp_path / "bad.json"), "--predictions", pred]) == 1
    assert "bad.json: not valid JSON" in capsys.readouterr().err


def test_console_command_runs_the_example():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-m", "momentzoo.cli", "evaluate", "--example", "--per_class"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "6 videos (subset test)" in done.stdout and "CricketShot" in done.stdout


@pytest.mark.real_data
def test_thumos14_ground_truth_as_detections_scores_one(real_data, tmp_path):
    gt = real_data / "thumos14" / "thumos14_annotations.json"
    database = json.loads(gt.read_text())["database"]
    results = {v: [dict(a, score=1.0) for a in entry["annotations"]] for v, entry in database.items()}
    pred = write(tmp_path / "pred.json", {"results": results})
    out = tmp_path / "m.json"
    assert (
        main(
            [
                "evaluate",
                "--references",
                str(gt),
                "--predictions",
                pred,
                "--subset",
                "test",
                "--ignore_labels",
                "Ambiguous",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["average_mAP"] == 1.0 and len(report["per_class_AP"]) == 20
    assert report["evaluation"]["videos"] == 213 and report["evaluation"]["videos_of_other_subsets_left_out"] == 200
