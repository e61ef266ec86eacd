"""MLLM4WTAL ("Can MLLMs Guide Weakly-Supervised Temporal Action Localization Tasks?", CVPR 2025): a WTAL base (DELU)
trained with two priors built from MLLM descriptions of each training video.

* Key semantic matching (KSM): the key description `D_key` is embedded by a frozen text encoder; the cosine similarity
  of every (projected) snippet with it, through a learned sigmoid, is the key prior on critical intervals. It is
  trained to match its own video against the batch's other descriptions (lambda1) and to carry the video's classes on
  its few critical snippets (top-k MIL on the key-suppressed CAS, lambda2) - against over-completeness.
* Complete semantic reconstruction (CSR): words of the complete description `D_complete` are masked and reconstructed
  from the video by a cross-attention decoder whose attention is weighted by a complete prior; the prior's complement
  must reconstruct worse (mu1) - against incompleteness.
* Interactive distillation: the two priors and the base's attention teach each other (stop-gradient MSE), and the key
  prior stays inside the complete one.

Descriptions are needed for training only: inference is the base's (DELU's proposals), so test videos need no MLLM.
No official code is public; each design choice is documented in the model card."""

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPModel, CLIPTextModel, PreTrainedModel
from transformers import initialization as init

from ...hub import MomentzooModelCardMixin
from ...layers.masked_conv import MaskedConv1d
from ..backbone_utils import clip_text_states
from ..delu.losses_delu import masked_mean, mil_loss, suppress_background, topk_mean
from ..delu.modeling_delu import DELUModel, DELUOutput, video_labels_tensor
from .configuration_mllm4wtal import CLIP_TEXT_MODEL_ID, MLLM4WTALConfig

__all__ = [
    "MLLM4WTALModel",
    "MLLM4WTALOutput",
    "MLLM4WTALPreTrainedModel",
    "MLLM4WTALSemanticReconstructor",
    "interactive_distillation_loss",
    "key_match_loss",
    "reconstruction_mask",
]


@dataclass
class MLLM4WTALOutput(DELUOutput):
    r"""
    The DELU base's outputs (see [`DELUOutput`]), with:
    loss (`torch.FloatTensor` of shape `()`): DELU's loss + lambda1 KSM-match + lambda2 KSM-prior + mu1 CSR +
        distillation, when labels (and descriptions) are given.
    loss_terms (`torch.FloatTensor` of shape `(13,)`): DELU's 8 terms then key match, key prior, reconstruction,
        reconstruction ranking and distillation (`MLLM4WTALModel.loss_names`), unweighted.
    complete_prior (`torch.FloatTensor` of shape `(B, T)`): the complete prior (from the video alone), when labels or
        descriptions are given (inference without them skips the priors).
    key_prior (`torch.FloatTensor` of shape `(B, T)`): the key prior, when key descriptions are given.
    """

    complete_prior: torch.FloatTensor | None = None
    key_prior: torch.FloatTensor | None = None


def key_match_loss(similarity: torch.Tensor, mask: torch.Tensor, same_text: torch.Tensor, ratio: int) -> torch.Tensor:
    """KSM video <-> description matching. `similarity` `(B, T, B)`: scaled cosine of every snippet of video i with
    description j; a video's score for a description is the top-k mean over its snippets (k = length // ratio).
    Symmetric InfoNCE whose positives are the descriptions with the same text as the video's own (`same_text`
    `(B, B)` bool, diagonal True), so videos described identically are not pushed apart."""
    scores = topk_mean(similarity, mask, ratio)  # (B videos, B descriptions)
    target = same_text.float() / same_text.float().sum(dim=1, keepdim=True)
    video_to_text = -(target * scores.log_softmax(dim=1)).sum(dim=1).mean()
    text_to_video = -(target.T * scores.T.log_softmax(dim=1)).sum(dim=1).mean()
    return (video_to_text + text_to_video) / 2


