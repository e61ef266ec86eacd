"""ActionVLM configuration: ActionFormer's detector fields plus the vision encoder, the language model (nested
`vision_config` / `text_config`), the special tokens, the prompt and the loss weights of the paper."""

import copy
import math
from numbers import Real

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from ..actionformer.configuration_actionformer import ActionFormerConfig
from ..validation import ConfigFieldChecks
from .processing_actionvlm import (
    DEFAULT_ACTION_TEMPLATE,
    DEFAULT_ANSWER_TEMPLATE,
    DEFAULT_EMPTY_ANSWER,
    DEFAULT_PROMPT_TEMPLATE,
    PROPOSAL_ORDERS,
)

__all__ = ["ActionVLMConfig", "ACTIONVLM_PRESETS", "DEFAULT_LORA_TARGET_MODULES", "DEFAULT_SPECIAL_TOKENS"]

DEFAULT_LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_SPECIAL_TOKENS = ("[cls]", "[loc]", "[adv]")

VISION_TUNINGS = ("full", "adapter", "frozen")
LANGUAGE_TUNINGS = ("lora", "full", "frozen")
SPECIAL_TOKEN_LAYOUTS = ("blocked", "interleaved")
PROMPT_POSITIONS = ("after_special_tokens", "before_visual")
VISION_LOSS_AVERAGES = ("per_sample", "per_frame")


_checks = ConfigFieldChecks("ActionVLMConfig")
_fail, _int = _checks.fail, _checks.integer


