"""The ```python blocks of the model cards run, offline, on tiny checkpoints: each family's card is rendered for a
tiny saved model (`model_id` = its folder, as `save_pretrained` writes it), its blocks are extracted and run with
the names they leave to the reader (`features`, `metadata`, ...) and their placeholders pointed at local files.
A block that cannot run offline is listed in `NOT_RUN` with the reason."""

import re

import pytest
import torch
from tiny_models import TinyDetectorConfig, TinyDetectorForTemporalLocalization, register_tiny_models

GEOMETRY = dict(fps=12.0, feature_stride=2, num_frames=4)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A tiny VideoMAE (ActionFormer's feature encoder), a tiny CLIP (PSFTR's frame and text encoders) and a video."""
    from momentzoo.data import make_synthetic_video_dataset
    from momentzoo.testing import tiny_clip, tiny_videomae

    root = tmp_path_factory.mktemp("assets")
    torch.manual_seed(0)
    tiny_videomae(image_size=32, num_frames=4, hidden_size=32).save_pretrained(root / "videomae")
    clip, tokenizer = tiny_clip()
    clip.save_pretrained(root / "clip")
    tokenizer.save_pretrained(root / "clip")
    rows = make_synthetic_video_dataset(
        root / "videos", num_videos=1, size=48, fps=12, min_duration=6.0, max_duration=6.0
    )
    return {"root": root, "video": rows[0]["video"]["path"]}


def feature_inputs(dim: int):
    features = torch.randn(2, 24, dim)
    mask = torch.ones(2, 24, dtype=torch.long)
    mask[1, 16:] = 0
    metadata = [{"duration": 4.0, **GEOMETRY}, {"duration": 3.0, **GEOMETRY}]
    return {"features": features, "mask": mask, "metadata": metadata}


def actionformer_card(tmp_path, assets):
    from momentzoo.data import make_synthetic_tal_dataset
    from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
    from momentzoo.testing import tiny_actionformer_config

    model = ActionFormerForTemporalLocalization(tiny_actionformer_config(input_dim=32, **GEOMETRY))
    model.save_pretrained(tmp_path / "ckpt")
    data = make_synthetic_tal_dataset(
        num_classes=3,
        num_confusable_pairs=1,
        feature_dim=32,
        num_videos={"test": 2},
        min_length=96,
        max_length=96,
        seed=0,
    )
    namespace = {"rows": list(data["test"])}
    return (
        tmp_path / "ckpt",
        namespace,
        {
            '"<the video encoder the features came from>"': repr(str(assets["root"] / "videomae")),
            '"video.mp4"': repr(assets["video"]),
        },
    )


def psftr_card(tmp_path, assets):
    from momentzoo.models.psftr import PSFTRModel
    from momentzoo.testing import tiny_psftr_config

    config = tiny_psftr_config(**{**GEOMETRY, "num_frames": 1}).to_dict()  # CLIP features: one frame each
    kwargs = {
        k: config[k]
        for k in (
            "hidden_size",
            "num_attention_heads",
            "ffn_dim",
            "dropout",
            "num_encoder_layers",
            "num_decoder_layers",
            "num_queries",
            "encoder_num_points",
            "decoder_num_points",
            "roi_size",
            "slice_size",
            "id2label",
            "input_dim",
            *GEOMETRY,
        )
    }
    model = PSFTRModel.from_backbones(str(assets["root"] / "clip"), **kwargs)
    model.save_pretrained(tmp_path / "ckpt")
    return (
        tmp_path / "ckpt",
        feature_inputs(model.config.input_dim),
        {
            '"openai/clip-vit-base-patch16"': repr(str(assets["root"] / "clip")),
            '"video.mp4"': repr(assets["video"]),
        },
    )


def actionvlm_card(tmp_path, assets):
    from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization
    from momentzoo.testing import tiny_actionvlm_config

    model = ActionVLMForTemporalLocalization(tiny_actionvlm_config(**GEOMETRY)).eval()
    model.save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt", {"model": model, **feature_inputs(model.config.input_dim)}, {}


def invert4tvg_card(tmp_path, assets):
    from momentzoo.data.qwen2_5_vl_video import Qwen2_5_VLVideoProcessor
    from momentzoo.testing.invert4tvg import tiny_invert4tvg_model
    from momentzoo.training.invert4tvg.card import render_invert4tvg_card

    model, tokenizer = tiny_invert4tvg_model()
    folder = tmp_path / "ckpt"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    Qwen2_5_VLVideoProcessor.from_model_config(
        model.config, min_pixels=28 * 28, total_pixels=32 * 28 * 28
    ).save_pretrained(folder)
    render_invert4tvg_card(str(folder)).save(folder / "README.md")  # as Invert4TVGTrainer.save_model writes it
    return folder, {}, {'"video.mp4"': repr(assets["video"])}


def delu_card(tmp_path, assets):
    from momentzoo.models.delu import DELUModel
    from momentzoo.testing import tiny_delu_config

    model = DELUModel(tiny_delu_config(**GEOMETRY))
    model.save_pretrained(tmp_path / "ckpt")
    inputs = feature_inputs(model.config.input_dim)
    return tmp_path / "ckpt", {**inputs, "video_features": inputs["features"][0].numpy()}, {}


def mllm4wtal_card(tmp_path, assets):
    from momentzoo.testing import tiny_delu_config, tiny_mllm4wtal

    model, _ = tiny_mllm4wtal(base_config=tiny_delu_config(**GEOMETRY))
    model.save_pretrained(tmp_path / "ckpt")
    inputs = feature_inputs(model.config.input_dim)
    return tmp_path / "ckpt", {**inputs, "video_features": inputs["features"][0].numpy()}, {}


def timeexpert_card(tmp_path, assets):
    from momentzoo.models.timeexpert import TimeExpertMoE
    from momentzoo.testing.timeexpert import tiny_timeexpert_config, tiny_timeexpert_tokenizer

    tokenizer = tiny_timeexpert_tokenizer()
    model = TimeExpertMoE(tiny_timeexpert_config(tokenizer, vision=True))  # reads both videos and frame features
    model.tokenizer = tokenizer
    model.save_pretrained(tmp_path / "ckpt")
    features = torch.randn(6, 4, model.config.vision_feature_dim).numpy()  # (frames, patches, width)
    return tmp_path / "ckpt", {"features": features}, {'"video.mp4"': repr(assets["video"])}


def default_card(tmp_path, assets):
    register_tiny_models()
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig(num_labels=2))
    model.save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt", feature_inputs(model.config.feature_dim), {}


FAMILIES = {
    "actionformer": actionformer_card,
    "psftr": psftr_card,
    "actionvlm": actionvlm_card,
    "invert4tvg": invert4tvg_card,
    "delu": delu_card,
    "mllm4wtal": mllm4wtal_card,
    "timeexpert": timeexpert_card,
    "default": default_card,
}
# (family, a line of the block) -> why it does not run offline.
NOT_RUN = {
    ("actionvlm", "model = ActionVLMForTemporalLocalization.from_preset("): "downloads the paper's VideoMAE and "
    "Qwen2.5 backbones; README.md's ActionVLM block (tests/test_readme.py) runs the same training API on tiny ones",
    ("default", "predictions = model.post_process(outputs, metadata)"): "the only model on the default template is "
    "the test double of tests/tiny_models.py, which has no post_process (every registered TAL model has one)",
}


@pytest.mark.parametrize("family", FAMILIES)
def test_card_blocks_run(family, tmp_path, assets, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    folder, namespace, substitutions = FAMILIES[family](tmp_path, assets)
    blocks = python_blocks((folder / "README.md").read_text())
    assert blocks, f"the {family} card has no python block"
    used, scope = set(), {"__name__": "card", **namespace}  # a card's blocks read on from each other
    for index, block in enumerate(blocks):
        skipped = [key for key in NOT_RUN if key[0] == family and key[1] in block]
        if skipped:
            used.update(skipped)
            continue
        for old, new in substitutions.items():
            if old in block:
                used.add(old)
                block = block.replace(old, new)
        exec(compile(block, f"{family} card block {index}", "exec"), scope)
    assert set(substitutions) <= used, f"substitutions that match no {family} card block: {set(substitutions) - used}"
    assert {k for k in NOT_RUN if k[0] == family} <= used
