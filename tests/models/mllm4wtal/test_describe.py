"""`momentzoo describe`'s logic: descriptions written with a (tiny, offline) Qwen2.5-VL, cached as they come, resumed
after a kill without describing a video twice, a cut last line tolerated, and saved as dataset columns."""

import json
import warnings

import datasets
import pytest
import torch
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)

from momentzoo.cli import build_parser
from momentzoo.testing import tiny_qwen2_5_vl
from momentzoo.training.mllm4wtal.describe import (
    COMPLETE_PROMPT,
    KEY_PROMPT,
    QwenVideoDescriber,
    describe_dataset,
    read_description_cache,
)

CLASSES = ["open door", "close door"]


def rows(n=4):
    return datasets.Dataset.from_dict(
        {"video_id": [f"v{i}" for i in range(n)], "video": [f"v{i}.mp4" for i in range(n)]}
    )


class Killed(Exception):
    pass


class FakeDescriber:
    """Answers from the prompt and video; raises `Killed` once `kill_after` videos were described."""

    def __init__(self, kill_after=None):
        self.calls, self.kill_after = [], kill_after

    def __call__(self, video, prompt):
        seen = {v for v, _ in self.calls}
        if self.kill_after is not None and video not in seen and len(seen) == self.kill_after:
            raise Killed
        self.calls.append((video, prompt))
        return f"{'key' if 'key moments' in prompt else 'all'} {video}"


def test_describe_resumes_after_a_kill_without_repeating_videos(tmp_path):
    cache = tmp_path / "descriptions.jsonl"
    first = FakeDescriber(kill_after=2)
    with pytest.raises(Killed):
        describe_dataset(rows(), first, cache, CLASSES)
    assert sorted(read_description_cache(cache)) == ["v0", "v1"]
    # a kill during the write of the third record leaves a cut line: ignored, that video is described again
    with open(cache, "a") as f:
        f.write('{"video_id": "v2", "key_descr')
    second = FakeDescriber()
    out = describe_dataset(rows(), second, cache, CLASSES)
    assert sorted({v for v, _ in second.calls}) == ["v2.mp4", "v3.mp4"]  # v0, v1 came from the cache
    assert len(second.calls) == 4  # two prompts per video
    assert out["video_id"] == ["v0", "v1", "v2", "v3"]
    assert out["key_description"][3] == "key v3.mp4" and out["complete_description"][0] == "all v0.mp4"
    prompts = {p for _, p in second.calls}
    assert prompts == {
        KEY_PROMPT.format(classes="open door, close door"),
        COMPLETE_PROMPT.format(classes="open door, close door"),
    }


def test_a_malformed_cache_line_is_an_error_naming_it(tmp_path):
    cache = tmp_path / "c.jsonl"
    cache.write_text('not json\n{"video_id": "v0", "key_description": "a", "complete_description": "b"}\n')
    with pytest.raises(ValueError, match="line 1"):
        read_description_cache(cache)


def test_empty_answers_are_kept_and_warned(tmp_path):
    with pytest.warns(UserWarning, match="2 video"):
        out = describe_dataset(rows(2), lambda video, prompt: "  ", tmp_path / "c.jsonl", CLASSES)
    assert out["key_description"] == ["", ""]


def two_short_videos(tmp_path):
    """Two 4 s synthetic mp4s at 4 fps, 56 pixels square."""
    from momentzoo.data import make_synthetic_video_dataset

    return make_synthetic_video_dataset(
        tmp_path / "videos",
        num_videos=2,
        size=56,
        fps=4,
        min_duration=4.0,
        max_duration=4.0,
        min_action_duration=1.0,
        max_action_duration=1.0,
    )


def test_describe_with_a_tiny_qwen2_5_vl(tmp_path):
    videos = two_short_videos(tmp_path)
    torch.manual_seed(0)
    model, tokenizer = tiny_qwen2_5_vl()
    describer = QwenVideoDescriber(model, tokenizer, max_new_tokens=6)
    describer.processor.video_processor.fps = 2.0
    data = videos.select_columns(["video_id", "video"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a random tiny model may answer with nothing
        out = describe_dataset(data, describer, tmp_path / "c.jsonl", CLASSES)
    assert out.column_names == ["video_id", "video", "key_description", "complete_description"]
    lines = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [line["video_id"] for line in lines] == data["video_id"]
    assert all(isinstance(line["key_description"], str) for line in lines)


def test_cli_has_the_describe_command():
    args = build_parser().parse_args(["describe", "--dataset", "x", "--model", "m", "--output_dir", "o"])
    assert args.command == "describe" and args.max_frames == 32 and args.fps == 1.0


def test_cli_describe_end_to_end_and_resumes(tmp_path):
    from momentzoo.cli import main

    videos = two_short_videos(tmp_path)
    datasets.DatasetDict({"train": videos}).save_to_disk(str(tmp_path / "data"))
    torch.manual_seed(0)
    model, tokenizer = tiny_qwen2_5_vl()
    model.save_pretrained(tmp_path / "vlm")
    tokenizer.save_pretrained(tmp_path / "vlm")
    argv = [
        "describe",
        "--dataset",
        str(tmp_path / "data"),
        "--model",
        str(tmp_path / "vlm"),
        "--output_dir",
        str(tmp_path / "out"),
        "--fps",
        "2",
        "--max_new_tokens",
        "4",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(argv) == 0
        cache = tmp_path / "out" / "descriptions_train.jsonl"
        first = cache.read_text()
        assert main(argv) == 0  # everything cached: nothing described again, the same columns
    assert cache.read_text() == first and len(first.splitlines()) == 2
    out = datasets.load_from_disk(str(tmp_path / "out" / "dataset"))["train"]
    assert {"key_description", "complete_description"} <= set(out.column_names)
