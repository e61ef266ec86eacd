"""The tiny offline backbones behave like their real counterparts where the rest of the project relies on it."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from momentzoo.testing import QWEN_SPECIAL_TOKENS, tiny_clip, tiny_qwen2, tiny_tokenizer, tiny_videomae


def test_tokenizer_keeps_qwen_special_tokens_whole():
    tokenizer = tiny_tokenizer()
    for token in QWEN_SPECIAL_TOKENS:
        ids = tokenizer(token, add_special_tokens=False).input_ids
        assert len(ids) == 1 and tokenizer.convert_ids_to_tokens(ids[0]) == token
    text = "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>when?<|im_end|>"
    assert tokenizer.decode(tokenizer(text).input_ids) == text


def test_tokenizers_are_independent_copies():
    a, b = tiny_tokenizer(), tiny_tokenizer()
    a.add_tokens(["[cls]"], special_tokens=True)
    assert len(a) == len(b) + 1


def test_chat_template_places_video_pad():
    tokenizer = tiny_tokenizer()
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "when?"}]}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert (
        prompt
        == "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>when?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_tiny_qwen2_generates_and_round_trips(tmp_path):
    model, tokenizer = tiny_qwen2()
    inputs = tokenizer(["a person opens the door"], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape == (1, inputs.input_ids.shape[1] + 4)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert len(AutoTokenizer.from_pretrained(tmp_path)) == len(tokenizer)
    torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits)


def test_tiny_encoders_shapes():
    videomae = tiny_videomae(image_size=32, num_frames=4, hidden_size=32)
    # 4 frames / tubelet 2 x (32 / 16)^2 patches = 8 tokens.
    assert videomae(torch.randn(1, 4, 3, 32, 32)).last_hidden_state.shape == (1, 8, 32)
    clip, tokenizer = tiny_clip(projection_dim=16)
    text = clip.get_text_features(**tokenizer(["a cat"], return_tensors="pt"))
    text = getattr(text, "pooler_output", text)
    assert text.shape == (1, 16)
