"""`pipeline("temporal-video-grounding")` on synthetic and real videos with a tiny Qwen2.5-VL."""

import json

import numpy as np
import pytest
import torch
from torch_threads import one_torch_thread  # noqa: F401  (fixture)
from transformers import LogitsProcessor, LogitsProcessorList, pipeline

import momentzoo  # noqa: F401  (registers the pipeline)
from momentzoo.pipelines import TemporalVideoGroundingPipeline

REAL_QIDS = {14068, 14069, 14070, 14071, 14072, 14073}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoProcessor
    from momentzoo.testing.invert4tvg import tiny_invert4tvg_model

    torch.manual_seed(0)
    model, tokenizer = tiny_invert4tvg_model()
    folder = tmp_path_factory.mktemp("checkpoint")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    Qwen2_5_VLVideoProcessor.from_model_config(
        model.config, min_pixels=28 * 28, total_pixels=32 * 28 * 28
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def grounder(checkpoint):
    return pipeline("temporal-video-grounding", model=str(checkpoint))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from momentzoo.data import make_synthetic_video_dataset

    rows = make_synthetic_video_dataset(
        tmp_path_factory.mktemp("videos"), num_videos=1, size=48, fps=12, min_duration=8.0, max_duration=8.0
    )
    return rows[0]["video"]["path"], float(rows[0]["duration"])


class ForceAnswer(LogitsProcessor):
    """Makes `generate` write a given text (to test the parsing path with a random model)."""

    def __init__(self, tokenizer, text):
        self.ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        self.start = None

    def __call__(self, input_ids, scores):
        self.start = input_ids.shape[1] if self.start is None else self.start
        step = input_ids.shape[1] - self.start
        forced = torch.full_like(scores, -float("inf"))
        forced[:, self.ids[min(step, len(self.ids) - 1)]] = 0.0
        return forced


def _well_formed(predictions, duration):
    assert isinstance(predictions, list)
    for p in predictions:
        assert set(p) == {"segment", "score"}
        s, e = p["segment"]
        assert 0.0 <= s <= e <= duration + 1e-6 and 0.0 <= p["score"] <= 1.0


def test_registered_and_built_from_a_saved_checkpoint(grounder, checkpoint):
    from transformers.pipelines import PIPELINE_REGISTRY

    assert "temporal-video-grounding" in PIPELINE_REGISTRY.get_supported_tasks()
    assert isinstance(grounder, TemporalVideoGroundingPipeline)
    assert grounder.grounding.frame_processor.total_pixels == 32 * 28 * 28  # momentzoo_video_processor.json was read


def test_forced_answer_is_parsed_into_seconds(grounder, video):
    path, duration = video
    answer = "<think>the square moves.</think> <answer>1.50 to 3.25</answer>"
    out = grounder(
        path,
        query="the square moves to the right",
        max_new_tokens=40,
        generate_kwargs={"logits_processor": LogitsProcessorList([ForceAnswer(grounder.tokenizer, answer)])},
    )
    assert out[0]["segment"] == pytest.approx([1.5, 3.25]) and out[0]["score"] == pytest.approx(1.0)
    # Within [start, end) the model's times are relative to the part it saw; windows are clipped to it.
    out = grounder(
        path,
        query="the square moves",
        start=2.0,
        end=6.0,
        max_new_tokens=40,
        return_answer=True,
        generate_kwargs={
            "logits_processor": LogitsProcessorList([ForceAnswer(grounder.tokenizer, answer.replace("3.25", "30"))])
        },
    )
    assert out["answer"] == answer.replace("3.25", "30")
    assert out["predictions"][0]["segment"] == pytest.approx([3.5, 6.0])
    _well_formed(out["predictions"], duration)


def test_free_generation_batches_and_frames(grounder, video):
    path, duration = video
    out = grounder(
        [
            {"video": path, "query": "the square moves to the right"},
            {"video": path, "query": "the square shrinks", "start": 1.0, "end": 5.0},
        ],
        max_new_tokens=12,
    )
    assert len(out) == 2
    for predictions in out:
        _well_formed(predictions, duration)
    frames = np.random.default_rng(0).integers(0, 256, size=(12, 48, 64, 3), dtype=np.uint8)
    got = grounder({"video": frames, "query": "the square grows", "fps": 2.0}, max_new_tokens=12, return_answer=True)
    assert isinstance(got["answer"], str)
    _well_formed(got["predictions"], 6.0)


def test_bad_inputs(grounder, video):
    path, _ = video
    with pytest.raises(ValueError, match="query"):
        grounder(path)
    with pytest.raises(ValueError, match="not found"):
        grounder(path + ".missing", query="x")
    with pytest.raises(ValueError, match="fps"):
        grounder(np.zeros((4, 32, 32, 3), dtype=np.uint8), query="x")
    with pytest.raises(ValueError, match="unknown argument"):
        grounder(path, query="x", tempreature=0.5)


def test_batch_size_two_and_generation_arguments(grounder, video):
    # What a transformers user writes: a list of inputs with batch_size, and sampling arguments passed directly.
    path, duration = video
    answer = "<think>the square moves.</think> <answer>1.50 to 3.25</answer>"
    queries = [
        {"video": path, "query": "the square moves to the right"},
        {"video": path, "query": "the square shrinks", "start": 1.0, "end": 5.0},
        {"video": path, "query": "the square grows"},
    ]
    forced = LogitsProcessorList([ForceAnswer(grounder.tokenizer, answer)])
    batched = grounder(queries, batch_size=2, max_new_tokens=40, logits_processor=forced)
    assert len(batched) == 3
    assert batched[0][0]["segment"] == pytest.approx([1.5, 3.25])
    assert batched[1][0]["segment"] == pytest.approx([2.5, 4.25])  # within [1, 5): shifted to video time
    assert batched[0][0]["score"] == pytest.approx(1.0)
    # free generation: batched answers equal those generated one at a time (greedy; left padding is masked)
    one_by_one = [grounder(q, max_new_tokens=12, return_answer=True)["answer"] for q in queries]
    two_by_two = [out["answer"] for out in grounder(queries, batch_size=2, max_new_tokens=12, return_answer=True)]
    assert two_by_two == one_by_one
    torch.manual_seed(0)
    sampled = grounder(queries[0], max_new_tokens=12, do_sample=True, temperature=1.5, top_k=0, return_answer=True)
    torch.manual_seed(0)
    again = grounder(
        queries[0],
        max_new_tokens=12,
        generate_kwargs={"do_sample": True, "temperature": 1.5, "top_k": 0},
        return_answer=True,
    )
    assert sampled["answer"] == again["answer"] != one_by_one[0]  # sampled, not greedy
    _well_formed(sampled["predictions"], duration)


@pytest.mark.real_data
def test_real_charades_video_and_queries(grounder, real_data):
    with open(real_data / "charades_sta" / "charades_sta_test.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if r["qid"] in REAL_QIDS]
    assert len(rows) == 6 and {r["vid"] for r in rows} == {"OHOFG"}
    video = str(real_data / "videos" / "charades_OHOFG.mp4")
    outputs = grounder([{"video": video, "query": r["query"]} for r in rows], max_new_tokens=16, return_answer=True)
    assert len(outputs) == 6
    for out, row in zip(outputs, rows):
        assert isinstance(out["answer"], str)
        _well_formed(out["predictions"], row["duration"])
