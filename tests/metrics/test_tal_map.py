import json
import random

import evaluate
import numpy as np
import pytest
import torch
from reference_tal_map import loop_tal_map

import momentzoo.metrics
from momentzoo.metrics import TemporalActionLocalizationMAP
from momentzoo.metrics._common import paired_segment_iou
from momentzoo.metrics.tal_map import compute_tal_map
from momentzoo.segments import segment_iou


def det(s, e, score, label="a"):
    return {"segment": [s, e], "score": score, "label": label}


def gt(s, e, label="a"):
    return {"segment": [s, e], "label": label}


def test_card_example():
    refs = [[gt(1.0, 5.0, "Jump"), gt(8.0, 9.0, "Run")]]
    preds = [[det(1.5, 5.0, 0.9, "Jump"), det(1.0, 5.0, 0.8, "Jump")]]
    assert compute_tal_map(preds, refs, [0.5, 0.9]) == {
        "mAP@0.5": 0.5,
        "mAP@0.9": 0.25,
        "average_mAP": 0.375,
        "per_class_AP": {"Jump": [1.0, 0.5], "Run": [0.0, 0.0]},
    }


def test_voc2011_all_point_interpolation():
    # Ranked TP, FP, TP over 2 ground truths: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    # Interpolated: recall 0 -> 1/2 at precision 1, 1/2 -> 1 at precision 2/3: AP = 1/2 + 1/3.
    refs = [[gt(0, 10), gt(20, 30)]]
    preds = [[det(0, 10, 0.9), det(40, 50, 0.8), det(20, 30, 0.7)]]
    assert compute_tal_map(preds, refs, [0.5])["mAP@0.5"] == pytest.approx(0.5 + 1 / 3, abs=1e-15)


def test_prediction_takes_the_highest_tiou_free_ground_truth():
    # p1 overlaps g1 (tIoU 7/11) and g2 (7/9): it must take g2, leaving g1 for p2 (tIoU 0.9).
    # Taking the first overlapping ground truth instead would make p2 a false positive (tIoU with g2 5/12).
    refs = [[gt(0, 10), gt(4, 12)]]
    preds = [[det(3, 11, 0.9), det(0, 9, 0.8)]]
    assert compute_tal_map(preds, refs, [0.5])["mAP@0.5"] == 1.0
    # At 0.8 p1 (best tIoU 0.78) is a false positive and p2 (0.9) still a hit: precision 1/2 at recall 1/2.
    assert compute_tal_map(preds, refs, [0.8])["mAP@0.8"] == 0.25


def test_equal_scores_keep_input_order():
    refs = [[gt(0, 10)]]
    fp, tp = det(50, 60, 0.5), det(0, 10, 0.5)
    assert compute_tal_map([[fp, tp]], refs, [0.5])["mAP@0.5"] == 0.5
    assert compute_tal_map([[tp, fp]], refs, [0.5])["mAP@0.5"] == 1.0
    # Across videos too: input order is video order, then order within the video.
    assert compute_tal_map([[tp], [fp]], [[gt(0, 10)], []], [0.5])["mAP@0.5"] == 1.0
    assert compute_tal_map([[fp], [tp]], [[], [gt(0, 10)]], [0.5])["mAP@0.5"] == 0.5


def test_each_ground_truth_is_matched_once_and_matching_is_per_video_and_class():
    refs = [[gt(0, 10, "a")], [gt(0, 10, "a")]]
    preds = [
        [det(0, 10, 0.9, "a"), det(0, 10, 0.8, "a"), det(0, 10, 0.7, "b")],  # duplicate; class b has no GT
        [],
    ]
    # a: TP, FP, and the second video's instance is missed: precision 1 at recall 1/2 -> AP 1/2.
    result = compute_tal_map(preds, refs, [0.5])
    assert result["per_class_AP"] == {"a": [0.5]}
    assert result["mAP@0.5"] == 0.5
    # A prediction in a video with no ground truth of its class is a false positive.
    refs = [[gt(0, 10, "a")], [gt(0, 10, "b")]]
    preds = [[det(0, 10, 0.5, "a")], [det(0, 10, 0.9, "a"), det(0, 10, 0.9, "b")]]
    assert compute_tal_map(preds, refs, [0.5])["per_class_AP"] == {"a": [0.5], "b": [1.0]}


