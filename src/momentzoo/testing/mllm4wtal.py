"""Tiny MLLM4WTAL configs and builders (over `momentzoo.testing.delu`) for tests, benchmarks and the synthetic example
config."""

from tokenizers import processors

from ..models.mllm4wtal import MLLM4WTALConfig, MLLM4WTALModel
from .backbones import tiny_clip, tiny_tokenizer
from .delu import tiny_delu_config

__all__ = ["DESCRIPTION_CORPUS", "tiny_mllm4wtal", "tiny_mllm4wtal_config"]

# Words of the synthetic descriptions (momentzoo.data.synthetic's phases), so the tiny tokenizer has whole words.
DESCRIPTION_CORPUS = (
    "key moments: a door swinging on its hinges. a hand gripping the cup.",
    (
        "the person opens the door: starts with a hand on the handle of a closed door, then a door swinging on its"
        " hinges, ends with a door standing wide open."
    ),
    "closes the door, picks up the cup, puts down the cup, throws the ball, pours water, waves a hand, washes dishes.",
    (
        "a cup resting on a table, a cup held up in the air, a ball held behind the head, an arm whipping forward, "
        "a ball flying away, a jug tilted over a glass, water streaming into the glass, a full glass of water."
    ),
    (
        "a hand raised beside the face, a hand swaying left and right, a hand lowered to the side, a plate under the "
        "running tap, a sponge scrubbing the plate, a clean plate on the rack."
    ),
)


# The MLLM4WTAL heads of the tiny configs: reconstruction width 16 with 2 heads, complete-prior width 8, no dropout.
_TINY_HEADS = {
    "reconstruction_hidden_size": 16,
    "reconstruction_num_heads": 2,
    "reconstruction_dropout": 0.0,
    "complete_prior_hidden_size": 8,
}


def tiny_mllm4wtal_config(base_config=None, text_config=None, **overrides) -> MLLM4WTALConfig:
    """An MLLM4WTAL over `tiny_delu_config()` with a 2-layer text tower of width 32 (the text config of
    `momentzoo.testing.tiny_clip()` over `tiny_tokenizer(corpus=DESCRIPTION_CORPUS)`), reconstruction width 16."""
    if text_config is None:
        model, _ = tiny_clip(tokenizer=_description_tokenizer())
        text_config = model.config.text_config.to_dict()
    return MLLM4WTALConfig(
        base_config=base_config if base_config is not None else tiny_delu_config(),
        text_config=text_config,
        **{**_TINY_HEADS, **overrides},
    )


def _description_tokenizer():
    """The tiny tokenizer trained on the description words, wrapping every text in BOS / EOS as CLIP's does."""
    tokenizer = tiny_tokenizer(corpus=DESCRIPTION_CORPUS)
    bos, eos = "<|im_start|>", tokenizer.eos_token
    tokenizer.bos_token = bos
    tokenizer._tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        special_tokens=[(bos, tokenizer.convert_tokens_to_ids(bos)), (eos, tokenizer.eos_token_id)],
    )
    return tokenizer


def tiny_mllm4wtal(base_config=None, **overrides):
    """(model, tokenizer): a tiny MLLM4WTAL whose frozen text tower is a random tiny CLIP text model loaded through
    `from_backbones`, and that tower's tokenizer (pads on the right; BOS / EOS around every description)."""
    tokenizer = _description_tokenizer()
    clip, tokenizer = tiny_clip(tokenizer=tokenizer)
    base_config = base_config if base_config is not None else tiny_delu_config()
    model = MLLM4WTALModel.from_backbones(clip, base_config=base_config, **{**_TINY_HEADS, **overrides})
    return model, tokenizer
