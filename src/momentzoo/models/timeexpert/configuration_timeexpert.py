"""TimeExpert configuration: the decoder LM (`text_config`), the optional vision encoder (`vision_config`), the MoE
(task-aware dynamic gating, the live expert set of every layer, the expert lifecycle) and the token format ids."""

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from ..temporal_grounding import TemporalGroundingConfigMixin
from ..validation import ConfigFieldChecks
from .processing_timeexpert import TASK_TYPES, TIME_VOCABULARY, TimeExpertTokenLayout

__all__ = ["TimeExpertConfig"]

_checks = ConfigFieldChecks("TimeExpertConfig")
_fail, _int, _number, _bool = _checks.fail, _checks.integer, _checks.number, _checks.boolean
_sub_config = _checks.sub_config


def _optional_id(field: str, value, vocab: int | None) -> int | None:
    if value is None:
        return None
    value = _int(field, value, minimum=0)
    if vocab is not None and value >= vocab:
        _fail(field, f"a text token id below text_config.vocab_size = {vocab}", value)
    return value


class TimeExpertConfig(TemporalGroundingConfigMixin, PreTrainedConfig):
    r"""Configuration of [`TimeExpertMoE`] ("TimeExpert: An Expert-Guided Video LLM for Video Temporal Grounding").
    Every field is validated; a bad value raises a `ValueError` naming it.

    Backbones:
        text_config (`PreTrainedConfig` or dict, Qwen2 by default): the decoder LM (any `AutoModelForCausalLM` whose
            decoder layers have an `mlp`); every layer's FFN becomes a `TimeExpertMoELayer`.
        vision_config (`PreTrainedConfig` or dict, optional): the frame encoder (any `AutoModel` returning
            `last_hidden_state` of shape (frames, patches, width)). `None`: frames arrive as pre-extracted patch
            features `frame_features` (batch, frames, patches, `vision_feature_dim`).
        vision_feature_dim (`int`, optional): the width of the vision tokens (the encoder's `hidden_size` when there
            is one).
        freeze_vision (`bool`, True): the paper trains the LLM and the projector, not the ViT.
        image_mean, image_std (`list[float]` of 3, SigLIP's 0.5s): the frame normalisation of the vision encoder
            (the pipeline uses them for raw video).
        num_visual_tokens_per_frame (`int`, 8): patch tokens are average-pooled to this many per frame.
    MoE (the decoder's FFNs):
        num_experts (`int`, 64) and expert_intermediate_size (`int`, 1664): ARIA's routed experts.
        num_shared_experts (`int`, 2): always-on experts (one MLP of width `num_shared_experts * expert_intermediate_size`).
        layer_num_experts (`list[int]`, one per layer, optional): the live number of routed experts of every layer
            after experts were added or removed; `None` means `num_experts` everywhere. The lifecycle callback keeps
            it current, so `save_pretrained` / `from_pretrained` rebuild the grown or pruned model.
        gate_alpha (`float`, 0.5): α in g(x) = sign(σ((s(x) + α·A_t)/(1+α)) − σ(G)) (the paper gives no value).
        activation_rate_momentum (`float`, 0.99): A_t is an exponential moving average of the fraction of a task's
            tokens that activate each expert, with this momentum, updated in training.
        router_z_loss_coef (`float`, 1e-5), balance_loss_coef (`float`, 1e-2, λ1; not given in the paper),
            gate_norm_loss_coef (`float`, 1e-3, λ2): the router z-loss and the two terms of L_aux.
        expert_update_interval (`int`, 500, T_update), min_activation_rate (`float`, 0.01, τ_min),
            max_experts_per_layer (`int`, 128), min_unrouted_tokens (`int`, 1): the expert lifecycle (see
            `TimeExpertLifecycleCallback`): every T_update steps experts whose activation rate stays below τ_min
            for every task type are removed and one expert is added per layer that saw at least
            `min_unrouted_tokens` tokens with an empty active set.
    Tokens (set by `from_backbones` / the tiny builder from the tokenizer):
        video_token_id: the text id of the placeholder each visual token replaces. sync_token_id: the text `<sync>`
        that closes a caption. The 13 time and 13 score ids follow the text vocabulary (`token_layout`).
        text_loss_weight, time_loss_weight, score_loss_weight (`float`, 1.0 each): the three heads' losses.
    """

    model_type = "timeexpert"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2", optional=True),
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="siglip_vision_model", optional=True),
    }
    keys_to_ignore_at_inference = ["cache", "active_experts"]

    def __init__(
        self,
        text_config: PreTrainedConfig | dict | None = None,
        vision_config: PreTrainedConfig | dict | None = None,
        vision_feature_dim: int | None = None,
        freeze_vision: bool = True,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        num_visual_tokens_per_frame: int = 8,
        num_experts: int = 64,
        expert_intermediate_size: int = 1664,
        num_shared_experts: int = 2,
        layer_num_experts: list[int] | None = None,
        gate_alpha: float = 0.5,
        activation_rate_momentum: float = 0.99,
        router_z_loss_coef: float = 1e-5,
        balance_loss_coef: float = 1e-2,
        gate_norm_loss_coef: float = 1e-3,
        expert_update_interval: int = 500,
        min_activation_rate: float = 0.01,
        max_experts_per_layer: int = 128,
        min_unrouted_tokens: int = 1,
        video_token_id: int | None = None,
        sync_token_id: int | None = None,
        text_loss_weight: float = 1.0,
        time_loss_weight: float = 1.0,
        score_loss_weight: float = 1.0,
        **kwargs,
    ):
        self.text_config = _sub_config(
            "text_config", text_config if text_config is not None else {"model_type": "qwen2"}
        )
        self.vision_config = _sub_config("vision_config", vision_config)
        if self.vision_config is not None:
            hidden = getattr(self.vision_config, "hidden_size", None)
            if vision_feature_dim is not None and vision_feature_dim != hidden:
                _fail("vision_feature_dim", f"the vision encoder's hidden_size {hidden} (or None)", vision_feature_dim)
            vision_feature_dim = hidden
        self.vision_feature_dim = _int("vision_feature_dim", 1024 if vision_feature_dim is None else vision_feature_dim)
        self.freeze_vision = _bool("freeze_vision", freeze_vision)
        for name, value in (("image_mean", image_mean), ("image_std", image_std)):
            value = [0.5, 0.5, 0.5] if value is None else value
            if not isinstance(value, (list, tuple)) or len(value) != 3:
                _fail(name, "3 numbers (RGB)", value)
            setattr(self, name, [_number(name, v, 0.0, low_open=name == "image_std") for v in value])
        self.num_visual_tokens_per_frame = _int("num_visual_tokens_per_frame", num_visual_tokens_per_frame)
        self.num_experts = _int("num_experts", num_experts)
        self.expert_intermediate_size = _int("expert_intermediate_size", expert_intermediate_size)
        self.num_shared_experts = _int("num_shared_experts", num_shared_experts, minimum=0)
        self.max_experts_per_layer = _int("max_experts_per_layer", max_experts_per_layer)
        layers = self.text_config.num_hidden_layers
        if layer_num_experts is not None:
            if (
                isinstance(layer_num_experts, (str, bytes))
                or not isinstance(layer_num_experts, (list, tuple))
                or len(layer_num_experts) != layers
            ):
                _fail(
                    "layer_num_experts",
                    f"None or a list of {layers} expert counts (one per decoder layer)",
                    layer_num_experts,
                )
            layer_num_experts = [_int("layer_num_experts", n) for n in layer_num_experts]
            if max(layer_num_experts) > self.max_experts_per_layer:
                _fail(
                    "layer_num_experts",
                    f"counts <= max_experts_per_layer = {self.max_experts_per_layer}",
                    layer_num_experts,
                )
        self.layer_num_experts = layer_num_experts
        self.gate_alpha = _number("gate_alpha", gate_alpha, 0.0)
        self.activation_rate_momentum = _number(
            "activation_rate_momentum", activation_rate_momentum, 0.0, 1.0, high_open=True
        )
        for name, value in (
            ("router_z_loss_coef", router_z_loss_coef),
            ("balance_loss_coef", balance_loss_coef),
            ("gate_norm_loss_coef", gate_norm_loss_coef),
            ("text_loss_weight", text_loss_weight),
            ("time_loss_weight", time_loss_weight),
            ("score_loss_weight", score_loss_weight),
        ):
            setattr(self, name, _number(name, value, 0.0))
        self.expert_update_interval = _int("expert_update_interval", expert_update_interval)
        self.min_activation_rate = _number("min_activation_rate", min_activation_rate, 0.0, 1.0)
        self.min_unrouted_tokens = _int("min_unrouted_tokens", min_unrouted_tokens)
        vocab = getattr(self.text_config, "vocab_size", None)
        self.video_token_id = _optional_id("video_token_id", video_token_id, vocab)
        self.sync_token_id = _optional_id("sync_token_id", sync_token_id, vocab)
        if self.video_token_id is not None and self.video_token_id == self.sync_token_id:
            _fail("sync_token_id", "a token other than video_token_id", sync_token_id)
        super().__init__(**kwargs)

    @property
    def task_types(self) -> tuple[str, ...]:
        return TASK_TYPES

    @property
    def experts_per_layer(self) -> list[int]:
        """The live number of routed experts of every decoder layer."""
        layers = self.text_config.num_hidden_layers
        return list(self.layer_num_experts) if self.layer_num_experts is not None else [self.num_experts] * layers

    @property
    def token_layout(self) -> TimeExpertTokenLayout:
        """The unified vocabulary: text ids, then the 13 time ids, then the 13 score ids."""
        if self.sync_token_id is None:
            raise ValueError(
                "TimeExpertConfig.sync_token_id is not set: build the model with from_backbones (which "
                "adds <sync> to the tokenizer) or set it to the tokenizer's <sync> id"
            )
        eos = self.text_config.eos_token_id
        eos = eos[0] if isinstance(eos, (list, tuple)) else eos
        if eos is None:
            raise ValueError("TimeExpertConfig.text_config.eos_token_id must be set (it ends an answer)")
        return TimeExpertTokenLayout(self.text_config.vocab_size, self.sync_token_id, int(eos))

    @property
    def vocab_size_with_time(self) -> int:
        return self.text_config.vocab_size + 2 * len(TIME_VOCABULARY)
