"""The real THUMOS14 weak annotations (../shared/data/thumos14_reduced) through the MLLM4WTAL recipe's loading and
checks: 200 training videos, each with a video-level label, and the missing descriptions reported."""

import warnings

import pytest

from momentzoo.training.mllm4wtal import check_weak_dataset, load_wtal_dataset


@pytest.mark.real_data
def test_thumos14_weak_annotations_load_and_pass_the_weak_checks(real_data, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the known ambiguous-segment lines of videos left out of the layout
        data = load_wtal_dataset(
            "thumos14_weak",
            {"annotation_dir": str(real_data / "thumos14_reduced"), "invalid_segments": "drop"},
            cache_dir=str(tmp_path),
        )
    assert (len(data["val"]), len(data["test"])) == (200, 212)
    check_weak_dataset(data["val"], descriptions=False)  # every training video has a video-level label
    with pytest.raises(ValueError, match="momentzoo describe"):
        check_weak_dataset(data["val"])