def test_class_without_predictions_scores_zero_and_classes_without_ground_truth_are_not_averaged():
    refs = [[gt(0, 10, "a"), gt(20, 30, "b")]]
    base = compute_tal_map([[det(0, 10, 0.9, "a")]], refs, [0.5])
    assert base["per_class_AP"] == {"a": [1.0], "b": [0.0]} and base["mAP@0.5"] == 0.5
    extra = compute_tal_map([[det(0, 10, 0.9, "a"), det(20, 30, 0.99, "z")]], refs, [0.5])
    assert extra == base


def test_ignore_labels_drops_ground_truth_and_predictions():
    refs = [[gt(0, 10, "Jump"), gt(20, 30, "Ambiguous")]]
    preds = [[det(0, 10, 0.9, "Jump"), det(20, 30, 0.95, "Ambiguous")]]
    result = compute_tal_map(preds, refs, [0.5], ignore_labels=["Ambiguous"])
    assert result["per_class_AP"] == {"Jump": [1.0]} and result["mAP@0.5"] == 1.0
    assert compute_tal_map(preds, refs, [0.5], ignore_labels="Ambiguous") == result
    assert compute_tal_map(preds, refs, [0.5])["per_class_AP"] == {"Ambiguous": [1.0], "Jump": [1.0]}


def test_integer_labels_and_output_keys():
    refs = [[gt(0, 10, 3), gt(20, 30, 7)]]
    preds = [[det(0, 10, 0.9, 3), det(21, 30, 0.8, 7)]]
    result = compute_tal_map(preds, refs, [0.5, 0.95, 0.3])
    assert list(result) == ["mAP@0.5", "mAP@0.95", "mAP@0.3", "average_mAP", "per_class_AP"]
    assert result["per_class_AP"] == {3: [1.0, 1.0, 1.0], 7: [1.0, 0.0, 1.0]}
    assert all(type(k) is int for k in result["per_class_AP"])


def test_numpy_numbers_and_tuples_are_accepted():
    refs = [[{"segment": (np.float32(0), np.int64(10)), "label": np.int64(3)}]]
    preds = [[{"segment": np.array([0.0, 10.0]), "score": np.float32(0.5), "label": 3}]]
    assert compute_tal_map(preds, refs, [0.5]) == {"mAP@0.5": 1.0, "average_mAP": 1.0, "per_class_AP": {3: [1.0]}}


def test_zero_length_and_touching_segments_never_match():
    refs = [[gt(5, 5), gt(0, 10)]]
    preds = [[det(5, 5, 0.9), det(10, 20, 0.8)]]
    assert compute_tal_map(preds, refs, [0.1])["mAP@0.1"] == 0.0


def test_paired_iou_equals_segment_iou():
    a, b = torch.rand(50, 2).sort(dim=1).values * 10, torch.rand(7, 2).sort(dim=1).values * 10
    b[0] = torch.tensor([3.0, 3.0])
    pairs = paired_segment_iou(a[:, None, :], b[None, :, :])
    assert torch.equal(pairs, segment_iou(a, b))


def random_case(rng, num_videos, labels, grid):
    """Random videos on a coarse grid (equal tIoUs and equal scores happen often)."""
    refs, preds = [], []
    for _ in range(num_videos):
        refs.append([])
        for _ in range(rng.randint(0, 6)):
            s = rng.randrange(0, grid)
            refs[-1].append(gt(float(s), float(s + rng.randint(0, 4)), rng.choice(labels)))
        preds.append([])
        for _ in range(rng.randint(0, 15)):
            s = rng.randrange(0, grid)
            preds[-1].append(
                det(
                    float(s),
                    float(s + rng.randint(0, 5)),
                    rng.choice([0.2, 0.5, 0.9, rng.random()]),
                    rng.choice(labels + ["x"]),
                )
            )
    return preds, refs


