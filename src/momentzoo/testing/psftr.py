"""A tiny PSFTR config for tests and demos."""

from ..models.psftr.configuration_psftr import PSFTRConfig

__all__ = ["tiny_psftr_config"]


def tiny_psftr_config(**overrides) -> PSFTRConfig:
    """A small PSFTR (width 32, 1 encoder and 2 decoder layers, 8 queries, a 2-layer text tower of width 32 with a
    16-d projection, 3 classes) that runs in milliseconds on a CPU. Its text tower matches
    `momentzoo.testing.tiny_clip()` (whose tokenizer has 512 tokens), so `from_backbones` can load that."""
    values = dict(
        input_dim=16,
        text_config=dict(
            model_type="clip_text_model",
            vocab_size=512,
            hidden_size=32,
            intermediate_size=64,
            projection_dim=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        ),
        hidden_size=32,
        num_attention_heads=4,
        ffn_dim=64,
        dropout=0.0,
        num_encoder_layers=1,
        num_decoder_layers=2,
        num_queries=8,
        encoder_num_points=2,
        decoder_num_points=2,
        roi_size=4,
        slice_size=32,
        id2label={0: "open door", 1: "pick up cup", 2: "throw ball"},
    )
    values.update(overrides)
    return PSFTRConfig(**values)