def reconstruction_mask(word_mask: torch.Tensor, ratio: float, generator_training: bool) -> torch.Tensor:
    """`(B, L)` bool: the description words to mask. Candidates are real tokens but the first (BOS) and last (EOS);
    in training each is masked with probability `ratio` (at least one per description), in evaluation every
    `round(1 / ratio)`-th candidate (deterministic, so eval losses are reproducible)."""
    lengths = word_mask.sum(dim=1)
    position = torch.arange(word_mask.shape[1], device=word_mask.device)[None, :]
    candidates = word_mask & (position > 0) & (position < (lengths - 1)[:, None])
    empty = (~candidates.any(dim=1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"complete descriptions at batch index {empty} have no word between the special tokens "
            "(empty descriptions cannot be reconstructed)"
        )
    if generator_training:
        draw = torch.rand(word_mask.shape, device=word_mask.device)
        chosen = candidates & (draw < ratio)
        best = draw.masked_fill(~candidates, 2.0).argmin(dim=1)  # guarantees one masked word per description
    else:
        period = max(1, round(1 / ratio))
        chosen = candidates & ((position - 1) % period == 0)
        best = candidates.float().argmax(dim=1)
    chosen[torch.arange(len(best)), best] = True
    return chosen


def interactive_distillation_loss(attention, key_prior, complete_prior, mask) -> torch.Tensor:
    """The priors teach the base's attention (towards their mean), the attention teaches each prior back (stop-
    gradient MSE both ways, as DELU's mutual loss), and the key prior stays inside the complete one."""
    priors = (key_prior + complete_prior) / 2
    teach = masked_mean((attention - priors.detach()) ** 2, mask)
    learn = 0.5 * (
        masked_mean((key_prior - attention.detach()) ** 2, mask)
        + masked_mean((complete_prior - attention.detach()) ** 2, mask)
    )
    inside = masked_mean((key_prior - complete_prior).clamp(min=0), mask)
    return teach + learn + inside


class MLLM4WTALPreTrainedModel(MomentzooModelCardMixin, PreTrainedModel):
    config_class = MLLM4WTALConfig
    config: MLLM4WTALConfig
    base_model_prefix = "mllm4wtal"
    main_input_name = "input_features"
    _no_split_modules = ["CLIPEncoderLayer"]  # noqa: RUF012 (transformers API)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            init.kaiming_uniform_(module.weight)  # DELU's weights_init, also for the new heads
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=0.02)
        elif isinstance(module, nn.MultiheadAttention):
            init.xavier_uniform_(module.in_proj_weight)
            init.zeros_(module.in_proj_bias)
        elif isinstance(module, MLLM4WTALSemanticReconstructor):
            init.normal_(module.mask_embedding, std=0.02)
        elif isinstance(module, MLLM4WTALModel):
            init.constant_(module.key_logit_scale, self.config.key_logit_scale_init)
            init.constant_(module.key_logit_bias, self.config.key_logit_bias_init)
            init.constant_(module.reconstruction_logit_scale, self.config.reconstruction_logit_scale_init)


class MLLM4WTALSemanticReconstructor(nn.Module):
    """CSR's decoder: masked description words (frozen word embeddings, masked ones replaced by a learned vector)
    attend to each other and, through cross-attention biased by `log(prior)`, to the video's snippets; the output
    is scored against the frozen word embedding table (tied output, cosine logits)."""

    def __init__(self, config: MLLM4WTALConfig):
        super().__init__()
        hidden, text_hidden = config.reconstruction_hidden_size, config.text_config.hidden_size
        self.num_heads = config.reconstruction_num_heads
        self.mask_embedding = nn.Parameter(torch.zeros(text_hidden))
        self.word_proj = nn.Linear(text_hidden, hidden)
        self.video_proj = nn.Linear(config.input_dim, hidden)
        self.position_embedding = nn.Embedding(config.max_description_length, hidden)
        self.decoder = nn.TransformerDecoderLayer(
            hidden, self.num_heads, 2 * hidden, config.reconstruction_dropout, batch_first=True
        )
        self.output_proj = nn.Linear(hidden, text_hidden)

    def forward(self, word_embeds, word_mask, masked, video, video_mask, prior):
        words = torch.where(masked[..., None], self.mask_embedding.to(word_embeds.dtype), word_embeds)
        positions = torch.arange(words.shape[1], device=words.device)
        queries = self.word_proj(words) + self.position_embedding(positions)[None]
        bias = prior.float().clamp(min=1e-6).log().masked_fill(~video_mask, float("-inf"))  # (B, T)
        bias = bias[:, None, None, :].expand(-1, self.num_heads, words.shape[1], -1).flatten(0, 1)  # (B*H, L, T)
        hidden = self.decoder(
            queries, self.video_proj(video), memory_mask=bias.to(queries.dtype), tgt_key_padding_mask=~word_mask
        )
        return self.output_proj(hidden)


