"""QVHighlights MR mAP / HL mAP / HIT@1 against values computed by hand, through evaluate.load, and bad input."""

import evaluate
import pytest

import momentzoo.metrics
from momentzoo.metrics.highlight_detection import compute_highlight_detection

PREDICTIONS = [
    {
        "windows": [
            {"segment": [21.0, 30.0], "score": 0.8},
            {"segment": [0.0, 10.0], "score": 0.9},
            {"segment": [40.0, 50.0], "score": 0.7},
        ],
        "saliency": [0.1, 0.5, 0.9, 0.2],
    },
    {"windows": [], "saliency": [0.9, 0.1]},
]
REFERENCES = [
    {
        "windows": [[0.0, 10.0], [20.0, 30.0]],
        "relevant_clip_ids": [0, 2, 3],
        "saliency_scores": [[4, 4, 4], [1, 2, 4], [0, 0, 0]],
        "duration": 8.0,
    },
    {"windows": [[5.0, 7.0]], "relevant_clip_ids": [1], "saliency_scores": [[4, 4, 4]], "duration": 4.0},
]


def test_values_by_hand():
    result = compute_highlight_detection(PREDICTIONS, REFERENCES)
    # query 0: tIoUs 1.0 and 0.9 -> AP 1 up to 0.9, 0.5 at 0.95; query 1: no windows -> 0
    assert result["MR-mAP@0.5"] == pytest.approx(0.5) and result["MR-mAP@0.95"] == pytest.approx(0.25)
    assert result["MR-mAP"] == pytest.approx((9 * 1.0 + 0.5) / 10 / 2)
    # query 0 ranks clips 2,1,3,0: annotators a, b (positive: clip 0) AP 1/4, c (clips 0, 2) AP 0.75; query 1: 0.5
    assert result["HL-mAP"] == pytest.approx(((0.25 + 0.25 + 0.75) / 3 + 0.5) / 2)
    assert result["HL-HIT@1"] == pytest.approx(0.5)
    assert compute_highlight_detection(PREDICTIONS, REFERENCES, saliency_threshold="Fair")["HL-HIT@1"] == 0.5


def test_evaluate_load_gives_the_same_numbers():
    metric = evaluate.load(momentzoo.metrics.path("highlight_detection"))
    assert metric.compute(predictions=PREDICTIONS, references=REFERENCES) == pytest.approx(
        compute_highlight_detection(PREDICTIONS, REFERENCES)
    )


@pytest.mark.parametrize(
    "change, match",
    [
        ({"relevant_clip_ids": [0, 2, 9]}, "relevant_clip_ids"),
        ({"duration": 0}, "duration"),
    ],
)
def test_bad_references(change, match):
    with pytest.raises(ValueError, match=f"query 0: .*{match}"):
        compute_highlight_detection(PREDICTIONS, [{**REFERENCES[0], **change}, REFERENCES[1]])


def test_bad_predictions():
    with pytest.raises(ValueError, match="query 1: saliency has 3 scores but the video has 2 clips"):
        compute_highlight_detection([PREDICTIONS[0], {"windows": [], "saliency": [1, 2, 3]}], REFERENCES)
    with pytest.raises(ValueError, match="end >= start"):
        compute_highlight_detection([{"windows": [{"segment": [5, 1], "score": 1}], "saliency": []}], REFERENCES[:1])
    with pytest.raises(ValueError, match="saliency_threshold"):
        compute_highlight_detection(PREDICTIONS, REFERENCES, saliency_threshold="Great")
