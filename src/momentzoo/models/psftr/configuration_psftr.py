"""PSFTR configuration. Defaults are the paper's THUMOS14 setting (CLIP ViT-B/16 features and text encoder,
2 encoder / 5 decoder layers, 40 queries, 8 heads, d = 512, its Table 5 loss coefficients)."""

from transformers import AutoConfig, PreTrainedConfig

from ..backbone_utils import CLIP_TEXT_MODEL_ID, clip_text_config
from ..temporal_localization import THUMOS14_CLASSES, TemporalLocalizationConfigMixin
from ..validation import ConfigFieldChecks, LabelMapMixin

__all__ = ["PSFTRConfig", "THUMOS14_CLASSES", "CLIP_TEXT_MODEL_ID", "DEFAULT_PROMPT_TEMPLATE"]

DEFAULT_PROMPT_TEMPLATE = "a video of a person doing {label}"
ACTIONNESS_HEADS = ("query", "roi")
INFERENCE_CLASSIFICATIONS = ("roi", "query", "roi_and_query")
SPDE_VARIANTS = ("prototype", "none")


_checks = ConfigFieldChecks("PSFTRConfig")
_fail, _int, _float, _bool, _choice = _checks.fail, _checks.integer, _checks.number, _checks.boolean, _checks.choice


