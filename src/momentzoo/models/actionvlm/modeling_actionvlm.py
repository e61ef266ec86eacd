"""ActionVLM (Li et al., arXiv:2601.21078): a vision-language model used as a *semantic enhancer* of a vision-only
temporal action detector, with the language contribution weighted by an estimated *language advantage*.

Per frame l of a window of L frames:

* F_vis (L x D): pre-extracted features, or a `VideoMAEModel` (fine-tuned, or frozen with AdaTAD-style temporal
  adapters) spatially mean-pooled to one token per temporal patch.
* A decoder LM reads the projected visual tokens, three special tokens per frame (`[cls]`, `[loc]`, `[adv]`) and
  the instruction listing the candidate actions with their descriptions; its last-layer hidden states at the
  special tokens, projected back to D, are F_lang,cls, F_lang,loc and F_adv.
* Language advantage Â = FC(F_adv); weight λ_lang = 2σ(ReLU(Â)) − 1 in [0, 1).
* Debiased residual aggregation: F_cls = F_vis + λ_lang F_lang,cls and F_loc = F_vis + λ_lang F_lang,loc; the
  ActionFormer detector (shared weights) classifies from the F_cls pyramid and regresses from the F_loc pyramid.
* Training alternates epochs (see `momentzoo.training.LanguageAdvantageTrainer`): vision-only epochs skip the LM
  (F_cls = F_loc = F_vis) and record the class-wise mean loss L̄_v(c) (buffers `vision_class_loss`,
  `vision_class_frames`; Algorithm 1's mean of per-sample means, or per frame, see `vision_loss_average`);
  vision-language epochs add L_adv = mean over all real frames of (Â(l) − A(l))² (Eq. 3), with
  A(l) = L̄_v(c) − L_vl(l) on the frames of ground-truth class c and A(l) = 0 elsewhere, and L_tg, the LM's
  teacher-forced cross-entropy on the ground-truth proposals as a ranked list: L = L_dh + λ_tg L_tg + λ_adv L_adv.

The per-frame loss L(l) spreads each pyramid point's loss (focal over classes + weighted DIoU, not normalised)
evenly over the frames the point covers, so that it sums to the un-normalised detection loss; it is computed
without gradient and serves only as statistic and target. No text is generated: inference is one forward pass
of the LM (at most one next-token distribution, `output_text_logits=True`).
"""

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.utils import ModelOutput

from ...hub import MomentzooModelCardMixin, hub_repo_id
from ..actionformer.modeling_actionformer import ActionFormerForTemporalLocalization
from ..backbone_utils import (
    TEXT_MODEL_SUFFIX,
    load_causal_lm,
    load_saved_tokenizer,
    save_tokenizer,
    saved_preprocessor_dict,
)
from ..validation import pad_segment_labels, validate_segment_labels
from .configuration_actionvlm import ACTIONVLM_PRESETS, DEFAULT_SPECIAL_TOKENS, ActionVLMConfig
from .processing_actionvlm import format_action_prompt, format_proposal_answer

__all__ = [
    "ActionVLMOutput",
    "ActionVLMPreTrainedModel",
    "ActionVLMTemporalAdapter",
    "ActionVLMForTemporalLocalization",
    "language_advantage_weight",
]

CITATION = """@article{li2026actionvlm,
  title={Towards Mitigating Modality Bias in Vision-Language Models for Temporal Action Localization},
  author={Li, Jiaqi and Wang, Guangming and Zheng, Shuntian and Ni, Minzhe and Lu, Xiaoman and Ye, Guanghui and Guan, Yu},
  journal={arXiv preprint arXiv:2601.21078},
  year={2026}
}"""


def language_advantage_weight(advantage: torch.Tensor) -> torch.Tensor:
    """λ_lang = 2σ(ReLU(Â)) − 1: 0 wherever the estimated advantage is not positive, approaching 1 as it grows."""
    return 2.0 * torch.sigmoid(F.relu(advantage)) - 1.0


@dataclass
class ActionVLMOutput(ModelOutput):
    """Output of [`ActionVLMForTemporalLocalization`]. `L` frames per window, `P = sum_l T_l` pyramid points.

    Args:
        loss (`()`, with `labels`): `detection_loss + text_loss_weight * text_loss + advantage_loss_weight *
            advantage_loss` (vision-language) or `detection_loss` (vision-only).
        detection_loss, cls_loss, reg_loss (`()`, with `labels`): ActionFormer's losses (L_dh and its parts).
        text_loss (`()`, with `labels`, vision-language): L_tg, mean token cross-entropy of the ranked proposal list.
        advantage_loss (`()`, with `labels`, vision-language): L_adv.
        cls_logits (`(B, P, num_classes)`), offsets (`(B, P, 2)`), points (`(P, 4)`), masks (`(B, P)`): the
            detector's outputs, as [`ActionFormerOutput`] (classification from F_cls, regression from F_loc).
        language_advantage (`(B, L)`, vision-language): Â per frame (0 at padding).
        language_weight (`(B, L)`, vision-language): λ_lang per frame (0 at padding).
        frame_losses (`(B, L)`, with `labels`): per-frame detection loss L(l), detached (0 at padding).
        frame_classes (`(B, L)` long, with `labels`): ground-truth class of each frame, −1 outside actions and at
            padding (the shortest action wins where actions overlap).
        frame_mask (`(B, L)` bool): True at real frames.
        text_logits (`(B, vocab)`, with `output_text_logits`): the LM's single next-token distribution.
    """

    loss: torch.FloatTensor | None = None
    detection_loss: torch.FloatTensor | None = None
    cls_loss: torch.FloatTensor | None = None
    reg_loss: torch.FloatTensor | None = None
    text_loss: torch.FloatTensor | None = None
    advantage_loss: torch.FloatTensor | None = None
    cls_logits: torch.FloatTensor | None = None
    offsets: torch.FloatTensor | None = None
    points: torch.FloatTensor | None = None
    masks: torch.BoolTensor | None = None
    language_advantage: torch.FloatTensor | None = None
    language_weight: torch.FloatTensor | None = None
    frame_losses: torch.FloatTensor | None = None
    frame_classes: torch.LongTensor | None = None
    frame_mask: torch.BoolTensor | None = None
    text_logits: torch.FloatTensor | None = None


