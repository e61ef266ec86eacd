"""MLLM4WTAL configuration: a DELU base (`base_config`), a frozen CLIP text encoder (`text_config`) and the weights
of key semantic matching (lambda1 = lambda2 = 1.5) and complete semantic reconstruction (mu1 = 1.0), the paper's
defaults (supplementary of "Can MLLMs Guide Weakly-Supervised Temporal Action Localization Tasks?", CVPR 2025)."""

from transformers import AutoConfig, PreTrainedConfig

from ..backbone_utils import CLIP_TEXT_MODEL_ID, clip_text_config
from ..delu.configuration_delu import DELUConfig
from ..temporal_localization import TemporalLocalizationConfigMixin
from ..validation import ConfigFieldChecks

__all__ = ["CLIP_TEXT_MODEL_ID", "MLLM4WTALConfig"]

_checks = ConfigFieldChecks("MLLM4WTALConfig")
_fail, _int, _float = _checks.fail, _checks.integer, _checks.number


def _base_config(value, id2label, num_classes) -> DELUConfig:
    if value is None:
        value = {}
    if isinstance(value, DELUConfig):
        value = value.to_dict()
    if not isinstance(value, dict):
        _fail("base_config", "None, a dict or a DELUConfig", value)
    values = {k: v for k, v in value.items() if k not in ("model_type", "transformers_version", "label2id")}
    if id2label is not None or num_classes is not None:
        # The classes given at the top level re-head the base, as explicit arguments win in transformers
        # (`from_pretrained(ckpt, num_labels=K)` passes them beside the saved base_config).
        values["id2label"] = DELUConfig(id2label=id2label, num_classes=num_classes).id2label
        values.pop("num_classes", None)
    return DELUConfig(**values)