def _weight(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value < 0:
        _fail(field, "a finite number >= 0", value)
    return float(value)


_choice = _checks.choice


def _template(field: str, value, placeholders: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        _fail(field, "a string", value)
    missing = [p for p in placeholders if "{" + p + "}" not in value]
    if missing:
        _fail(field, f"a template containing {', '.join('{' + p + '}' for p in missing)}", value)
    return value


_sub_config = _checks.sub_config


class ActionVLMConfig(ActionFormerConfig):
    r"""Configuration of [`ActionVLMForTemporalLocalization`] (Li et al., "Towards Mitigating Modality Bias in
    Vision-Language Models for Temporal Action Localization", arXiv:2601.21078). Every field is validated; a bad
    value raises a `ValueError` naming it. All [`ActionFormerConfig`] fields configure the detection head
    (`input_dim` is the width D of the per-frame visual features F_vis).

    Vision:
        vision_config (`VideoMAEConfig` or dict, optional): an end-to-end video encoder (`VideoMAEModel`) that
            turns `pixel_values` into one token per temporal patch (spatial mean pool). `None`: the model reads
            pre-extracted features (`input_features`). With a vision config, `input_dim` is its `hidden_size`.
        vision_tuning (`"full"`, `"adapter"` or `"frozen"`, "full"): fine-tune the encoder, freeze it and train
            AdaTAD-style temporal adapters after every block, or freeze it entirely.
        adapter_reduction (`int`, 4), adapter_kernel_size (`int`, 3): adapter bottleneck `hidden // reduction`
            and the kernel of its depthwise temporal convolution.
        upsample_video_tokens (`bool`, False): linearly interpolate the per-patch tokens to one per input frame
            (the official code does, so that the detector sees the frame rate).
        image_mean, image_std (`list[float]` of 3, optional): the frame normalisation the encoder was trained
            with (`from_backbones` copies them from its checkpoint's `preprocessor_config.json`; MCG-NJU's VideoMAE
            checkpoints use ImageNet's, not the 0.5 defaults of transformers' VideoMAE image processor class).
            `None`: those class defaults.
    Language:
        text_config (`PreTrainedConfig` or dict): the decoder LM (any `AutoModelForCausalLM`), built with
            `AutoConfig`; its `vocab_size` must cover `special_token_ids`.
        language_tuning (`"lora"`, `"full"` or `"frozen"`, "lora"), lora_rank (`int`, 128), lora_alpha (`int`,
            256), lora_dropout (`float`, 0.05), lora_target_modules (`list[str]`, Qwen2's attention and MLP
            projections): LoRA on the LM through peft (`get_peft_model`; `merge_and_unload()` folds it in).
        language_model_name_or_path (`str` or None, None): the checkpoint the LM's frozen weights come from, set by
            `from_backbones` when it loads a Hub model. With LoRA, checkpoints then store only the LM's adapter
            (the frozen LM is not saved again) and `from_pretrained` reloads the rest from here.
        special_tokens (`list[str]`, `["[cls]", "[loc]", "[adv]"]`), special_token_ids (`list[int]`, set by
            `from_backbones`): the three per-frame query tokens, added to the tokenizer and the embeddings.
        special_token_layout (`"blocked"` or `"interleaved"`, "blocked"): `blocked` puts all L visual tokens, then
            L `[cls]`, L `[loc]` and L `[adv]` tokens (the official code's layout); `interleaved` puts each frame's
            visual token followed by its three special tokens.
        prompt_position (`"before_visual"` or `"after_special_tokens"`, "before_visual"): where the instruction
            (candidate actions with their descriptions) goes. `before_visual` puts it first, so that every special
            token is conditioned on the descriptions: the layout the paper's LAP of 2.6% implies (mismatched
            descriptions must be able to move the predictions). `after_special_tokens` is the order the paper
            writes and the official code builds (visual tokens, special tokens, instruction); in a causal LM the
            special tokens then cannot attend to the instruction, T_desc shapes them only through training (L_tg)
            and LAP is 0 by construction.
        class_descriptions (`list[str]`, one per class, optional): T_desc.
        prompt_template (`str` with `{actions}`), action_template (`str` with `{name}` and `{description}`):
            the instruction (see `processing_actionvlm`).
        prompt_token_ids (`list[int]`, set by `set_class_descriptions`): the tokenized instruction.
        answer_template (`str` with `{rank}`, `{name}`, `{start}`, `{end}`), empty_answer (`str`, "none"),
        proposal_order (`"start"` or `"length"`, "start"), max_answer_proposals (`int`, 32): the ranked textual
            list of ground-truth proposals the LM is taught to write.
    Losses:
        text_loss_weight (`float`, 0.1): lambda_tg. advantage_loss_weight (`float`, 0.1): lambda_adv.
        vision_loss_average (`"per_sample"` or `"per_frame"`, "per_sample"): how a vision-only epoch averages the
            per-frame losses into L̄_v(c). `per_sample` is Algorithm 1: the mean over the samples containing class
            c of each sample's mean loss on its frames of class c; `per_frame` pools all frames of class c.
    """

    model_type = "actionvlm"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2", optional=True),
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="videomae", optional=True),
    }
    # Trainer.evaluate gathers every output tensor: leave out the per-frame training bookkeeping.
    keys_to_ignore_at_inference = ["pyramid_features", "frame_losses", "frame_classes", "text_logits"]

    def __init__(
        self,
        text_config: PreTrainedConfig | dict | None = None,
        vision_config: PreTrainedConfig | dict | None = None,
        vision_tuning: str = "full",
        adapter_reduction: int = 4,
        adapter_kernel_size: int = 3,
        upsample_video_tokens: bool = False,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        language_tuning: str = "lora",
        lora_rank: int = 128,
        lora_alpha: int = 256,
        lora_dropout: float = 0.05,
        lora_target_modules: list[str] | None = None,
        language_model_name_or_path: str | None = None,
        special_tokens: list[str] | None = None,
        special_token_ids: list[int] | None = None,
        special_token_layout: str = "blocked",
        prompt_position: str = "before_visual",
        class_descriptions: list[str] | None = None,
        prompt_template: str = DEFAULT_PROMPT_TEMPLATE,
        action_template: str = DEFAULT_ACTION_TEMPLATE,
        prompt_token_ids: list[int] | None = None,
        answer_template: str = DEFAULT_ANSWER_TEMPLATE,
        empty_answer: str = DEFAULT_EMPTY_ANSWER,
        proposal_order: str = "start",
        max_answer_proposals: int = 32,
        text_loss_weight: float = 0.1,
        advantage_loss_weight: float = 0.1,
        vision_loss_average: str = "per_sample",
        input_dim: int | None = None,
        **kwargs,
    ):
        self.text_config = _sub_config("text_config", text_config)
        self.vision_config = _sub_config("vision_config", vision_config, ("videomae",))
        if self.vision_config is not None:
            hidden = self.vision_config.hidden_size
            if input_dim is not None and input_dim != hidden:
                _fail("input_dim", f"the vision encoder's hidden_size {hidden} (or None)", input_dim)
            input_dim = hidden
        self.vision_tuning = _choice("vision_tuning", vision_tuning, VISION_TUNINGS)
        self.adapter_reduction = _int("adapter_reduction", adapter_reduction)
        self.adapter_kernel_size = _int("adapter_kernel_size", adapter_kernel_size)
        if self.adapter_kernel_size % 2 != 1:
            _fail("adapter_kernel_size", "an odd integer", adapter_kernel_size)
        if not isinstance(upsample_video_tokens, bool):
            _fail("upsample_video_tokens", "True or False", upsample_video_tokens)
        self.upsample_video_tokens = upsample_video_tokens
        for name, value in (("image_mean", image_mean), ("image_std", image_std)):
            if value is not None and (
                not isinstance(value, (list, tuple))
                or len(value) != 3
                or not all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
            ):
                _fail(name, "None or 3 numbers (RGB)", value)
        if image_std is not None and min(image_std) <= 0:
            _fail("image_std", "3 numbers > 0", image_std)
        self.image_mean = None if image_mean is None else [float(v) for v in image_mean]
        self.image_std = None if image_std is None else [float(v) for v in image_std]

        self.language_tuning = _choice("language_tuning", language_tuning, LANGUAGE_TUNINGS)
        self.lora_rank = _int("lora_rank", lora_rank)
        self.lora_alpha = _int("lora_alpha", lora_alpha)
        if isinstance(lora_dropout, bool) or not isinstance(lora_dropout, Real) or not 0 <= lora_dropout < 1:
            _fail("lora_dropout", "in [0, 1)", lora_dropout)
        self.lora_dropout = float(lora_dropout)
        targets = DEFAULT_LORA_TARGET_MODULES if lora_target_modules is None else lora_target_modules
        if isinstance(targets, str) or not targets or not all(isinstance(t, str) and t for t in targets):
            _fail("lora_target_modules", "a non-empty list of module names", lora_target_modules)
        self.lora_target_modules = list(targets)
        if language_model_name_or_path is not None and (
            not isinstance(language_model_name_or_path, str) or not language_model_name_or_path
        ):
            _fail("language_model_name_or_path", "None or a non-empty hub id or path", language_model_name_or_path)
        self.language_model_name_or_path = language_model_name_or_path

        tokens = DEFAULT_SPECIAL_TOKENS if special_tokens is None else special_tokens
        if (
            isinstance(tokens, str)
            or len(tokens) != 3
            or len(set(tokens)) != 3
            or not all(isinstance(t, str) and t for t in tokens)
        ):
            _fail("special_tokens", "three distinct non-empty strings ([cls], [loc], [adv])", special_tokens)
        self.special_tokens = list(tokens)
        if special_token_ids is not None:
            if isinstance(special_token_ids, str) or len(special_token_ids) != 3 or len(set(special_token_ids)) != 3:
                _fail("special_token_ids", "three distinct token ids", special_token_ids)
            special_token_ids = [_int("special_token_ids", i, minimum=0) for i in special_token_ids]
            vocab = getattr(self.text_config, "vocab_size", None)
            if vocab is not None and max(special_token_ids) >= vocab:
                _fail("special_token_ids", f"ids below text_config.vocab_size = {vocab}", special_token_ids)
        self.special_token_ids = special_token_ids
        self.special_token_layout = _choice("special_token_layout", special_token_layout, SPECIAL_TOKEN_LAYOUTS)
        self.prompt_position = _choice("prompt_position", prompt_position, PROMPT_POSITIONS)

        self.prompt_template = _template("prompt_template", prompt_template, ("actions",))
        self.action_template = _template("action_template", action_template, ("name",))
        self.answer_template = _template("answer_template", answer_template, ("name", "start", "end"))
        if not isinstance(empty_answer, str) or not empty_answer:
            _fail("empty_answer", "a non-empty string", empty_answer)
        self.empty_answer = empty_answer
        self.proposal_order = _choice("proposal_order", proposal_order, PROPOSAL_ORDERS)
        self.max_answer_proposals = _int("max_answer_proposals", max_answer_proposals)
        if prompt_token_ids is not None:
            if isinstance(prompt_token_ids, str) or not prompt_token_ids:
                _fail("prompt_token_ids", "None or a non-empty list of token ids", prompt_token_ids)
            prompt_token_ids = [_int("prompt_token_ids", i, minimum=0) for i in prompt_token_ids]
        self.prompt_token_ids = prompt_token_ids
        self.text_loss_weight = _weight("text_loss_weight", text_loss_weight)
        self.advantage_loss_weight = _weight("advantage_loss_weight", advantage_loss_weight)
        self.vision_loss_average = _choice("vision_loss_average", vision_loss_average, VISION_LOSS_AVERAGES)

        given_labels = kwargs.get("id2label")
        super().__init__(input_dim=2048 if input_dim is None else input_dim, **kwargs)
        if given_labels is not None and len(given_labels) != self.num_classes:
            # re-headed by num_labels (`from_pretrained(ckpt, num_labels=K)`): the checkpoint's prompt and
            # descriptions were for its own classes
            self.prompt_token_ids = class_descriptions = None
        if class_descriptions is not None:
            if (
                isinstance(class_descriptions, str)
                or len(class_descriptions) != self.num_classes
                or not all(isinstance(d, str) for d in class_descriptions)
            ):
                _fail("class_descriptions", f"a list of {self.num_classes} strings (one per class)", class_descriptions)
            class_descriptions = list(class_descriptions)
        self.class_descriptions = class_descriptions

    def __setattr__(self, key, value):
        relabelled = key == "id2label" and value is not None and self.__dict__.get("_post_init_done", False)
        previous = self.__dict__.get("id2label")
        super().__setattr__(key, value)
        if relabelled and self.id2label != previous:
            # Re-headed (`from_pretrained(ckpt, id2label=...)`): the prompt lists the old classes. It is rebuilt from
            # the new names by `from_pretrained` (or `set_class_descriptions`); descriptions of other classes go.
            self.prompt_token_ids = None
            if self.class_descriptions is not None and len(self.class_descriptions) != self.num_classes:
                self.class_descriptions = None

    @property
    def has_video_encoder(self) -> bool:
        return self.vision_config is not None

    @property
    def class_names(self) -> list[str]:
        return [str(self.id2label[i]) for i in range(self.num_classes)]

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "ActionVLMConfig":
        """The architecture of one of the paper's checkpoints (see `ACTIONVLM_PRESETS`), built offline from the
        backbones' published configs. `overrides` replace any field (e.g. `num_classes`, `id2label`). The
        weights are loaded with `ActionVLMForTemporalLocalization.from_preset` / `from_backbones`."""
        if name not in ACTIONVLM_PRESETS:
            raise ValueError(f"unknown ActionVLM preset {name!r}; available: {sorted(ACTIONVLM_PRESETS)}")
        preset = ACTIONVLM_PRESETS[name]
        values = copy.deepcopy(preset["config"])
        # No `_name_or_path` on the sub-configs: these backbones are random until from_preset loads the weights.
        values["vision_config"] = copy.deepcopy(preset["vision_config"])
        values["text_config"] = copy.deepcopy(preset["text_config"])
        values.update(overrides)
        return cls(**values)


