"""The contract of a temporal video grounding model: how `pipeline("temporal-video-grounding")` talks to it.

The pipeline serves two interfaces and picks one from what the config declares, never by probing the model:

* `"video_chat"`: a Qwen2-VL / Qwen2.5-VL checkpoint (e.g. one trained with `Invert4TVGTrainer`), recognised by its
  transformers config class: the Invert4TVG grounding prompt in the chat template, the answer read by the parser
  shared with the rewards and the `grounding_recall` metric;
* `"event_tokens"`: the model's own `generate` writes TRACE-style events (time tokens, `<sync>`, score tokens,
  `<sync>`, caption, `<sync>`) decoded by `TimeExpertProcessor`; the pipeline's `task=` picks moment retrieval,
  dense captioning, highlight detection or a general answer (TimeExpert).

A momentzoo grounding config inherits `TemporalGroundingConfigMixin` (before `PreTrainedConfig` in its bases) and
declares its `grounding_interface`.
"""

from __future__ import annotations

__all__ = ["GROUNDING_INTERFACES", "TemporalGroundingConfigMixin", "grounding_interface"]

GROUNDING_INTERFACES = ("video_chat", "event_tokens")


class TemporalGroundingConfigMixin:
    """Declared capabilities of a temporal video grounding config (see the module docstring)."""

    #: how the grounding pipeline talks to the model: one of `GROUNDING_INTERFACES`
    grounding_interface: str = "event_tokens"


def grounding_interface(config) -> str:
    """The interface `config` declares (`TemporalGroundingConfigMixin`), `"video_chat"` for a Qwen2-VL / Qwen2.5-VL
    config; a ValueError naming the config class otherwise."""
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    if isinstance(config, TemporalGroundingConfigMixin):
        interface = config.grounding_interface
        if interface not in GROUNDING_INTERFACES:
            raise ValueError(
                f"{type(config).__name__}.grounding_interface must be one of {list(GROUNDING_INTERFACES)}, "
                f"got {interface!r}"
            )
        return interface
    if isinstance(config, (Qwen2VLConfig, Qwen2_5_VLConfig)):
        return "video_chat"
    raise ValueError(
        "temporal-video-grounding serves Qwen2-VL/Qwen2.5-VL checkpoints and configs inheriting "
        f"TemporalGroundingConfigMixin; got a {type(config).__name__}"
    )
