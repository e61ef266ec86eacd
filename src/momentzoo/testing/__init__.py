"""Tiny models built offline, for tests, benchmarks, the quickstart and the examples' synthetic configs.

One module per method (`momentzoo.testing.actionformer`, ...) plus the tiny backbones and tokenizers they share
(`momentzoo.testing.backbones`). Everything is built from a config with random weights and a BPE tokenizer
trained locally with `tokenizers`, so it runs without the Hub; real checkpoints are named in the presets instead.
Names are imported on first use, so `import momentzoo.testing` stays light.
"""

from importlib import import_module

_LAZY = {
    "QWEN_SPECIAL_TOKENS": "backbones",
    "QWEN_CHAT_TEMPLATE": "backbones",
    "tiny_tokenizer": "backbones",
    "tiny_qwen2": "backbones",
    "tiny_qwen2_5_vl": "backbones",
    "tiny_videomae": "backbones",
    "tiny_clip": "backbones",
    "TINY_ACTIONFORMER_HEAD": "actionformer",
    "tiny_actionformer_config": "actionformer",
    "TINY_CLASS_NAMES": "actionvlm",
    "TINY_CLASS_DESCRIPTIONS": "actionvlm",
    "tiny_actionvlm_config": "actionvlm",
    "tiny_psftr_config": "psftr",
    "tiny_delu_config": "delu",
    "DESCRIPTION_CORPUS": "mllm4wtal",
    "tiny_mllm4wtal_config": "mllm4wtal",
    "tiny_mllm4wtal": "mllm4wtal",
    "tiny_invert4tvg_tokenizer": "invert4tvg",
    "tiny_invert4tvg_model": "invert4tvg",
    "tiny_timeexpert_tokenizer": "timeexpert",
    "tiny_timeexpert_config": "timeexpert",
    "tiny_timeexpert": "timeexpert",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