def _qwen2_5(hidden: int, intermediate: int, layers: int, heads: int, max_window_layers: int) -> dict:
    """The published config of a Qwen2.5 Instruct model (the LMs of InternVL2.5/3)."""
    return dict(
        model_type="qwen2",
        vocab_size=151936,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=2,
        hidden_act="silu",
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        use_sliding_window=False,
        sliding_window=32768,
        max_window_layers=max_window_layers,
        tie_word_embeddings=True,
        bos_token_id=151643,
        eos_token_id=151645,
        attention_dropout=0.0,
    )


def _videomae(hidden: int, layers: int, heads: int, image_size: int = 160) -> dict:
    # 16-frame clips, 2-frame tubelets, 16x16 patches; the paper feeds 160x160 crops (the sinusoidal position
    # table is rebuilt for any image size, so 224-pixel checkpoints load unchanged).
    return dict(
        model_type="videomae",
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        image_size=image_size,
        patch_size=16,
        num_frames=16,
        tubelet_size=2,
        qkv_bias=True,
        use_mean_pooling=True,
    )


_QWEN2_5_1_5B = _qwen2_5(1536, 8960, 28, 12, 21)
_QWEN2_5_3B = _qwen2_5(2048, 11008, 36, 16, 70)
_VIDEOMAE_S = _videomae(384, 12, 6)
_VIDEOMAE_B = _videomae(768, 12, 12)
_VIDEOMAE_L = _videomae(1024, 24, 16)
# The paper's end-to-end setting (official configs): 768-frame windows, one token per frame.
_E2E = dict(max_seq_len=768, upsample_video_tokens=True, feature_stride=1, num_frames=1)

