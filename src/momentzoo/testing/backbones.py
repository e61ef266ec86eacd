"""Tiny backbones and tokenizers built offline (Qwen2, Qwen2.5-VL, VideoMAE, CLIP), for tests, the quickstart and
the examples' synthetic configs.

Everything here is built from a config with random weights and a BPE tokenizer trained locally with
`tokenizers`, so it runs without the Hub. Real checkpoints are named in the model presets instead.
"""

from functools import lru_cache

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPConfig,
    CLIPModel,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Config,
    Qwen2ForCausalLM,
    VideoMAEConfig,
    VideoMAEModel,
)

__all__ = [
    "QWEN_SPECIAL_TOKENS",
    "QWEN_CHAT_TEMPLATE",
    "tiny_tokenizer",
    "tiny_qwen2",
    "tiny_qwen2_5_vl",
    "tiny_videomae",
    "tiny_clip",
]

# Qwen2 / Qwen2.5-VL special tokens, in the order the real vocabularies give them.
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# The chat template of Qwen2.5-VL-Instruct, reduced to text and video content parts.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "a person opens the door and walks into the room.",
    "a person is closing a laptop on the table.",
    "person takes a cup of coffee, drinks from it, then puts it down.",
    "the man sits on a chair, stands up and runs away laughing.",
    "<think>the person opens the door at the start.</think> <answer>1.5 to 7.25</answer>",
    "<think>the action happens near the end.</think> <answer>12 to 30.5</answer>",
    "Find the moment when: a person throws a ball. Answer with start and end in seconds.",
    "Fill in the blank: person [] the door. Which action does the person do? Describe what the people did.",
    "starts with a slow rise, ends with a sharp drop. 0 1 2 3 4 5 6 7 8 9 seconds to",
]


@lru_cache(maxsize=4)
def _trained_tokenizer_json(vocab_size: int, extra_tokens: tuple, corpus: tuple) -> str:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS + list(extra_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return tokenizer.to_str()  # cached as JSON so every caller gets an independent copy


def tiny_tokenizer(vocab_size: int = 512, extra_tokens: tuple = (), corpus=None) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained locally on `corpus` (a generic one by default), with Qwen's special
    tokens and chat template."""
    corpus = tuple(_CORPUS * 4 if corpus is None else corpus)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_trained_tokenizer_json(vocab_size, tuple(extra_tokens), corpus)),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def _qwen2_text_kwargs(tokenizer, hidden_size: int, num_layers: int) -> dict:
    return dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )


def tiny_qwen2(tokenizer=None, hidden_size: int = 32, num_layers: int = 2):
    """(model, tokenizer): a randomly initialised `Qwen2ForCausalLM` a few hundred KB in size."""
    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer()
    model = Qwen2ForCausalLM(Qwen2Config(**_qwen2_text_kwargs(tokenizer, hidden_size, num_layers)))
    return model.eval(), tokenizer


def tiny_qwen2_5_vl(tokenizer=None, hidden_size: int = 32, num_layers: int = 2, vision_hidden_size: int = 32):
    """(model, tokenizer): a randomly initialised `Qwen2_5_VLForConditionalGeneration` with a 2-layer vision tower.

    The vision tower keeps Qwen's geometry (patch 14, temporal patch 2, 2x2 spatial merge), so inputs built
    for the real model have the same shapes here."""
    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    text = _qwen2_text_kwargs(tokenizer, hidden_size, num_layers)
    # Multimodal RoPE splits head_dim / 2 into (temporal, height, width) sections.
    head_dim = hidden_size // text["num_attention_heads"]
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 1e6,
        "mrope_section": [head_dim // 4, head_dim // 8, head_dim // 8],
    }
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(
            depth=2,
            hidden_size=vision_hidden_size,
            intermediate_size=2 * vision_hidden_size,
            num_heads=2,
            out_hidden_size=hidden_size,
            fullatt_block_indexes=[1],
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval(), tokenizer


def tiny_videomae(image_size: int = 32, num_frames: int = 4, hidden_size: int = 32):
    """A randomly initialised `VideoMAEModel` over clips of `num_frames` frames of `image_size` pixels."""
    config = VideoMAEConfig(
        image_size=image_size,
        patch_size=16,
        num_frames=num_frames,
        tubelet_size=2,
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
    )
    return VideoMAEModel(config).eval()


def tiny_clip(image_size: int = 32, hidden_size: int = 32, projection_dim: int = 16, tokenizer=None):
    """(model, tokenizer): a randomly initialised `CLIPModel` (text and vision towers) with a local tokenizer."""
    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer()
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
            eos_token_id=tokenizer.eos_token_id,
        ),
        vision_config=dict(
            image_size=image_size,
            patch_size=16,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=2,
            num_attention_heads=2,
        ),
        projection_dim=projection_dim,
    )
    return CLIPModel(config).eval(), tokenizer