@pytest.mark.parametrize("seed", range(6))
def test_matches_loop_reference_on_random_inputs(seed):
    rng = random.Random(seed)
    thresholds = (0.1, 0.3, 0.5, 0.7, 0.95)
    for _ in range(25):
        preds, refs = random_case(rng, rng.randint(1, 6), ["a", "b", "c"], grid=20)
        if not any(r["label"] != "c" for video in refs for r in video):
            continue
        assert compute_tal_map(preds, refs, thresholds, ["c"]) == loop_tal_map(preds, refs, thresholds, ["c"])


@pytest.mark.parametrize(
    "preds, refs, message",
    [
        ([[{"segment": [0, 1], "label": "a"}]], [[gt(0, 1)]], "predictions of video 0, item 0: missing field 'score'"),
        ([[det(0, 1, 0.5)]], [[{"label": "a"}]], "references of video 0, item 0: missing field 'segment'"),
        (
            [[det(0, 1, 0.5)], [det(0, 1, 0.5), det(0, float("nan"), 0.5)]],
            [[gt(0, 1)], []],
            "predictions of video 1, item 1: 'segment' must be finite",
        ),
        ([[det(2, 1, 0.5)]], [[gt(0, 1)]], "predictions of video 0, item 0: 'segment' end < start"),
        (
            [[det(0, 1, 0.5)]],
            [[gt(0, 1), {"segment": [0, 1, 2], "label": "a"}]],
            "references of video 0, item 1: 'segment' must be two numbers",
        ),
        ([[det(0, 1, 0.5)]], [[{"segment": ["0", "1"], "label": "a"}]], "'segment' must be two numbers"),
        ([[det(0, 1, float("inf"))]], [[gt(0, 1)]], "'score' must be finite"),
        ([[det(0, 1, "high")]], [[gt(0, 1)]], "predictions of video 0, item 0: 'score' must be a number"),
        ([[det(0, 1, None)]], [[gt(0, 1)]], "'score' must be a number"),
        ([[det(0, 1, 0.5)]], [[gt(0, 1), None]], "references of video 0, item 1: expected a dict"),
        ([[det(0, 1, 0.5)], None], [[gt(0, 1)], []], "predictions of video 1: expected a list of dicts, got NoneType"),
        ([[det(0, 1, 0.5, None)]], [[gt(0, 1)]], "'label' must be a str or an int"),
        (
            [[det(0, 1, 0.5, "a"), det(0, 1, 0.5, 2)]],
            [[gt(0, 1)]],
            "predictions of video 0, item 1: 'label' 2 is a int",
        ),
        ([[det(0, 1, 0.5, 1)]], [[gt(0, 1, "a")]], "predictions labels are ints but references labels are strs"),
        ([[det(0, 1, 0.5)], []], [[gt(0, 1)]], "predictions has 2 videos but references has 1"),
        ([det(0, 1, 0.5)], [[gt(0, 1)]], "predictions of video 0: expected a list of dicts, got dict"),
        ([[[0, 1, 0.5]]], [[gt(0, 1)]], "predictions of video 0, item 0: expected a dict"),
        ("x", [[gt(0, 1)]], "predictions must be a list"),
        ([[det(0, 1, 0.5)]], [[gt(0, 1, "Ambiguous")]], "no ground truth"),
    ],
)
def test_bad_inputs_name_the_video_item_and_field(preds, refs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        compute_tal_map(preds, refs, ignore_labels=["Ambiguous"])


@pytest.mark.parametrize("thresholds", [[], [0.0], [1.5], [0.5, 0.50], "0.5"])
def test_bad_thresholds(thresholds):
    with pytest.raises(ValueError, match="iou_thresholds"):
        compute_tal_map([[det(0, 1, 0.5)]], [[gt(0, 1)]], thresholds)


def test_bad_ignore_label_kind():
    with pytest.raises(ValueError, match="ignore_labels entry 3"):
        compute_tal_map([[det(0, 1, 0.5)]], [[gt(0, 1)]], ignore_labels=[3])


def test_video_ids_name_videos_in_errors():
    with pytest.raises(ValueError, match="references of video 'vid_b', item 0: 'segment' end < start"):
        compute_tal_map([[], []], [[gt(0, 1)], [gt(3, 2)]], video_ids=["vid_a", "vid_b"])


def test_evaluate_load_offline_matches_the_function(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = evaluate.load(momentzoo.metrics.path("tal_map"))
    rng = random.Random(0)
    preds, refs = random_case(rng, 8, ["a", "b"], grid=30)
    refs[0].append(gt(1.0, 3.0, "a"))
    expected = compute_tal_map(preds, refs)
    assert metric.compute(predictions=preds, references=refs) == expected
    # Batches and single videos accumulate like one call.
    metric.add_batch(predictions=preds[:3], references=refs[:3])
    for p, r in zip(preds[3:], refs[3:]):
        metric.add(prediction=p, reference=r)
    assert metric.compute() == expected
    # Integer labels go through evaluate's Arrow cache as integers.
    int_refs = [[dict(r, label=ord(r["label"])) for r in v] for v in refs]
    int_preds = [[dict(p, label=ord(p["label"])) for p in v] for v in preds]
    result = metric.compute(predictions=int_preds, references=int_refs, iou_thresholds=[0.5])
    assert result == compute_tal_map(int_preds, int_refs, [0.5])
    assert set(result["per_class_AP"]) == {97, 98}


def test_metric_class_validates_before_evaluate_sees_the_input():
    metric = TemporalActionLocalizationMAP()
    with pytest.raises(ValueError, match="predictions of video 0, item 0: missing field 'label'"):
        metric.compute(predictions=[[{"segment": [0, 1], "score": 0.5}]], references=[[gt(0, 1)]])
    metric = TemporalActionLocalizationMAP()
    metric.add_batch(predictions=[[det(0, 1, 0.5, "a")]], references=[[gt(0, 1, "a")]])
    with pytest.raises(ValueError, match="labels are ints but earlier batches had strs"):
        metric.add_batch(predictions=[[det(0, 1, 0.5, 1)]], references=[[gt(0, 1, 1)]])


def thumos_test(real_data):
    database = json.loads((real_data / "thumos14" / "thumos14_annotations.json").read_text())["database"]
    videos = [v for v in database.values() if v["subset"] == "test"]
    return [[gt(*a["segment"], a["label"]) for a in v["annotations"]] for v in videos]


@pytest.mark.real_data
def test_thumos14_ground_truth_as_predictions_scores_one(real_data):
    refs = thumos_test(real_data)
    preds = [[dict(r, score=1.0) for r in video] for video in refs]
    result = TemporalActionLocalizationMAP().compute(predictions=preds, references=refs, ignore_labels=["Ambiguous"])
    assert len(result["per_class_AP"]) == 20 and "Ambiguous" not in result["per_class_AP"]
    assert all(result[f"mAP@{t:g}"] == 1.0 for t in (0.3, 0.4, 0.5, 0.6, 0.7))
    assert result["average_mAP"] == 1.0

    rng = random.Random(0)
    labels = sorted({r["label"] for video in refs for r in video} - {"Ambiguous"})
    shuffled = [[dict(p, label=rng.choice(labels)) for p in video] for video in preds]
    low = compute_tal_map(shuffled, refs, ignore_labels=["Ambiguous"])
    assert low["average_mAP"] < 0.3


@pytest.mark.real_data
def test_thumos14_jittered_predictions_equal_the_loop_reference(real_data):
    refs = thumos_test(real_data)
    rng = np.random.default_rng(0)
    labels = sorted({r["label"] for video in refs for r in video} - {"Ambiguous"})
    preds = []
    for video in refs:
        preds.append([])
        for r in video:
            s, e = r["segment"]
            for _ in range(2):
                js, je = np.sort([s, e] + rng.normal(0, 0.2 * (e - s), 2))
                label = r["label"] if rng.random() > 0.2 else labels[rng.integers(len(labels))]
                preds[-1].append(det(float(js), float(je), float(rng.choice([0.3, 0.6, rng.random()])), label))
    fast = compute_tal_map(preds, refs, ignore_labels=["Ambiguous"])
    assert fast == loop_tal_map(preds, refs, ignore_labels=("Ambiguous",))
    assert 0.2 < fast["mAP@0.7"] < fast["mAP@0.3"] < 1.0