# The paper's checkpoints. S/B/L are the ViT sizes of the video encoder (VideoMAE-v2 ViT-S/B distilled from
# ViT-g, and VideoMAE ViT-L, in the paper); the LMs are the Qwen2.5 models InternVL3-2B (1.5B) and InternVL2.5-4B
# (3B) are built on. The hub ids name transformers-format checkpoints of the same sizes.
ACTIONVLM_PRESETS = {
    "actionvlm-s-1.5b": dict(
        vision_model="MCG-NJU/videomae-small-finetuned-kinetics",
        language_model="Qwen/Qwen2.5-1.5B-Instruct",
        vision_config=_VIDEOMAE_S,
        text_config=_QWEN2_5_1_5B,
        config=dict(_E2E, vision_tuning="full"),
    ),
    "actionvlm-s-3b": dict(
        vision_model="MCG-NJU/videomae-small-finetuned-kinetics",
        language_model="Qwen/Qwen2.5-3B-Instruct",
        vision_config=_VIDEOMAE_S,
        text_config=_QWEN2_5_3B,
        config=dict(_E2E, vision_tuning="full"),
    ),
    "actionvlm-b-1.5b": dict(
        vision_model="MCG-NJU/videomae-base-finetuned-kinetics",
        language_model="Qwen/Qwen2.5-1.5B-Instruct",
        vision_config=_VIDEOMAE_B,
        text_config=_QWEN2_5_1_5B,
        config=dict(_E2E, vision_tuning="full"),
    ),
    "actionvlm-b-3b": dict(
        vision_model="MCG-NJU/videomae-base-finetuned-kinetics",
        language_model="Qwen/Qwen2.5-3B-Instruct",
        vision_config=_VIDEOMAE_B,
        text_config=_QWEN2_5_3B,
        config=dict(_E2E, vision_tuning="full"),
    ),
    # ViT-L is too large to fine-tune end to end with a 3B LM: frozen, with AdaTAD temporal adapters.
    "actionvlm-l-3b": dict(
        vision_model="MCG-NJU/videomae-large-finetuned-kinetics",
        language_model="Qwen/Qwen2.5-3B-Instruct",
        vision_config=_VIDEOMAE_L,
        text_config=_QWEN2_5_3B,
        config=dict(_E2E, vision_tuning="adapter"),
    ),
}