class MLLM4WTALModel(MLLM4WTALPreTrainedModel):
    """MLLM4WTAL: a DELU base (`self.base`, usable on its own) with KSM, CSR and interactive distillation.

    `forward(input_features, attention_mask, labels, key_input_ids, key_attention_mask, complete_input_ids,
    complete_attention_mask, training_progress)`: descriptions are token ids of the text encoder's tokenizer (the
    recipe in `momentzoo.training.mllm4wtal` tokenizes them); training needs both, inference needs neither.
    `post_process` is the base's (DELU's proposals, in seconds)."""

    accepts_loss_kwargs = False
    loss_names = DELUModel.loss_names + (
        "key_match",
        "key_prior",
        "reconstruction",
        "reconstruction_rank",
        "distillation",
    )

    def __init__(self, config: MLLM4WTALConfig):
        super().__init__(config)
        base = config.base_config
        self.base = DELUModel(base)
        self.text_model = CLIPTextModel(config.text_config)
        text_hidden = config.text_config.hidden_size
        self.key_projection = nn.Linear(base.input_dim, text_hidden)
        self.key_logit_scale = nn.Parameter(torch.tensor(config.key_logit_scale_init))
        self.key_logit_bias = nn.Parameter(torch.tensor(config.key_logit_bias_init))
        self.complete_conv = MaskedConv1d(base.input_dim, config.complete_prior_hidden_size, 3)
        self.complete_out = MaskedConv1d(config.complete_prior_hidden_size, 1, 1)
        self.reconstructor = MLLM4WTALSemanticReconstructor(config)
        self.reconstruction_logit_scale = nn.Parameter(torch.tensor(config.reconstruction_logit_scale_init))
        self.post_init()
        self.text_model.requires_grad_(False)  # frozen, as in the paper

    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        return self.base.dummy_inputs

    @classmethod
    def from_backbones(cls, text_model=None, **config_kwargs) -> "MLLM4WTALModel":
        """A new MLLM4WTAL whose frozen text encoder is a pretrained CLIP text tower: `text_model` is a hub id or path
        of a CLIP checkpoint (default "openai/clip-vit-base-patch16") or a loaded `CLIPTextModel` / `CLIPModel`.
        `config_kwargs` are other `MLLM4WTALConfig` fields (`base_config`, loss weights, ...)."""
        name = None
        if text_model is None:
            text_model = config_kwargs.get("text_model_name_or_path") or CLIP_TEXT_MODEL_ID
        if isinstance(text_model, (str, os.PathLike)):
            name = str(text_model)
            text_model = CLIPTextModel.from_pretrained(name)
        elif isinstance(text_model, CLIPModel):
            tower = CLIPTextModel(text_model.config.text_config)
            tower.load_state_dict(text_model.text_model.state_dict())
            text_model = tower
        if not isinstance(text_model, CLIPTextModel):
            raise TypeError(
                f"text_model must be a hub id, a path, a CLIPModel or a CLIPTextModel, got {type(text_model).__name__}"
            )
        config_kwargs.setdefault("text_model_name_or_path", name or text_model.config.name_or_path or None)
        model = cls(MLLM4WTALConfig(text_config=text_model.config.to_dict(), **config_kwargs))
        model.text_model.load_state_dict(text_model.state_dict())
        return model

    # ---------------------------------------------------------------------------------------------- priors
    def complete_prior(self, features, mask):
        hidden = F.relu(self.complete_conv(features, mask)[0])
        return torch.sigmoid(self.complete_out(hidden, mask)[0]).squeeze(-1) * mask

    @torch.no_grad()
    def encode_text(self, input_ids, attention_mask):
        """The frozen encoder's `(pooled (B, H), word embeddings (B, L, H))` of tokenized descriptions."""
        self._check_text(input_ids, attention_mask)
        _, pooled = clip_text_states(self.text_model, input_ids, attention_mask)
        return pooled, self.text_model.get_input_embeddings()(input_ids)

    def _check_text(self, input_ids, attention_mask):
        if input_ids.ndim != 2 or attention_mask is None or attention_mask.shape != input_ids.shape:
            raise ValueError("description input_ids and attention_mask must both be (batch, length) tensors")
        if input_ids.shape[1] > self.config.max_description_length:
            raise ValueError(
                f"descriptions of {input_ids.shape[1]} tokens exceed max_description_length="
                f"{self.config.max_description_length}"
            )
        empty = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"descriptions at batch index {empty} are empty (no token)")

    def key_similarity(self, features, key_embeds):
        """`(B, T, B)` scaled cosine similarity of every snippet of video i with key description j."""
        snippets = F.normalize(self.key_projection(features).float(), dim=-1)
        texts = F.normalize(key_embeds.float(), dim=-1)
        return self.key_logit_scale * torch.einsum("btd,jd->btj", snippets, texts)

    # ---------------------------------------------------------------------------------------------- forward
    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels=None,
        key_input_ids: torch.Tensor | None = None,
        key_attention_mask: torch.Tensor | None = None,
        complete_input_ids: torch.Tensor | None = None,
        complete_attention_mask: torch.Tensor | None = None,
        training_progress: float | None = None,
        return_dict: bool | None = None,
    ) -> MLLM4WTALOutput | tuple:
        r"""
        Args:
            input_features, attention_mask, labels, training_progress: as [`DELUModel`].
            key_input_ids, key_attention_mask (`(B, Lk)`): the tokenized key descriptions D_key.
            complete_input_ids, complete_attention_mask (`(B, Lc)`): the tokenized complete descriptions D_complete.
        """
        base = self.base(input_features, attention_mask)
        mask, features = base.mask, base.features
        output = MLLM4WTALOutput(
            cas=base.cas,
            attention=base.attention,
            rgb_attention=base.rgb_attention,
            flow_attention=base.flow_attention,
            features=features,
            mask=mask,
        )
        if labels is not None or key_input_ids is not None or complete_input_ids is not None:
            # the priors serve training only: plain inference costs what the base costs
            output.complete_prior = self.complete_prior(features, mask)
        similarity = None
        if key_input_ids is not None:
            key_embeds, _ = self.encode_text(key_input_ids, key_attention_mask)
            similarity = self.key_similarity(features, key_embeds)
            own = similarity.diagonal(dim1=0, dim2=2).T  # (B, T): each video with its own description
            output.key_prior = torch.sigmoid(own + self.key_logit_bias) * mask
        if labels is not None:
            if key_input_ids is None or complete_input_ids is None:
                raise ValueError(
                    "MLLM4WTAL training needs the descriptions: pass key_input_ids / key_attention_mask "
                    "and complete_input_ids / complete_attention_mask (see `momentzoo describe`)"
                )
            target = video_labels_tensor(labels, self.config.num_classes, mask.shape[0], mask.device)
            output.loss, output.loss_terms = self.compute_loss(
                output,
                base,
                target,
                similarity,
                key_input_ids,
                key_attention_mask,
                complete_input_ids,
                complete_attention_mask,
                training_progress,
            )
        return output if return_dict is not False else output.to_tuple()

    def compute_loss(
        self, output, base, target, similarity, key_ids, key_mask, complete_ids, complete_mask, training_progress
    ):
        config, ratio = self.config, self.config.base_config.mil_topk_ratio
        mask = output.mask
        base_loss, base_terms = self.base.compute_loss(base, target, training_progress)
        key_mask = key_mask.bool()
        same_text = (key_ids[:, None, :] == key_ids[None, :, :]) | ~(key_mask[:, None, :] & key_mask[None, :, :])
        same_text = same_text.all(dim=-1) & (key_mask.sum(1)[:, None] == key_mask.sum(1)[None, :])
        match = key_match_loss(similarity, mask, same_text, ratio)
        key_mil = mil_loss(
            suppress_background(output.cas.float(), output.key_prior), target, mask, ratio, background=False
        )
        reconstruction, rank = self.reconstruction_losses(output, complete_ids, complete_mask)
        distill = interactive_distillation_loss(output.attention.float(), output.key_prior, output.complete_prior, mask)
        terms = torch.cat((base_terms, torch.stack((match, key_mil, reconstruction, rank, distill))))
        loss = (
            base_loss
            + config.key_match_weight * match
            + config.key_prior_weight * key_mil
            + config.reconstruction_weight * (reconstruction + rank)
            + config.distillation_weight * distill
        )
        return loss, terms

    def reconstruction_losses(self, output, complete_ids, complete_mask):
        """`(reconstruction, ranking)`: cross-entropy of the masked words reconstructed with the complete prior, and
        `max(0, CE(prior) - CE(1 - prior) + margin)`."""
        _, word_embeds = self.encode_text(complete_ids, complete_mask)
        word_mask = complete_mask.bool()
        masked = reconstruction_mask(word_mask, self.config.reconstruction_mask_ratio, self.training)
        vocabulary = self.text_model.get_input_embeddings().weight
        losses = []
        for prior in (output.complete_prior, 1 - output.complete_prior):
            hidden = self.reconstructor(word_embeds, word_mask, masked, output.features, output.mask, prior)
            # cosine logits with a learned scale: the frozen word embeddings are small (CLIP's std is ~0.02), so
            # plain dot products would leave every word equally likely and the prior without a gradient
            words = F.normalize(hidden[masked].float(), dim=-1) @ F.normalize(vocabulary.float(), dim=-1).T
            logits = self.reconstruction_logit_scale * words
            losses.append(F.cross_entropy(logits, complete_ids[masked]))
        return losses[0], (losses[0] - losses[1] + self.config.reconstruction_margin).clamp(min=0)

    @torch.no_grad()
    def post_process(self, outputs, metadata: list[dict], label_names: bool = False) -> list[list[dict]]:
        """The DELU base's detections (see [`DELUModel.post_process`]); descriptions play no part at inference."""
        return self.base.post_process(outputs, metadata, label_names=label_names)