class MLLM4WTALConfig(TemporalLocalizationConfigMixin, PreTrainedConfig):
    r"""Configuration of [`MLLM4WTALModel`]: weakly-supervised TAL on a DELU base guided by MLLM descriptions of each
    training video (key descriptions `D_key`, complete descriptions `D_complete`). Every field is validated.

    Base and text encoder:
        base_config (`dict` or `DELUConfig`): the DELU base (features, classes, DELU's losses, proposals, NMS and
            windows all live there; `id2label` / `num_classes` given here are forwarded to it).
        text_config (`dict` or `CLIPTextConfig`): the frozen text encoder (CLIP ViT-B/16's text tower by default);
            text_model_name_or_path (`str`, "openai/clip-vit-base-patch16"): where `from_backbones` loads it from.
        max_description_length (`int`, 77): description tokens kept (CLIP's context).
    Key semantic matching (KSM):
        key_match_weight (`float`, 1.5, lambda1): video <-> key-description matching (InfoNCE over the batch, the
            video side pooled as the top-k mean of snippet similarities).
        key_prior_weight (`float`, 1.5, lambda2): top-k MIL on the CAS suppressed by the key prior (the prior must
            hold the video's classes on its few critical snippets).
        key_logit_scale_init (`float`, 10.0): initial learned scale of the snippet-description cosine similarity;
            key_prior = sigmoid(scale * cos + bias), bias starting at `key_logit_bias_init` (0.0).
    Complete semantic reconstruction (CSR):
        reconstruction_weight (`float`, 1.0, mu1): masked-token reconstruction of `D_complete` from the video
            weighted by the complete prior, plus a ranking term (the complement of the prior must reconstruct
            worse by `reconstruction_margin`).
        reconstruction_margin (`float`, 0.1), reconstruction_mask_ratio (`float`, 1/3): share of description words
            masked; reconstruction_hidden_size (`int`, 256), reconstruction_num_heads (`int`, 4),
            reconstruction_dropout (`float`, 0.1); complete_prior_hidden_size (`int`, 512);
            reconstruction_logit_scale_init (`float`, 10.0): words are scored by the learned scale times the cosine
            of the decoder output with each frozen word embedding.
    Interactive distillation:
        distillation_weight (`float`, 1.0): the two priors teach the base attention and learn from it
            (stop-gradient MSE both ways) and the key prior stays inside the complete one.
    """

    model_type = "mllm4wtal"
    sub_configs = {"base_config": DELUConfig, "text_config": AutoConfig}  # noqa: RUF012 (transformers API)

    def __init__(
        self,
        base_config: dict | DELUConfig | None = None,
        text_config: dict | PreTrainedConfig | None = None,
        text_model_name_or_path: str | None = CLIP_TEXT_MODEL_ID,
        max_description_length: int = 77,
        key_match_weight: float = 1.5,
        key_prior_weight: float = 1.5,
        key_logit_scale_init: float = 10.0,
        key_logit_bias_init: float = 0.0,
        reconstruction_weight: float = 1.0,
        reconstruction_margin: float = 0.1,
        reconstruction_mask_ratio: float = 1 / 3,
        reconstruction_hidden_size: int = 256,
        reconstruction_num_heads: int = 4,
        reconstruction_dropout: float = 0.1,
        complete_prior_hidden_size: int = 512,
        reconstruction_logit_scale_init: float = 10.0,
        distillation_weight: float = 1.0,
        num_classes: int | None = None,
        **kwargs,
    ):
        kwargs.pop("label2id", None)
        id2label, num_labels = kwargs.pop("id2label", None), kwargs.pop("num_labels", None)
        if num_labels is not None and num_classes is None and (id2label is None or len(id2label) != num_labels):
            id2label, num_classes = None, num_labels  # as in transformers: num_labels wins over a mismatched map
        self.base_config = _base_config(base_config, id2label, num_classes)
        self.text_config = clip_text_config(text_config, _checks)
        if text_model_name_or_path is not None and (
            not isinstance(text_model_name_or_path, str) or not text_model_name_or_path
        ):
            _fail("text_model_name_or_path", "None or a non-empty hub id or path", text_model_name_or_path)
        self.text_model_name_or_path = text_model_name_or_path
        self.max_description_length = _int("max_description_length", max_description_length, minimum=3)
        max_positions = getattr(self.text_config, "max_position_embeddings", self.max_description_length)
        if self.max_description_length > max_positions:
            _fail(
                "max_description_length",
                f"<= text_config.max_position_embeddings = {max_positions}",
                max_description_length,
            )
        for name, value in (
            ("key_match_weight", key_match_weight),
            ("key_prior_weight", key_prior_weight),
            ("reconstruction_weight", reconstruction_weight),
            ("reconstruction_margin", reconstruction_margin),
            ("distillation_weight", distillation_weight),
        ):
            setattr(self, name, _float(name, value, 0.0))
        self.key_logit_scale_init = _float("key_logit_scale_init", key_logit_scale_init, 0.0, 100.0, low_open=True)
        self.key_logit_bias_init = _float("key_logit_bias_init", key_logit_bias_init, -100.0, 100.0)
        self.reconstruction_mask_ratio = _float(
            "reconstruction_mask_ratio", reconstruction_mask_ratio, 0.0, 1.0, low_open=True
        )
        self.reconstruction_hidden_size = _int("reconstruction_hidden_size", reconstruction_hidden_size)
        self.reconstruction_num_heads = _int("reconstruction_num_heads", reconstruction_num_heads)
        if self.reconstruction_hidden_size % self.reconstruction_num_heads:
            _fail(
                "reconstruction_num_heads",
                f"a divisor of reconstruction_hidden_size={reconstruction_hidden_size}",
                reconstruction_num_heads,
            )
        self.reconstruction_dropout = _float("reconstruction_dropout", reconstruction_dropout, 0.0, 1.0, high_open=True)
        self.complete_prior_hidden_size = _int("complete_prior_hidden_size", complete_prior_hidden_size)
        self.reconstruction_logit_scale_init = _float(
            "reconstruction_logit_scale_init", reconstruction_logit_scale_init, 0.0, 100.0, low_open=True
        )
        super().__init__(id2label=dict(self.base_config.id2label), **kwargs)
        self.label2id = {name: i for i, name in self.id2label.items()}

    @property
    def num_classes(self) -> int:
        return self.base_config.num_classes

    def __setattr__(self, key, value):
        super().__setattr__(key, value)
        # Re-heading (`config.num_labels = K`, `from_pretrained(..., id2label=...)`) re-heads the DELU base too.
        if key == "id2label" and value is not None and "base_config" in self.__dict__:
            self.base_config.id2label = dict(self.id2label)
            super().__setattr__("label2id", {name: i for i, name in self.id2label.items()})

    @property
    def input_dim(self) -> int:
        return self.base_config.input_dim

    # Declared to the shared TAL pipeline (TemporalLocalizationConfigMixin): the base's geometry, windows and NMS.
    @property
    def max_seq_len(self) -> int:
        return self.base_config.max_seq_len

    @property
    def fps(self) -> float:
        return self.base_config.fps

    @property
    def feature_stride(self) -> int:
        return self.base_config.feature_stride

    @property
    def num_frames(self) -> int:
        return self.base_config.num_frames

    @property
    def inference_window(self) -> tuple[int | None, float]:
        return self.base_config.inference_window

    def window_merge_nms_kwargs(self) -> dict:
        return self.base_config.window_merge_nms_kwargs()
