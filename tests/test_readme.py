"""Every ```python block of the README runs, offline, with tiny models.

Each block is matched to one entry of `BLOCKS` (by a line it contains): a setup that builds tiny local checkpoints
and data and returns the names the block uses plus the text substitutions that point its hub ids and file paths at
them. A block that cannot run offline is listed in `NOT_RUN` with the reason. A README block matched by no entry
(or by two) fails the test, so a new snippet has to be registered here.
"""

import json
import re
from pathlib import Path

import pytest
import torch
from data_builder_helpers import THUMOS_MINI, steps, write_features

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


# ----------------------------------------------------------------------------------------------------- setups
def pipelines_block(tmp_path):
    """`AutoModel` and both pipelines on a tiny ActionFormer (features of a tiny VideoMAE) and a tiny Qwen2.5-VL."""
    from momentzoo.data import make_synthetic_video_dataset
    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoProcessor
    from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
    from momentzoo.testing import tiny_actionformer_config, tiny_videomae
    from momentzoo.testing.invert4tvg import tiny_invert4tvg_model

    torch.manual_seed(0)
    tiny_videomae(image_size=32, num_frames=4, hidden_size=32).save_pretrained(tmp_path / "videomae")
    config = tiny_actionformer_config(input_dim=32, fps=12.0, feature_stride=2, num_frames=4)
    ActionFormerForTemporalLocalization(config).save_pretrained(tmp_path / "actionformer")
    model, tokenizer = tiny_invert4tvg_model()
    model.save_pretrained(tmp_path / "qwen")
    tokenizer.save_pretrained(tmp_path / "qwen")
    Qwen2_5_VLVideoProcessor.from_model_config(
        model.config, min_pixels=28 * 28, total_pixels=32 * 28 * 28
    ).save_pretrained(tmp_path / "qwen")
    video = make_synthetic_video_dataset(
        tmp_path / "videos", num_videos=1, size=48, fps=12, min_duration=6.0, max_duration=6.0
    )[0]["video"]["path"]
    return {}, {
        '"path/to/checkpoint"': repr(str(tmp_path / "actionformer")),
        '"MCG-NJU/videomae-base"': repr(str(tmp_path / "videomae")),
        '"video.mp4"': repr(video),
        '"path/to/qwen2.5-vl-checkpoint"': repr(str(tmp_path / "qwen")),
    }


def actionformer_block(tmp_path):
    return {}, {}  # the paper's configuration, random weights: runs as it is


def actionvlm_block(tmp_path):
    """A tiny Qwen2 LM saved locally stands for Qwen2.5-1.5B; a small head and a few short synthetic videos."""
    from momentzoo.commands.quickstart import FAST_DATA, FAST_HEAD
    from momentzoo.data import make_synthetic_tal_dataset, synthetic_tal_metadata
    from momentzoo.testing import tiny_qwen2

    lm, tokenizer = tiny_qwen2(hidden_size=16, num_layers=1)
    lm.save_pretrained(tmp_path / "qwen2")
    tokenizer.save_pretrained(tmp_path / "qwen2")
    data = make_synthetic_tal_dataset(**{**FAST_DATA, "num_videos": {"train": 8, "test": 4}})
    metadata = synthetic_tal_metadata(data)
    namespace = {
        "id2label": dict(enumerate(metadata["class_names"])),
        "descriptions": metadata["class_descriptions"],
        "train": data["train"],
        "test": data["test"],
    }
    head = {k: v for k, v in FAST_HEAD.items()}
    return namespace, {
        '"Qwen/Qwen2.5-1.5B-Instruct"': repr(str(tmp_path / "qwen2")),
        "input_dim=2048": f"input_dim={FAST_DATA['feature_dim']}, **{head!r}",
        'output_dir="actionvlm")': f"output_dir={str(tmp_path / 'actionvlm')!r}, num_train_epochs=2, use_cpu=True, "
        'report_to="none", save_strategy="no", disable_tqdm=True)',
    }


def rewards_block(tmp_path):
    return {}, {}


def data_block(tmp_path):
    """The THUMOS14 builder on the bundled excerpt of the annotations, with random features for its videos."""
    videos = json.loads(THUMOS_MINI.read_text())["database"]
    # Features of each video's length at the builder's geometry (30 fps / stride 4): the builder checks it.
    lengths = {vid: steps(video["duration"], video["fps"], 4) for vid, video in videos.items()}
    write_features(tmp_path / "i3d", lengths, dim=6)
    return {}, {
        '"thumos14.json"': repr(str(THUMOS_MINI)),
        '"i3d/"': repr(str(tmp_path / "i3d")),
        'invalid_segments="drop")': f'invalid_segments="drop", cache_dir={str(tmp_path / "cache")!r})',
        "SyntheticTALConfig(num_classes=8, seed=0)": 'SyntheticTALConfig(num_classes=8, seed=0, num_videos={"train": 4})',
    }


def metrics_block(tmp_path):
    return {}, {}


def nms_block(tmp_path):
    """Random candidates stand for a model's."""
    generator = torch.Generator().manual_seed(0)
    starts = torch.rand(50, generator=generator) * 100
    segments = torch.stack([starts, starts + 1 + torch.rand(50, generator=generator) * 20], dim=1)
    scores, labels = torch.rand(50, generator=generator), torch.randint(0, 3, (50,), generator=generator)
    return {"segments": segments, "scores": scores, "labels": labels}, {}


# A line of the block -> its setup.
BLOCKS = {
    'tal = pipeline("temporal-action-localization"': pipelines_block,
    "model = ActionFormerForTemporalLocalization(ActionFormerConfig())": actionformer_block,
    "ActionVLMForTemporalLocalization.from_backbones(": actionvlm_block,
    'parse_window("<think>...</think> <answer>12.3 to 15.0</answer>")': rewards_block,
    'builder = Thumos14Builder(annotation_file="thumos14.json"': data_block,
    'tal_map = evaluate.load(momentzoo.metrics.path("tal_map"))': metrics_block,
    "segments, scores, labels = batched_nms(": nms_block,
}
# A line of the block -> why it does not run offline.
NOT_RUN = {
    'trainer.push_to_hub(dataset="momentzoo-synthetic-tal")': "trains, pushes and pulls through the Hub; "
    "tests/test_readme_models.py runs it as written against a local Hub server",
    'model.push_to_hub("your-name/actionformer-thumos14"': "uploads to the Hub; tests/hub/test_hub.py runs "
    "save_pretrained and push_to_hub against a local Hub server",
}


def _entry(block: str):
    found = [key for key in (*BLOCKS, *NOT_RUN) if key in block]
    assert len(found) == 1, f"README block matches {found or 'no entry'} of tests/test_readme.py:\n{block}"
    return found[0]


def test_every_block_is_registered():
    keys = [_entry(block) for block in readme_blocks()]
    assert sorted(keys) == sorted([*BLOCKS, *NOT_RUN]), "an entry of BLOCKS / NOT_RUN matches no README block"


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_block_runs(index, tmp_path, monkeypatch):
    block = readme_blocks()[index]
    key = _entry(block)
    if key in NOT_RUN:
        pytest.skip(NOT_RUN[key])
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    namespace, substitutions = BLOCKS[key](tmp_path)
    for old, new in substitutions.items():
        assert old in block, f"substitution {old!r} no longer matches the README block"
        block = block.replace(old, new)
    exec(compile(block, f"README.md block {index}", "exec"), {"__name__": "readme", **namespace})