class _TemporalAdapterHook:
    """Forward hook running a temporal adapter on a vision layer's output (an object, not a closure, so that the
    model pickles)."""

    def __init__(self, adapter: nn.Module, num_temporal: int):
        self.adapter, self.num_temporal = adapter, num_temporal

    def __call__(self, module, args, output):
        return self.adapter(output[0] if isinstance(output, tuple) else output, self.num_temporal)


class ActionVLMTemporalAdapter(nn.Module):
    """AdaTAD-style temporal adapter added after a frozen ViT block: down-projection, depthwise convolution over
    time (per spatial position), GELU, up-projection, residual. The up-projection starts at zero, so the adapted
    encoder starts as the pretrained one."""

    def __init__(self, hidden_size: int, reduction: int = 4, kernel_size: int = 3):
        super().__init__()
        bottleneck = max(1, hidden_size // reduction)
        self.down = nn.Linear(hidden_size, bottleneck)
        self.temporal_conv = nn.Conv1d(bottleneck, bottleneck, kernel_size, padding=kernel_size // 2, groups=bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, hidden_size)
        self.up.zero_init = True  # read by `_init_weights` (which visits only modules that own parameters)

    def forward(self, hidden_states: torch.Tensor, num_temporal: int) -> torch.Tensor:
        """`hidden_states` `(N, T' * S, C)` ordered time-major (VideoMAE's tubelet order), `T' = num_temporal`."""
        n, tokens, _ = hidden_states.shape
        spatial = tokens // num_temporal
        h = self.down(hidden_states)
        width = h.shape[-1]
        h = h.view(n, num_temporal, spatial, width).permute(0, 2, 3, 1).reshape(n * spatial, width, num_temporal)
        h = self.temporal_conv(h)
        h = h.view(n, spatial, width, num_temporal).permute(0, 3, 1, 2).reshape(n, tokens, width)
        return hidden_states + self.up(self.act(h))


class ActionVLMPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = ActionVLMConfig
    config: ActionVLMConfig
    base_model_prefix = "actionvlm"
    main_input_name = "input_features"
    supports_gradient_checkpointing = True
    # The detector shares this config, so the top-level attention setting stays eager (ActionFormer's own local
    # attention); the LM picks its own implementation (SDPA) from text_config.
    _no_split_modules = ["ActionFormerTransformerBlock"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # Sub-models (LM, video encoder, ActionFormer detector) initialise themselves; this covers the bridges.
        from transformers import initialization as init

        if isinstance(module, nn.Linear) and getattr(module, "zero_init", False):
            init.zeros_(module.weight)  # a temporal adapter's up-projection: the adapter starts as identity
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Conv1d):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                init.zeros_(module.bias)
        if isinstance(module, ActionVLMForTemporalLocalization):
            init.zeros_(module.special_token_offsets)
            init.zeros_(module.vision_class_loss)
            init.zeros_(module.vision_class_frames)


class ActionVLMForTemporalLocalization(ActionVLMPreTrainedModel):
    """ActionVLM with its ActionFormer detector, losses and decoding.

    `forward(input_features | pixel_values, attention_mask, labels)` follows momentzoo's collated TAL batch
    (`labels`: list of `{"class_labels", "segments"}` in feature steps of the window). `use_language=False` runs
    the vision-only path (the LM is never called); `LanguageAdvantageTrainer` sets it per epoch.
    `post_process(outputs, metadata)` returns per video `{"segment": [s, e], "score", "label"}` in seconds.

    Build from real backbones with `from_backbones(language_model=..., vision_model=..., tokenizer=...)` or
    `from_preset("actionvlm-b-1.5b", ...)`; from a config (random weights) with the constructor.
    """

    accepts_loss_kwargs = False

    def __init__(
        self,
        config: ActionVLMConfig,
        language_model: PreTrainedModel | None = None,
        vision_model: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        if config.text_config is None:
            raise ValueError(
                "ActionVLMConfig.text_config is required (the language model); use "
                "ActionVLMConfig.from_preset(...) or ActionVLMForTemporalLocalization.from_backbones(...)"
            )
        self.tokenizer = None  # attached by from_backbones / from_pretrained / set_tokenizer; needed for L_tg
        self.use_language = True

        # Vision: an end-to-end video encoder, or pre-extracted features.
        self.vision_model = None
        self.temporal_adapters = None
        if config.vision_config is not None:
            self.vision_model = (
                vision_model if vision_model is not None else AutoModel.from_config(config.vision_config)
            )
            if config.vision_tuning == "adapter":
                layers = self._vision_layers()
                self.temporal_adapters = nn.ModuleList(
                    ActionVLMTemporalAdapter(config.input_dim, config.adapter_reduction, config.adapter_kernel_size)
                    for _ in layers
                )
        elif vision_model is not None:
            raise ValueError("a vision_model was given but config.vision_config is None")

        # Language: the LM, the bridges into and out of it, and the advantage head.
        self.language_model = (
            language_model if language_model is not None else AutoModelForCausalLM.from_config(config.text_config)
        )
        lm_hidden = self.language_model.get_input_embeddings().weight.shape[1]
        self.visual_projection = nn.Linear(config.input_dim, lm_hidden)
        self.cls_projection = nn.Linear(lm_hidden, config.input_dim)
        self.loc_projection = nn.Linear(lm_hidden, config.input_dim)
        self.adv_projection = nn.Linear(lm_hidden, config.input_dim)
        self.advantage_head = nn.Linear(config.input_dim, 1)
        # Learned offsets of the special tokens' embeddings: the new rows train without unfreezing the vocabulary.
        self.special_token_offsets = nn.Parameter(torch.zeros(3, lm_hidden))

        # The ActionFormer detector (backbone, FPN, heads, label assignment, losses, decoding).
        self.detector = ActionFormerForTemporalLocalization(config)

        # Class-wise mean vision-only per-frame loss L̄_v(c) and its frame count, from the last vision-only epoch.
        self.register_buffer("vision_class_loss", torch.zeros(config.num_classes), persistent=True)
        self.register_buffer("vision_class_frames", torch.zeros(config.num_classes), persistent=True)

        if config.language_tuning == "lora":
            self._inject_lora()
        self._adapter_hooks = []
        if self.temporal_adapters is not None:
            self._register_adapter_hooks()
        self.post_init()
        self._set_trainable()

    # ------------------------------------------------------------------------------------------ set-up
    def _vision_layers(self) -> nn.ModuleList:
        encoder = getattr(self.vision_model, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if layers is None:
            raise ValueError(f"{type(self.vision_model).__name__} has no encoder.layer list for temporal adapters")
        return layers

    def _register_adapter_hooks(self) -> None:
        vision = self.config.vision_config
        num_temporal = vision.num_frames // vision.tubelet_size

        for layer, adapter in zip(self._vision_layers(), self.temporal_adapters):
            self._adapter_hooks.append(layer.register_forward_hook(_TemporalAdapterHook(adapter, num_temporal)))

    def _inject_lora(self) -> None:
        """Wrap the LM in a peft `PeftModel` with the config's LoRA (its base weights frozen by peft)."""
        from peft import LoraConfig, get_peft_model

        config = self.config
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_target_modules),
            bias="none",
        )
        try:
            # peft adds the LoRA layers to the LM in place; the `PeftModel` around it is kept out of the module tree
            # (the LM stays `language_model`, so transformers ties and loads its weights as before) and serves
            # peft's adapter saving and merging.
            self.__dict__["language_adapter"] = get_peft_model(self.language_model, lora)
        except ValueError as error:
            raise ValueError(
                f"ActionVLMConfig.lora_target_modules {config.lora_target_modules} do not match the "
                f"language model {type(self.language_model).__name__}: {error}"
            ) from None
        # peft initialised the LoRA weights (B = 0): keep the composite init from overwriting them.
        for name, module in self.language_model.named_modules():
            if ".lora_" in name:
                module._is_hf_initialized = True

    def merge_and_unload(self) -> "ActionVLMForTemporalLocalization":
        """Fold the LoRA weights into the LM (peft's `merge_and_unload`): the same outputs without the adapter. The
        LM is then frozen (`language_tuning="frozen"`) and saved whole. Returns the model."""
        if self.config.language_tuning != "lora":
            raise ValueError(f"merge_and_unload needs language_tuning='lora', got {self.config.language_tuning!r}")
        self.language_model = self.__dict__.pop("language_adapter").merge_and_unload()
        self.config.language_tuning = "frozen"
        self.config.language_model_name_or_path = None  # the merged LM is no longer the base checkpoint
        self._set_trainable()
        return self

    def _adapter_only(self) -> bool:
        """Whether checkpoints leave out the frozen LM (LoRA on an LM that reloads from its checkpoint)."""
        return self.config.language_tuning == "lora" and self.config.language_model_name_or_path is not None

    def weights_loaded_separately(self) -> set[str]:
        """An adapter-only checkpoint's frozen LM weights, which `from_pretrained` reloads from their checkpoint."""
        if not self._adapter_only():
            return set()
        return {key for key in self.state_dict() if self._is_frozen_language_key(key)}

    @staticmethod
    def _is_frozen_language_key(key: str) -> bool:
        return key.startswith("language_model.") and "lora_" not in key

    def _set_trainable(self) -> None:
        """requires_grad by the config: LM frozen but LoRA (or fully trained, or frozen), video encoder fine-tuned,
        frozen with trainable adapters, or frozen; bridges, heads and the detector always train."""
        config = self.config
        for name, param in self.language_model.named_parameters():
            param.requires_grad_(
                config.language_tuning == "full" or (config.language_tuning == "lora" and "lora_" in name)
            )
        if self.vision_model is not None:
            self.vision_model.requires_grad_(config.vision_tuning == "full")

    def parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Trainable parameters by learning-rate group: `"vision"` (the pretrained video encoder), `"language"`
        (LoRA or LM weights) and `"head"` (everything new: detector, bridges, advantage head, special-token
        offsets, temporal adapters)."""
        groups = {"head": [], "vision": [], "language": []}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            if name.startswith("vision_model."):
                groups["vision"].append((name, param))
            elif name.startswith("language_model."):
                groups["language"].append((name, param))
            else:
                groups["head"].append((name, param))
        return groups

    # -------------------------------------------------------------------------------------- text set-up
    def set_tokenizer(self, tokenizer) -> None:
        """Attach the tokenizer (needed to write the L_tg answers and to re-tokenize descriptions); it must map the
        special tokens to `config.special_token_ids`."""
        ids = [tokenizer.convert_tokens_to_ids(token) for token in self.config.special_tokens]
        if self.config.special_token_ids is not None and ids != list(self.config.special_token_ids):
            raise ValueError(
                f"the tokenizer maps {self.config.special_tokens} to {ids} but the model was built with "
                f"special_token_ids {self.config.special_token_ids}: add them with from_backbones"
            )
        self.tokenizer = tokenizer

    def set_class_descriptions(self, class_descriptions: list[str] | None, tokenizer=None) -> list[int]:
        """Set T_desc (one description per class, or None for names only) and re-tokenize the instruction into
        `config.prompt_token_ids`. Returns the token ids."""
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        if tokenizer is None:
            raise ValueError("set_class_descriptions needs a tokenizer: pass one or call set_tokenizer first")
        config = self.config
        if class_descriptions is not None:
            if isinstance(class_descriptions, str) or len(class_descriptions) != config.num_classes:
                raise ValueError(
                    f"class_descriptions must be a list of {config.num_classes} strings (one per class), "
                    f"got {class_descriptions!r}"
                )
            class_descriptions = [str(d) for d in class_descriptions]
        prompt = format_action_prompt(
            config.class_names, class_descriptions, config.prompt_template, config.action_template
        )
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        config.class_descriptions = class_descriptions
        config.prompt_token_ids = list(ids)
        return config.prompt_token_ids

    # -------------------------------------------------------------------------------------- loading
    @classmethod
    def from_backbones(
        cls,
        language_model,
        vision_model=None,
        tokenizer=None,
        *,
        dtype: torch.dtype | None = None,
        vision_image_size: int | None = None,
        **config_kwargs,
    ) -> "ActionVLMForTemporalLocalization":
        """ActionVLM on real backbones: `language_model` (hub id, path or `PreTrainedModel`; any causal LM, or the
        text model of a vision-language checkpoint), `vision_model` (a `VideoMAEModel` id/path/instance, or None
        for pre-extracted features), `tokenizer` (default: the LM's). The special tokens are added to the tokenizer
        (and the embeddings resized when the vocabulary lacks room; otherwise a Hub LM is recorded as
        `language_model_name_or_path`, so that LoRA checkpoints store only the adapter). `config_kwargs` go to `ActionVLMConfig`
        (`id2label`, `class_descriptions`, `input_dim` for features, `vision_tuning`, ...); `vision_image_size`
        overrides the encoder's input size (its position table is sinusoidal)."""
        lm = load_causal_lm(language_model, dtype=dtype)
        if tokenizer is None:
            if not isinstance(language_model, (str, os.PathLike)):
                raise ValueError("pass tokenizer= when language_model is a model instance")
            tokenizer = language_model
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        special_tokens = list(config_kwargs.get("special_tokens") or DEFAULT_SPECIAL_TOKENS)
        tokenizer.add_tokens(special_tokens, special_tokens=True)
        special_ids = [tokenizer.convert_tokens_to_ids(token) for token in special_tokens]
        rows = lm.get_input_embeddings().weight.shape[0]
        if max(special_ids) >= rows:  # never shrink a padded vocabulary (Qwen2.5 has 151,936 rows for 151,665 tokens)
            lm.resize_token_embeddings(max(special_ids) + 1, mean_resizing=True)
        elif isinstance(language_model, (str, os.PathLike)):
            # LoRA checkpoints then hold only the adapter: the frozen LM reloads from its Hub checkpoint (a local
            # path may be gone by then; pass language_model_name_or_path to rely on one)
            config_kwargs.setdefault("language_model_name_or_path", hub_repo_id(language_model))

        vm = None
        if vision_model is not None:
            if isinstance(vision_model, PreTrainedModel):
                vm = vision_model
            else:
                extra = {"image_size": vision_image_size} if vision_image_size is not None else {}
                vm = AutoModel.from_pretrained(vision_model, **extra, **({"dtype": dtype} if dtype else {}))
                # the frame statistics the encoder was trained with (its processor class's defaults may differ)
                processor = saved_preprocessor_dict(str(vision_model)) or {}
                for key in ("image_mean", "image_std"):
                    if config_kwargs.get(key) is None and processor.get(key) is not None:
                        config_kwargs[key] = list(processor[key])
            if vm.config.model_type != "videomae":
                raise ValueError(f"vision_model must be a VideoMAE model, got model type {vm.config.model_type!r}")
            if hasattr(vm, "videomae"):  # a VideoMAEForVideoClassification instance: keep the encoder
                vm = vm.videomae
        # A config's construction resets its sub-configs' attention implementation: keep the loaded models' own.
        attention = {id(m): m.config._attn_implementation for m in (lm, vm) if m is not None}
        config = ActionVLMConfig(
            text_config=lm.config,
            vision_config=vm.config if vm is not None else None,
            special_token_ids=special_ids,
            **config_kwargs,
        )
        for m in (lm, vm):
            if m is not None:
                m.config._attn_implementation = attention[id(m)]
        model = cls(config, language_model=lm, vision_model=vm)
        model.set_tokenizer(tokenizer)
        model.set_class_descriptions(config.class_descriptions)
        return model

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "ActionVLMForTemporalLocalization":
        """The paper's checkpoint `name` (`ACTIONVLM_PRESETS`) on its real backbones (downloads them)."""
        if name not in ACTIONVLM_PRESETS:
            raise ValueError(f"unknown ActionVLM preset {name!r}; available: {sorted(ACTIONVLM_PRESETS)}")
        preset = ACTIONVLM_PRESETS[name]
        values = dict(preset["config"], vision_image_size=preset["vision_config"]["image_size"])
        values.update(kwargs)
        return cls.from_backbones(preset["language_model"], preset["vision_model"], **values)

    def save_pretrained(self, save_directory, *args, **kwargs):
        save_tokenizer(self.tokenizer, save_directory, args, kwargs)
        if self._adapter_only():  # the frozen LM reloads from config.language_model_name_or_path
            state_dict = kwargs.get("state_dict")
            state_dict = self.state_dict() if state_dict is None else state_dict
            kwargs["state_dict"] = {k: v for k, v in state_dict.items() if not self._is_frozen_language_key(k)}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        hub = {k: kwargs[k] for k in ("cache_dir", "revision", "token", "local_files_only") if k in kwargs}
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        if model._adapter_only():  # an adapter-only checkpoint: the frozen LM weights come from their checkpoint
            model._load_base_language_model(**hub)
        model._set_trainable()
        tokenizer = load_saved_tokenizer(pretrained_model_name_or_path, kwargs)
        if tokenizer is not None:  # a checkpoint saved without a tokenizer still predicts; only L_tg needs one
            model.set_tokenizer(tokenizer)
        if model.config.prompt_token_ids is None and model.tokenizer is not None:  # re-headed: prompt the new classes
            model.set_class_descriptions(model.config.class_descriptions)
        return model

    def _load_base_language_model(self, **hub) -> None:
        base = load_causal_lm(self.config.language_model_name_or_path, dtype=self.dtype, **hub).state_dict()
        wrapped = self.language_model
        # peft moved each adapted Linear's weights under `base_layer`
        weights = {
            key: base[key.replace(".base_layer", "")]
            for key in wrapped.state_dict()
            if "lora_" not in key and key.replace(".base_layer", "") in base
        }
        missing = [k for k in wrapped.state_dict() if "lora_" not in k and k not in weights]
        if missing:
            raise ValueError(
                f"{self.config.language_model_name_or_path} lacks LM weights {missing[:5]} that this "
                "adapter-only checkpoint needs"
            )
        wrapped.load_state_dict(weights, strict=False)

    @classmethod
    def card_kwargs_from_config(cls, config) -> dict:
        # The backbones from_backbones loaded (a VLM's text model names its checkpoint); a model built from a
        # config has random backbones and names none.
        names = [
            hub_repo_id(c._name_or_path.removesuffix(TEXT_MODEL_SUFFIX))
            for c in (config.vision_config, config.text_config)
            if c is not None
        ]
        names = [name for name in names if name]
        vision = config.vision_config
        rows = [
            (
                "video encoder",
                f"{vision.model_type} {vision.hidden_size}-d x {vision.num_hidden_layers} layers, "
                f"{config.vision_tuning}"
                if vision is not None
                else f"pre-extracted {config.input_dim}-d features",
            ),
            (
                "language model",
                f"{config.text_config.model_type} {config.text_config.hidden_size}-d x "
                f"{config.text_config.num_hidden_layers} layers, {config.language_tuning}"
                + (
                    f" (rank {config.lora_rank}, alpha {config.lora_alpha})" if config.language_tuning == "lora" else ""
                ),
            ),
            ("special tokens", ", ".join(f"`{t}`" for t in config.special_tokens)),
            ("loss weights", f"λ_tg = {config.text_loss_weight}, λ_adv = {config.advantage_loss_weight}"),
        ]
        return {
            "base_model": names or None,
            "citation": CITATION,
            "architecture_rows": rows,
            "special_token_layout": config.special_token_layout,
            "prompt_position": config.prompt_position,
        }

    # ------------------------------------------------------------------------------------- inputs
    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """Two short videos, the second padded."""
        if self.vision_model is None:
            return self.detector.dummy_inputs  # ActionFormer's: the detector reads the same features
        generator = torch.Generator().manual_seed(0)
        vision = self.config.vision_config
        frames = 2 * vision.num_frames
        pixels = torch.randn(2, frames, vision.num_channels, vision.image_size, vision.image_size, generator=generator)
        mask = torch.ones(2, frames, dtype=torch.long)
        mask[1, vision.num_frames :] = 0
        return {"pixel_values": pixels.to(self.device, self.dtype), "attention_mask": mask.to(self.device)}

    def video_feature_geometry(self) -> dict[str, int]:
        """For `pixel_values` input: `{"feature_stride", "num_frames"}` of the tokens in video frames (one token per
        tubelet, or per frame with `upsample_video_tokens`), for `seconds_to_feature_grid` and post-processing."""
        if self.config.vision_config is None:
            raise ValueError("this ActionVLM reads pre-extracted features (no vision_config)")
        step = 1 if self.config.upsample_video_tokens else self.config.vision_config.tubelet_size
        return {"feature_stride": step, "num_frames": step}

    def encode_video(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`(B, F, C, H, W)` frames (F a multiple of the encoder's clip length) -> F_vis `(B, L, D)`: clips through
        the encoder, tokens mean-pooled over space, one per tubelet (or interpolated to one per frame)."""
        if self.vision_model is None:
            raise ValueError("this ActionVLM reads pre-extracted features (input_features); it has no video encoder")
        vision = self.config.vision_config
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.ndim != 5:
            shape = tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else type(pixel_values)
            raise ValueError(f"pixel_values must be (batch, frames, channels, height, width), got {shape}")
        batch, frames = pixel_values.shape[:2]
        clip = vision.num_frames
        if frames == 0 or frames % clip != 0:
            raise ValueError(
                f"pixel_values has {frames} frames; it must be a positive multiple of the encoder's "
                f"clip length {clip} (pad the video with whole clips and mask them)"
            )
        clips = pixel_values.reshape(batch * (frames // clip), clip, *pixel_values.shape[2:])
        hidden = self.vision_model(pixel_values=clips.to(self.vision_model.dtype)).last_hidden_state
        temporal = clip // vision.tubelet_size
        hidden = hidden.view(hidden.shape[0], temporal, -1, hidden.shape[-1]).mean(dim=2)
        features = hidden.reshape(batch, (frames // clip) * temporal, -1)
        if self.config.upsample_video_tokens:
            features = F.interpolate(features.transpose(1, 2), size=frames, mode="linear", align_corners=False)
            features = features.transpose(1, 2)
        return features.to(self.visual_projection.weight.dtype)

    def _visual_features(self, input_features, pixel_values, attention_mask) -> tuple[torch.Tensor, torch.Tensor]:
        if (input_features is None) == (pixel_values is None):
            raise ValueError("pass exactly one of input_features (pre-extracted) and pixel_values (video frames)")
        if pixel_values is not None:
            features = self.encode_video(pixel_values)
            length = features.shape[1]
            if attention_mask is None:
                return features, torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)
            mask = attention_mask.to(device=features.device, dtype=torch.bool)
            frames = pixel_values.shape[1]
            if mask.shape == (features.shape[0], length):
                return features, mask
            if mask.shape == (features.shape[0], frames):  # frame mask -> token mask (a token is real if any frame is)
                return features, mask.view(mask.shape[0], length, -1).any(dim=-1)
            raise ValueError(
                f"attention_mask must be (batch, frames) = {(features.shape[0], frames)} or (batch, "
                f"tokens) = {(features.shape[0], length)}, got {tuple(mask.shape)}"
            )
        if self.vision_model is not None and input_features.shape[-1] != self.config.input_dim:
            raise ValueError(
                f"input_features has {input_features.shape[-1]} channels but the model's features are "
                f"{self.config.input_dim}-d"
            )
        if not isinstance(input_features, torch.Tensor) or input_features.ndim != 3:
            raise ValueError(f"input_features must be a (batch, time, {self.config.input_dim}) tensor")
        if attention_mask is None:
            mask = torch.ones(input_features.shape[:2], dtype=torch.bool, device=input_features.device)
        else:
            if attention_mask.shape != input_features.shape[:2]:
                raise ValueError(
                    f"attention_mask must be (batch, time) = {tuple(input_features.shape[:2])}, "
                    f"got {tuple(attention_mask.shape)}"
                )
            mask = attention_mask.to(device=input_features.device, dtype=torch.bool)
        return input_features, mask

    # ------------------------------------------------------------------------------------- language
    def _answer_token_ids(self, labels: list[dict]) -> list[list[int]]:
        if self.tokenizer is None:
            raise ValueError(
                "the text-generation loss L_tg needs the tokenizer: build the model with from_backbones, "
                "call model.set_tokenizer(tokenizer), or set config.text_loss_weight = 0"
            )
        config, eos = self.config, self.tokenizer.eos_token_id
        if eos is None:
            eos = getattr(config.text_config, "eos_token_id", None)
            eos = eos[0] if isinstance(eos, (list, tuple)) else eos
        answers = []
        for item in labels:
            text = format_proposal_answer(
                item["segments"],
                item["class_labels"],
                config.class_names,
                config.proposal_order,
                config.max_answer_proposals,
                config.answer_template,
                config.empty_answer,
            )
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            answers.append(list(ids) + ([int(eos)] if eos is not None else []))
        return answers

    def _language_features(
        self, features: torch.Tensor, mask: torch.Tensor, answers: list[list[int]] | None, output_text_logits: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Run the LM once over [visual tokens | special tokens | instruction | answer] per video (right-padded
        batch). Returns F_lang,cls, F_lang,loc, F_adv `(B, L, D)`, L_tg (or None) and the next-token logits."""
        config = self.config
        if config.special_token_ids is None or config.prompt_token_ids is None:
            raise ValueError(
                "the language path needs config.special_token_ids and config.prompt_token_ids: build the "
                "model with from_backbones (or call set_class_descriptions with a tokenizer)"
            )
        lm = self.language_model
        device = features.device
        embed = lm.get_input_embeddings()
        dtype = embed.weight.dtype
        batch, length, _ = features.shape
        lengths = mask.sum(dim=1)
        prompt_ids = torch.tensor(config.prompt_token_ids, device=device)
        num_prompt = prompt_ids.numel()
        special = embed(torch.tensor(config.special_token_ids, device=device)) + self.special_token_offsets.to(dtype)
        visual = self.visual_projection(features).to(dtype)

        frame = torch.arange(length, device=device).expand(batch, length)
        n = lengths[:, None]
        if config.special_token_layout == "blocked":  # v_1..v_n, [cls]_1..[cls]_n, [loc]..., [adv]...
            positions = [frame + k * n for k in range(4)]
        else:  # v_1 [cls]_1 [loc]_1 [adv]_1 v_2 ...
            positions = [4 * frame + k for k in range(4)]
        if config.prompt_position == "before_visual":
            positions = [p + num_prompt for p in positions]
            prompt_start = torch.zeros_like(lengths)
        else:
            prompt_start = 4 * lengths
        answer_start = 4 * lengths + num_prompt
        answer_lengths = torch.tensor([len(a) for a in answers] if answers else [0] * batch, device=device)
        seq_lengths = answer_start + answer_lengths
        total = int(seq_lengths.max())

        rows = torch.arange(batch, device=device)[:, None]
        embeds = visual.new_zeros(batch, total, visual.shape[-1])
        row_index = rows.expand(batch, length)[mask]
        embeds[row_index, positions[0][mask]] = visual[mask]
        for k in range(3):
            embeds[row_index, positions[k + 1][mask]] = special[k].expand(int(mask.sum()), -1)
        prompt_positions = prompt_start[:, None] + torch.arange(num_prompt, device=device)
        embeds[rows.expand(batch, num_prompt), prompt_positions] = embed(prompt_ids).expand(batch, -1, -1)
        if answers:
            width = int(answer_lengths.max())
            answer_ids = torch.zeros(batch, width, dtype=torch.long, device=device)
            for b, ids in enumerate(answers):
                answer_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long, device=device)
            answer_valid = torch.arange(width, device=device)[None] < answer_lengths[:, None]
            answer_positions = answer_start[:, None] + torch.arange(width, device=device)
            answer_rows = rows.expand(batch, width)[answer_valid]
            embeds[answer_rows, answer_positions[answer_valid]] = embed(answer_ids[answer_valid])
        attention = (torch.arange(total, device=device)[None] < seq_lengths[:, None]).long()

        hidden = lm.get_decoder()(inputs_embeds=embeds, attention_mask=attention, use_cache=False).last_hidden_state

        def gather(k: int) -> torch.Tensor:
            states = hidden[rows, positions[k].clamp(max=total - 1)]
            return states.to(features.dtype) * mask[..., None]

        lang_cls = self.cls_projection(gather(1))
        lang_loc = self.loc_projection(gather(2))
        lang_adv = self.adv_projection(gather(3))
        text_loss = text_logits = None
        head = lm.get_output_embeddings()
        if answers:
            # Teacher forcing: the state before each answer token predicts it; logits only where needed.
            predicting = hidden[answer_rows, answer_positions[answer_valid] - 1]
            text_loss = F.cross_entropy(head(predicting).float(), answer_ids[answer_valid])
        if output_text_logits:
            last = (answer_start - 1) if answers else (seq_lengths - 1)
            text_logits = head(hidden[torch.arange(batch, device=device), last]).float()
        return lang_cls * mask[..., None], lang_loc * mask[..., None], lang_adv, text_loss, text_logits

    # ------------------------------------------------------------------------------- per-frame losses
    def frame_classes(self, labels: list[dict], length: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, length)` ground-truth class of each frame (feature step `l` is inside `[start, end]`), −1 outside
        actions and at padding; where actions overlap the shortest wins."""
        device = mask.device if mask is not None else self.device
        pairs = validate_segment_labels(labels, None, self.config.num_classes, device)
        segments, classes, valid = pad_segment_labels(pairs, device)
        t = torch.arange(length, device=device, dtype=torch.float32)[None, None, :]
        inside = (t >= segments[..., :1]) & (t <= segments[..., 1:]) & valid[..., None]  # (B, N, L)
        widths = (segments[..., 1] - segments[..., 0])[..., None].expand_as(inside).masked_fill(~inside, float("inf"))
        shortest, index = widths.min(dim=1)  # (B, L)
        result = classes.gather(1, index).masked_fill(~torch.isfinite(shortest), -1)
        if mask is not None:
            result = result.masked_fill(~mask, -1)
        return result

    @staticmethod
    @torch.no_grad()
    def frame_losses(point_losses: torch.Tensor, points: torch.Tensor, length: int) -> torch.Tensor:
        """Per-frame detection loss `(B, length)`: each pyramid point's loss (`ActionFormerOutput.point_losses`:
        focal summed over classes + weighted DIoU at positives, without the positive-count normaliser) spread
        evenly over the frames it covers."""
        strides, counts = torch.unique_consecutive(points[:, 3], return_counts=True)
        result = point_losses.new_zeros(point_losses.shape[0], length)
        start = 0
        for stride, count in zip(strides.tolist(), counts.tolist()):
            stride = int(stride)
            spread = point_losses[:, start : start + count].repeat_interleave(stride, dim=1)[:, :length] / stride
            result[:, : spread.shape[1]] += spread
            start += count
        return result

    def advantage_targets(
        self, frame_losses: torch.Tensor, frame_classes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A(l) = L̄_v(c) − L_vl(l) for frames of ground-truth class c that the vision-only epochs saw, 0 on every
        other frame (off-action: language has no advantage to show there; a class without statistics yet: none
        measured). Returns `(targets, on_action)`, both `(B, L)`; `on_action` marks the frames of the first kind."""
        counts = self.vision_class_frames.to(frame_losses.device)
        means = self.vision_class_loss.to(frame_losses.device, frame_losses.dtype)
        index = frame_classes.clamp(min=0)
        on_action = (frame_classes >= 0) & (counts[index] > 0)
        targets = torch.where(on_action, means[index] - frame_losses, torch.zeros_like(frame_losses))
        return targets, on_action

    def set_vision_class_statistics(self, loss_sums: torch.Tensor, frame_counts: torch.Tensor) -> None:
        """Store L̄_v(c) = `loss_sums / frame_counts` per class (summed over processes by the caller; the counts are
        frames, or samples when the sums are of per-sample means); classes not seen (count 0) keep their previous
        statistics."""
        loss_sums = torch.as_tensor(loss_sums, dtype=torch.float64).to(self.vision_class_loss.device)
        frame_counts = torch.as_tensor(frame_counts, dtype=torch.float64).to(self.vision_class_loss.device)
        if loss_sums.shape != self.vision_class_loss.shape or frame_counts.shape != self.vision_class_loss.shape:
            raise ValueError(
                f"class statistics must have shape ({self.config.num_classes},), got "
                f"{tuple(loss_sums.shape)} and {tuple(frame_counts.shape)}"
            )
        seen = frame_counts > 0
        means = torch.where(seen, loss_sums / frame_counts.clamp(min=1), self.vision_class_loss.double())
        self.vision_class_loss.copy_(means.to(self.vision_class_loss.dtype))
        self.vision_class_frames.copy_(torch.where(seen, frame_counts, self.vision_class_frames.double()).float())

    # -------------------------------------------------------------------------------------- forward
    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: list[dict] | None = None,
        pixel_values: torch.Tensor | None = None,
        use_language: bool | None = None,
        output_text_logits: bool = False,
        return_dict: bool | None = None,
    ) -> ActionVLMOutput | tuple:
        r"""
        Args:
            input_features (`(B, T, input_dim)`): pre-extracted per-frame features (no vision encoder).
            pixel_values (`(B, F, C, H, W)`): video frames, for a model with a vision encoder.
            attention_mask (`(B, T)` or `(B, F)`): 1 at real steps/frames, 0 at padding.
            labels (`list` of `B` dicts): `{"class_labels": (n,), "segments": (n, 2)}` in feature steps of the
                window; when given the losses are computed.
            use_language (`bool`, default `self.use_language`): False runs the vision-only path (no LM call).
            output_text_logits (`bool`): also return the LM's single next-token distribution.
        """
        use_language = self.use_language if use_language is None else use_language
        features, mask = self._visual_features(input_features, pixel_values, attention_mask)
        batch, length = mask.shape
        detector = self.detector
        advantage = weight = text_loss = text_logits = None
        if use_language:
            answers = None
            if labels is not None and self.config.text_loss_weight > 0:
                answers = self._answer_token_ids(labels)
            lang_cls, lang_loc, lang_adv, text_loss, text_logits = self._language_features(
                features, mask, answers, output_text_logits
            )
            advantage = self.advantage_head(lang_adv).squeeze(-1) * mask
            weight = language_advantage_weight(advantage)
            cls_stream = features + weight[..., None] * lang_cls
            loc_stream = features + weight[..., None] * lang_loc
            # One detector pass over both streams (shared weights): classify from F_cls, regress from F_loc.
            pyramid, pyramid_masks = detector.pyramid(torch.cat([cls_stream, loc_stream]), torch.cat([mask, mask]))
            cls_pyramid = [level[:batch] for level in pyramid]
            loc_pyramid = [level[batch:] for level in pyramid]
            level_masks = [m[:batch] if m is not None else None for m in pyramid_masks]
        else:  # vision-only: F_cls = F_loc = F_vis, the LM is never called
            cls_pyramid, level_masks = detector.pyramid(features, mask)
            loc_pyramid = cls_pyramid
        detection = detector.detect(cls_pyramid, loc_pyramid, level_masks, labels=labels, output_point_losses=True)
        cls_logits, offsets, flat_masks, points = (
            detection.cls_logits,
            detection.offsets,
            detection.masks,
            detection.points,
        )

        loss = detection_loss = cls_loss = reg_loss = advantage_loss = frame_losses = frame_classes = None
        if labels is not None:
            detection_loss, cls_loss, reg_loss = detection.loss, detection.cls_loss, detection.reg_loss
            frame_losses = self.frame_losses(detection.point_losses, points, length) * mask
            frame_classes = self.frame_classes(labels, length, mask)
            loss = detection_loss
            if use_language:
                targets, _ = self.advantage_targets(frame_losses, frame_classes)
                # Eq. 3: the mean over every real frame, off-action frames regressing Â to 0.
                advantage_loss = ((advantage - targets) ** 2)[mask].mean()
                loss = loss + self.config.advantage_loss_weight * advantage_loss
                if text_loss is not None:
                    loss = loss + self.config.text_loss_weight * text_loss
        output = ActionVLMOutput(
            loss=loss,
            detection_loss=detection_loss,
            cls_loss=cls_loss,
            reg_loss=reg_loss,
            text_loss=text_loss,
            advantage_loss=advantage_loss,
            cls_logits=cls_logits,
            offsets=offsets,
            points=points,
            masks=flat_masks,
            language_advantage=advantage,
            language_weight=weight,
            frame_losses=frame_losses,
            frame_classes=frame_classes,
            frame_mask=mask,
            text_logits=text_logits,
        )
        return output if return_dict is not False else output.to_tuple()

    def post_process(self, outputs, metadata: list[dict], label_names: bool = False) -> list[list[dict]]:
        """Detections in seconds per video: ActionFormer's decoding (soft-NMS, voting) of the outputs."""
        return self.detector.post_process(outputs, metadata, label_names=label_names)