class PSFTRConfig(LabelMapMixin, TemporalLocalizationConfigMixin, PreTrainedConfig):
    r"""Configuration of [`PSFTRModel`] ("Progressive Semantic Fusion Transformer for Zero-Shot Temporal Action
    Localization", ICLR 2026 submission). Every field is validated; a bad value raises a `ValueError` naming it.

    Inputs:
        input_dim (`int`, 512): frame feature size; the features are CLIP image embeddings in the joint
            image-text space, so it must equal the text encoder's `projection_dim` (SPDE compares the two).
        text_config (`dict` or `CLIPTextConfig`): the text encoder, a `CLIPTextModelWithProjection`; defaults to
            CLIP ViT-B/16's text tower. text_model_name_or_path (`str` or None, None): where its weights came from,
            set by `PSFTRModel.from_backbones` (None for a model built from a config, whose weights are random, or
            from a model object of unknown origin); the model card names it as the base model.
        prompt_template (`str`, "a video of a person doing {label}"): how a class name becomes the encoder's
            text; the paper's ablation also tries "{label}", "a video of {label}", "a video of action {label}".
        split_camel_case (`bool`, True): "CleanAndJerk" -> "clean and jerk" before prompting (THUMOS14's names).
        freeze_text_encoder (`bool`, True): keep CLIP's text weights fixed (the paper), so class embeddings are
            computed once per class set and cached.
        text_max_length (`int`, 77): prompt tokens (CLIP's context length).
    Architecture:
        hidden_size (`int`, 512), num_attention_heads (`int`, 8), ffn_dim (`int`, 2048), dropout (`float`, 0.1),
        activation_function (`str`, "relu").
        input_conv_kernel_size (`int`, 3): the 1-D convolution V -> Ṽ.
        num_encoder_layers (`int`, 2): SSAE layers. num_decoder_layers (`int`, 5; 2 for ActivityNet): SGQG layers.
        num_queries (`int`, 40; 30 for ActivityNet).
        encoder_num_points, decoder_num_points (`int`, 4): sampling points per head of the deformable attention.
        roi_size (`int`, 16), roi_sampling_ratio (`int`, 2): the 1-D RoI align over each predicted interval
            (inference classification, §3.7.1; and the actionness head when `actionness_head="roi"`).
        prototype_logit_scale (`float`, 1.0), prototype_normalize (`bool`, False): SPDE's Eq. 5,
            `V̂ = softmax(T Vᵀ) V`, literally by default: the frame features as given, no scale. `True` / 100.0
            take it over CLIP-normalised frames scaled by CLIP's logit scale (as sharp as CLIP's zero-shot softmax).
        class_logit_scale_init (`float`, 1 / 0.07): initial (learned) scale of the query-text cosine similarity.
        actionness_head (`"query"` or `"roi"`, "query"): the paper's base, a linear layer on each decoder query
            (sigmoid focal loss); `"roi"`: an MLP on the RoI-aligned encoder features of its segment plus the query.
    Inference classification (§3.7.1):
        inference_classification (`"roi"`, `"query"` or `"roi_and_query"`, "roi"): how a detection's class
            probabilities are computed. `"roi"`: the CLIP frame features RoI-aligned over the predicted interval,
            mean-pooled and L2-normalised, scored against the class texts (cosine x `roi_class_logit_scale`,
            softmax over the classes); `"query"`: the softmax of the decoder's class logits; `"roi_and_query"`:
            the mean of the two distributions.
        roi_class_logit_scale (`float`, 100.0): CLIP's logit scale for the RoI-text cosine similarity.
    Ablations (the paper's Tables 2-3; all on by default):
        text_to_vision (`bool`): SSAE's frames attend to the class texts (F_A); off: F̂ = FFN(F̃).
        vision_to_text (`bool`): SSAE's class texts attend to the frames (T_A); off: T̂ = FFN(T̃).
        text_to_query (`bool`): SGQG's queries attend to the encoded class texts (Q_A); off: Q̃ = Q̄.
        spde (`"prototype"` or `"none"`, "prototype"): SPDE's prototype enhancement of the queries, or none
            (the queries' own embedding is compared with the class texts).
    Training:
        class_loss_coefficient (2), l1_loss_coefficient (5), iou_loss_coefficient (2),
        actionness_loss_coefficient (3), saliency_loss_coefficient (3; 2 for ActivityNet): the paper's Table 5.
        matcher_class_cost (2), matcher_l1_cost (5), matcher_iou_cost (2): Hungarian matching costs.
        matcher_class_cost_type (`"focal"` or `"probability"`, "focal"): the class term of the matching cost, Eq. 7
            as the base code computes it (Deformable DETR's focal cost on sigmoid(class logits), `focal_alpha`,
            `focal_gamma`), or DETR's -softmax probability.
        saliency_head (`"conv"` or `"linear"`, "conv"): the base code's head on the encoded frames, Conv1d(k=3) ->
            LeakyReLU(0.2) -> Conv1d(k=1), or one linear layer.
        saliency_loss (`"bce"` or `"focal"`, "bce"): BCE averaged over real frames (the paper), or the base code's
            focal-modulated BCE (`focal_alpha`, `focal_gamma`; per window mean over its steps, summed, divided by
            the number of ground-truth segments).
        focal_alpha (0.25), focal_gamma (2.0): the query actionness focal loss.
        auxiliary_loss (`bool`, True): classification and segment losses on every decoder layer.
        slice_size (`int`, 128), train_slice_overlap (0.75), inference_slice_overlap (0.25): sliding windows
            (used by the collators / examples: the model accepts any length).
    Classes: id2label / label2id / num_labels (alias `num_classes`) as in transformers: the training classes
        (THUMOS14's 20 when none is given); any other class names can be
        passed to `forward(class_names=...)` and `post_process(class_names=...)` at inference.
    Feature geometry (defaults for metadata that lacks it): fps (30.0), feature_stride (4), num_frames (16).
    Post-processing: max_segments_per_window (`int`, 100): top (query, class) pairs kept per window;
        min_score (`float`, 0.001); nms_method (`"soft"`, `"hard"` or `"none"`), nms_iou_threshold (0.5),
        nms_sigma (0.5), max_segments (`int`, 200): NMS within a window and when windows are merged.
    """

    model_type = "psftr"
    sub_configs = {"text_config": AutoConfig}
    keys_to_ignore_at_inference = ["intermediate_logits", "intermediate_segments", "saliency_logits"]

    def __init__(
        self,
        input_dim: int = 512,
        text_config: dict | PreTrainedConfig | None = None,
        text_model_name_or_path: str | None = None,
        prompt_template: str = DEFAULT_PROMPT_TEMPLATE,
        split_camel_case: bool = True,
        freeze_text_encoder: bool = True,
        text_max_length: int = 77,
        hidden_size: int = 512,
        num_attention_heads: int = 8,
        ffn_dim: int = 2048,
        dropout: float = 0.1,
        activation_function: str = "relu",
        input_conv_kernel_size: int = 3,
        num_encoder_layers: int = 2,
        num_decoder_layers: int = 5,
        num_queries: int = 40,
        encoder_num_points: int = 4,
        decoder_num_points: int = 4,
        roi_size: int = 16,
        roi_sampling_ratio: int = 2,
        prototype_logit_scale: float = 1.0,
        prototype_normalize: bool = False,
        class_logit_scale_init: float = 1.0 / 0.07,
        actionness_head: str = "query",
        inference_classification: str = "roi",
        roi_class_logit_scale: float = 100.0,
        text_to_vision: bool = True,
        vision_to_text: bool = True,
        text_to_query: bool = True,
        spde: str = "prototype",
        class_loss_coefficient: float = 2.0,
        l1_loss_coefficient: float = 5.0,
        iou_loss_coefficient: float = 2.0,
        actionness_loss_coefficient: float = 3.0,
        saliency_loss_coefficient: float = 3.0,
        matcher_class_cost: float = 2.0,
        matcher_l1_cost: float = 5.0,
        matcher_iou_cost: float = 2.0,
        matcher_class_cost_type: str = "focal",
        saliency_head: str = "conv",
        saliency_loss: str = "bce",
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        auxiliary_loss: bool = True,
        slice_size: int = 128,
        train_slice_overlap: float = 0.75,
        inference_slice_overlap: float = 0.25,
        fps: float = 30.0,
        feature_stride: int = 4,
        num_frames: int = 16,
        max_segments_per_window: int = 100,
        min_score: float = 0.001,
        nms_method: str = "soft",
        nms_iou_threshold: float = 0.5,
        nms_sigma: float = 0.5,
        max_segments: int = 200,
        num_classes: int | None = None,
        **kwargs,
    ):
        self.text_config = clip_text_config(text_config, _checks)
        self.input_dim = _int("input_dim", input_dim)
        text_dim = getattr(self.text_config, "projection_dim", None)
        if self.input_dim != text_dim:
            _fail(
                "input_dim",
                f"text_config.projection_dim = {text_dim} (frame and text embeddings share CLIP's joint space)",
                input_dim,
            )
        if text_model_name_or_path is not None and (
            not isinstance(text_model_name_or_path, str) or not text_model_name_or_path
        ):
            _fail("text_model_name_or_path", "None or a non-empty hub id or path", text_model_name_or_path)
        self.text_model_name_or_path = text_model_name_or_path
        if not isinstance(prompt_template, str) or prompt_template.count("{label}") != 1:
            _fail("prompt_template", "a string with exactly one '{label}'", prompt_template)
        try:
            prompt_template.format(label="x")
        except (IndexError, KeyError, ValueError):
            _fail("prompt_template", "a format string whose only field is '{label}'", prompt_template)
        self.prompt_template = prompt_template
        self.split_camel_case = _bool("split_camel_case", split_camel_case)
        self.freeze_text_encoder = _bool("freeze_text_encoder", freeze_text_encoder)
        self.text_max_length = _int("text_max_length", text_max_length, minimum=2)
        max_positions = getattr(self.text_config, "max_position_embeddings", self.text_max_length)
        if self.text_max_length > max_positions:
            _fail("text_max_length", f"<= text_config.max_position_embeddings = {max_positions}", text_max_length)

        self.hidden_size = _int("hidden_size", hidden_size)
        self.num_attention_heads = _int("num_attention_heads", num_attention_heads)
        if self.hidden_size % self.num_attention_heads:
            _fail("num_attention_heads", f"a divisor of hidden_size={self.hidden_size}", num_attention_heads)
        self.ffn_dim = _int("ffn_dim", ffn_dim)
        self.dropout = _float("dropout", dropout, 0.0, 1.0, high_open=True)
        self.activation_function = _choice("activation_function", activation_function, ("relu", "gelu", "silu"))
        self.input_conv_kernel_size = _int("input_conv_kernel_size", input_conv_kernel_size)
        if self.input_conv_kernel_size % 2 != 1:
            _fail("input_conv_kernel_size", "an odd integer", input_conv_kernel_size)
        self.num_encoder_layers = _int("num_encoder_layers", num_encoder_layers)
        self.num_decoder_layers = _int("num_decoder_layers", num_decoder_layers)
        self.num_queries = _int("num_queries", num_queries)
        self.encoder_num_points = _int("encoder_num_points", encoder_num_points)
        self.decoder_num_points = _int("decoder_num_points", decoder_num_points)
        self.roi_size = _int("roi_size", roi_size)
        self.roi_sampling_ratio = _int("roi_sampling_ratio", roi_sampling_ratio)
        self.prototype_logit_scale = _float("prototype_logit_scale", prototype_logit_scale, 0.0, low_open=True)
        self.prototype_normalize = _bool("prototype_normalize", prototype_normalize)
        self.actionness_head = _choice("actionness_head", actionness_head, ACTIONNESS_HEADS)
        self.inference_classification = _choice(
            "inference_classification", inference_classification, INFERENCE_CLASSIFICATIONS
        )
        self.roi_class_logit_scale = _float("roi_class_logit_scale", roi_class_logit_scale, 0.0, low_open=True)
        self.text_to_vision = _bool("text_to_vision", text_to_vision)
        self.vision_to_text = _bool("vision_to_text", vision_to_text)
        self.text_to_query = _bool("text_to_query", text_to_query)
        self.spde = _choice("spde", spde, SPDE_VARIANTS)
        self.class_logit_scale_init = _float(
            "class_logit_scale_init", class_logit_scale_init, 0.0, 100.0, low_open=True
        )

        for name, value in (
            ("class_loss_coefficient", class_loss_coefficient),
            ("l1_loss_coefficient", l1_loss_coefficient),
            ("iou_loss_coefficient", iou_loss_coefficient),
            ("actionness_loss_coefficient", actionness_loss_coefficient),
            ("saliency_loss_coefficient", saliency_loss_coefficient),
            ("matcher_class_cost", matcher_class_cost),
            ("matcher_l1_cost", matcher_l1_cost),
            ("matcher_iou_cost", matcher_iou_cost),
        ):
            setattr(self, name, _float(name, value, 0.0))
        if self.matcher_class_cost == self.matcher_l1_cost == self.matcher_iou_cost == 0:
            _fail("matcher_class_cost", "> 0 when the other matcher costs are 0", matcher_class_cost)
        self.matcher_class_cost_type = _choice(
            "matcher_class_cost_type", matcher_class_cost_type, ("focal", "probability")
        )
        self.saliency_head = _choice("saliency_head", saliency_head, ("conv", "linear"))
        self.saliency_loss = _choice("saliency_loss", saliency_loss, ("bce", "focal"))
        self.focal_alpha = _float("focal_alpha", focal_alpha, -1.0, 1.0)
        self.focal_gamma = _float("focal_gamma", focal_gamma, 0.0)
        self.auxiliary_loss = _bool("auxiliary_loss", auxiliary_loss)
        self.slice_size = _int("slice_size", slice_size)
        self.train_slice_overlap = _float("train_slice_overlap", train_slice_overlap, 0.0, 1.0, high_open=True)
        self.inference_slice_overlap = _float(
            "inference_slice_overlap", inference_slice_overlap, 0.0, 1.0, high_open=True
        )
        self.fps = _float("fps", fps, 0.0, low_open=True)
        self.feature_stride = _int("feature_stride", feature_stride)
        self.num_frames = _int("num_frames", num_frames)
        self.max_segments_per_window = _int("max_segments_per_window", max_segments_per_window)
        self.min_score = _float("min_score", min_score, 0.0, 1.0)
        self.nms_method = _choice("nms_method", nms_method, ("soft", "hard", "none"))
        self.nms_iou_threshold = _float("nms_iou_threshold", nms_iou_threshold, 0.0, 1.0)
        self.nms_sigma = _float("nms_sigma", nms_sigma, 0.0, low_open=True)
        self.max_segments = _int("max_segments", max_segments)

        super().__init__(id2label=_checks.resolve_labels(kwargs, num_classes, THUMOS14_CLASSES), **kwargs)

    @property
    def class_names(self) -> list[str]:
        """The training classes, in id order."""
        return [self.id2label[i] for i in range(len(self.id2label))]

    @property
    def text_embed_dim(self) -> int:
        return self.text_config.projection_dim

    takes_class_names = True  # forward / post_process(class_names=[...]): the zero-shot candidate classes

    @property
    def inference_window(self) -> tuple[int | None, float]:
        return self.slice_size, self.inference_slice_overlap

    def window_merge_nms_kwargs(self) -> dict:
        """Keyword arguments of `momentzoo.segments.batched_nms` for merging overlapping windows
        (`momentzoo.data.merge_window_predictions(..., nms_kwargs=config.window_merge_nms_kwargs())`)."""
        if self.nms_method == "none":
            return {
                "method": "hard",
                "iou_threshold": 1.0,
                "min_score": self.min_score,
                "max_segments": self.max_segments,
            }
        return {
            "method": self.nms_method,
            "iou_threshold": self.nms_iou_threshold,
            "sigma": self.nms_sigma,
            "min_score": self.min_score,
            "max_segments": self.max_segments,
        }

    def merge_nms_kwargs(self) -> dict:
        """The former name of `window_merge_nms_kwargs`."""
        return self.window_merge_nms_kwargs()
