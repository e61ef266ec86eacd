"""pipeline("temporal-video-grounding") serves a saved TimeExpert: windows in seconds, dense captioning with a task
argument, and bad input."""

import numpy as np
import pytest
import torch
from common_model_tests import one_thread  # noqa: F401
from transformers import LogitsProcessor, pipeline

import momentzoo  # noqa: F401
from momentzoo.models.timeexpert import TimeExpertEvent
from momentzoo.pipelines import TemporalVideoGroundingPipeline
from momentzoo.pipelines.timeexpert_grounding import TimeExpertGrounding
from momentzoo.testing.timeexpert import tiny_timeexpert


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model, _ = tiny_timeexpert()
    path = tmp_path_factory.mktemp("timeexpert")
    model.save_pretrained(path)
    return path


class ForceAnswer(LogitsProcessor):
    """Makes the model write `ids` after the prompt."""

    def __init__(self, ids):
        self.ids, self.prompt = ids, None

    def __call__(self, input_ids, scores):
        self.prompt = input_ids.shape[1] if self.prompt is None else self.prompt
        step = input_ids.shape[1] - self.prompt
        forced = torch.full_like(scores, -1e9)
        forced[:, self.ids[min(step, len(self.ids) - 1)]] = 0
        return forced


def test_timeexpert_checkpoint_gives_windows_in_seconds(checkpoint):
    grounder = pipeline("temporal-video-grounding", model=str(checkpoint))
    # dispatched by the interface TimeExpertConfig declares, not by probing the model
    assert grounder.model.config.grounding_interface == "event_tokens"
    assert type(grounder) is TemporalVideoGroundingPipeline and isinstance(grounder.grounding, TimeExpertGrounding)
    layout = grounder.model.config.token_layout
    answer = layout.encode_events([TimeExpertEvent([2.5, 7.0])], grounder.tokenizer)
    features = np.random.default_rng(0).normal(size=(6, 4, 16)).astype(np.float32)
    result = grounder(
        {"frame_features": features, "duration": 12.0},
        query="a person opens the door",
        generate_kwargs={"logits_processor": [ForceAnswer(answer)]},
        return_answer=True,
    )
    assert result["predictions"] == [{"segment": [2.5, 7.0], "score": 1.0}]
    assert result["answer"] == "0002.5<sep>0007.0<sync><sync><sync>"
    free = grounder({"frame_features": features, "duration": 12.0}, query="a person opens the door", max_new_tokens=24)
    assert isinstance(free, list)  # an untrained model's answer: well-formed windows or []
    for item in free:
        assert 0 <= item["segment"][0] <= item["segment"][1] <= 12.0


def test_dense_captioning_through_the_task_argument(checkpoint):
    grounder = pipeline("temporal-video-grounding", model=str(checkpoint))
    layout = grounder.model.config.token_layout
    caption = grounder.tokenizer("a person opens the door", add_special_tokens=False)["input_ids"]
    answer = (
        layout.time_ids("0001.0<sep>0003.0")
        + [layout.time_sync_id, layout.score_sync_id]
        + caption
        + [layout.text_sync_id, layout.eos_token_id]
    )
    features = np.zeros((4, 4, 16), dtype=np.float32)
    result = grounder(
        {"frame_features": features, "duration": 8.0},
        task="dense_captioning",
        generate_kwargs={"logits_processor": [ForceAnswer(answer)]},
    )
    assert result == [{"segment": [1.0, 3.0], "caption": "a person opens the door"}]


def test_bad_inputs(checkpoint):
    grounder = pipeline("temporal-video-grounding", model=str(checkpoint))
    features = np.zeros((4, 4, 16), dtype=np.float32)
    with pytest.raises(ValueError, match="unknown TimeExpert task type"):
        grounder({"frame_features": features, "duration": 8.0}, query="q", task="grounding")
    with pytest.raises(ValueError, match="non-empty query"):
        grounder({"frame_features": features, "duration": 8.0})
    with pytest.raises(ValueError, match="pre-extracted frame features"):
        grounder(np.zeros((4, 8, 8, 3), dtype=np.uint8), query="q", fps=1.0)
    with pytest.raises(ValueError, match="beyond the end of the video"):
        grounder({"frame_features": features, "duration": 8.0, "frame_times": [0, 1, 2, 9]}, query="q")


def test_a_vision_encoder_checkpoint_reads_frames(tmp_path):
    from momentzoo.models.timeexpert import TimeExpertMoE
    from momentzoo.testing.timeexpert import tiny_timeexpert_config, tiny_timeexpert_tokenizer

    tokenizer = tiny_timeexpert_tokenizer()
    model = TimeExpertMoE(tiny_timeexpert_config(tokenizer, vision=True))
    assert not any(p.requires_grad for p in model.vision_model.parameters())  # frozen ViT (Table 1)
    model.tokenizer = tokenizer
    model.save_pretrained(tmp_path)
    grounder = pipeline("temporal-video-grounding", model=str(tmp_path), num_frames=3)
    layout = grounder.model.config.token_layout
    answer = layout.encode_events([TimeExpertEvent([1.0, 2.0])], grounder.tokenizer)
    frames = np.random.default_rng(0).integers(0, 255, size=(8, 40, 40, 3), dtype=np.uint8)
    result = grounder(
        {"video": frames, "fps": 2.0, "start": 10.0},
        query="a person opens the door",
        generate_kwargs={"logits_processor": [ForceAnswer(answer)]},
    )
    assert result == [{"segment": [11.0, 12.0], "score": 1.0}]
