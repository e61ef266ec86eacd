"""Convert a checkpoint of the official ActionFormer code (`happyharrycn/actionformer_release`: a `.pth.tar` written by
its `train.py` and the YAML config it was trained with) into a momentzoo `ActionFormerForTemporalLocalization`
folder (`config.json`, `model.safetensors`, `README.md`).

    python -m momentzoo.models.actionformer.convert_actionformer_original_checkpoint \\
        --checkpoint_path ckpt/thumos_i3d_reproduce/epoch_034.pth.tar --config_path configs/thumos_i3d.yaml \\
        --output_dir actionformer-thumos14-i3d

The checkpoint is read with `torch.load(weights_only=True)` (no pickled code runs) and the YAML with
`yaml.safe_load`. The EMA weights (`state_dict_ema`, what the official `eval.py` evaluates) are taken by default.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path

import torch
import yaml

from ...model_cards import save_model_card
from ..temporal_localization import THUMOS14_CLASSES
from .configuration_actionformer import ActionFormerConfig
from .modeling_actionformer import ActionFormerForTemporalLocalization

__all__ = [
    "OFFICIAL_DEFAULTS",
    "convert_actionformer_original_checkpoint",
    "convert_official_state_dict",
    "load_official_config",
    "main",
    "official_config_to_actionformer_config",
]

# The official defaults (`libs/core/config.py`) that a YAML config overrides, for the fields a model needs.
OFFICIAL_DEFAULTS = {
    "dataset": {
        "feat_stride": 16,
        "num_frames": 32,
        "default_fps": None,
        "input_dim": 2304,
        "num_classes": 97,
        "max_seq_len": 2304,
    },
    "model": {
        "backbone_type": "convTransformer",
        "fpn_type": "identity",
        "backbone_arch": (2, 2, 5),
        "scale_factor": 2,
        "regression_range": [(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000)],
        "n_head": 4,
        "n_mha_win_size": -1,
        "embd_kernel_size": 3,
        "embd_dim": 512,
        "embd_with_ln": True,
        "fpn_dim": 512,
        "fpn_with_ln": True,
        "fpn_start_level": 0,
        "head_dim": 512,
        "head_kernel_size": 3,
        "head_num_layers": 3,
        "head_with_ln": True,
        "max_buffer_len_factor": 6.0,
        "use_abs_pe": False,
        "use_rel_pe": False,
    },
    "train_cfg": {
        "center_sample": "radius",
        "center_sample_radius": 1.5,
        "loss_weight": 1.0,
        "cls_prior_prob": 0.01,
        "init_loss_norm": 2000,
        "clip_grad_l2norm": -1,
        "head_empty_cls": [],
        "dropout": 0.0,
        "droppath": 0.1,
        "label_smoothing": 0.0,
    },
    "test_cfg": {
        "pre_nms_thresh": 0.001,
        "pre_nms_topk": 5000,
        "iou_threshold": 0.1,
        "min_score": 0.01,
        "max_seg_num": 1000,
        "nms_method": "soft",
        "nms_sigma": 0.5,
        "duration_thresh": 0.05,
        "multiclass_nms": True,
        "ext_score_file": None,
        "voting_thresh": 0.75,
    },
}

# Official AffineDropPath's LayerScale init (it exists only when drop path is on).
_OFFICIAL_LAYER_SCALE_INIT = 1e-4

# ActionFormerConfig field -> (official section, key), for the fields that carry over unchanged.
_FIELDS = {
    "input_dim": ("dataset", "input_dim"),
    "max_seq_len": ("dataset", "max_seq_len"),
    "num_classes": ("dataset", "num_classes"),
    "feature_stride": ("dataset", "feat_stride"),
    "num_frames": ("dataset", "num_frames"),
    "hidden_size": ("model", "embd_dim"),
    "projection_kernel_size": ("model", "embd_kernel_size"),
    "projection_with_ln": ("model", "embd_with_ln"),
    "scale_factor": ("model", "scale_factor"),
    "num_attention_heads": ("model", "n_head"),
    "fpn_with_ln": ("model", "fpn_with_ln"),
    "head_hidden_size": ("model", "head_dim"),
    "head_num_layers": ("model", "head_num_layers"),
    "head_kernel_size": ("model", "head_kernel_size"),
    "head_with_ln": ("model", "head_with_ln"),
    "hidden_dropout": ("train_cfg", "dropout"),
    "drop_path_rate": ("train_cfg", "droppath"),
    "cls_prior_prob": ("train_cfg", "cls_prior_prob"),
    "center_sampling": ("train_cfg", "center_sample"),
    "center_sampling_radius": ("train_cfg", "center_sample_radius"),
    "regression_loss_weight": ("train_cfg", "loss_weight"),
    "label_smoothing": ("train_cfg", "label_smoothing"),
    "loss_normalizer_init": ("train_cfg", "init_loss_norm"),
    "pre_nms_threshold": ("test_cfg", "pre_nms_thresh"),
    "pre_nms_topk": ("test_cfg", "pre_nms_topk"),
    "duration_threshold": ("test_cfg", "duration_thresh"),
    "nms_method": ("test_cfg", "nms_method"),
    "nms_iou_threshold": ("test_cfg", "iou_threshold"),
    "nms_sigma": ("test_cfg", "nms_sigma"),
    "voting_threshold": ("test_cfg", "voting_thresh"),
    "min_score": ("test_cfg", "min_score"),
    "max_segments": ("test_cfg", "max_seg_num"),
}

# (official key pattern, momentzoo key) after `module.` is stripped; applied in order, first match wins.
_KEY_RULES = [
    (r"backbone\.embd\.(\d+)\.conv\.(weight|bias)", r"model.backbone.projection.\1.\2"),
    (r"backbone\.embd_norm\.(\d+)\.(weight|bias)", r"model.backbone.projection_norms.\1.\2"),
    (r"backbone\.(stem|branch)\.(\d+)\.ln([12])\.(weight|bias)", r"model.backbone.\1.\2.norm\3.\4"),
    (
        r"backbone\.(stem|branch)\.(\d+)\.attn\.(query|key|value)_conv\.conv\.weight",
        r"model.backbone.\1.\2.attn.\3_conv.weight",
    ),
    (
        r"backbone\.(stem|branch)\.(\d+)\.attn\.(query|key|value)_norm\.(weight|bias)",
        r"model.backbone.\1.\2.attn.\3_norm.\4",
    ),
    (
        r"backbone\.(stem|branch)\.(\d+)\.attn\.(query|key|value|proj)\.(weight|bias)",
        r"model.backbone.\1.\2.attn.\3.\4",
    ),
    (r"backbone\.(stem|branch)\.(\d+)\.mlp\.0\.(weight|bias)", r"model.backbone.\1.\2.mlp_in.\3"),
    (r"backbone\.(stem|branch)\.(\d+)\.mlp\.3\.(weight|bias)", r"model.backbone.\1.\2.mlp_out.\3"),
    (r"backbone\.(stem|branch)\.(\d+)\.(drop_path_attn|drop_path_mlp)\.scale", r"model.backbone.\1.\2.\3.scale"),
    (r"neck\.fpn_norms\.(\d+)\.(weight|bias)", r"model.neck.norms.\1.\2"),
    (r"(cls_head|reg_head)\.head\.(\d+)\.conv\.(weight|bias)", r"\1.convs.\2.\3"),
    (r"(cls_head|reg_head)\.norm\.(\d+)\.(weight|bias)", r"\1.norms.\2.\3"),
    (r"cls_head\.cls_head\.conv\.(weight|bias)", r"cls_head.classifier.\1"),
    (r"reg_head\.offset_head\.conv\.(weight|bias)", r"reg_head.offset.\1"),
    (r"reg_head\.scale\.(\d+)\.scale", r"reg_head.scales.\1.scale"),
]


def load_official_config(config_path: str | Path) -> dict:
    """An official YAML config merged onto `OFFICIAL_DEFAULTS` (as the official `load_config` does)."""
    with open(config_path, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) or {}
    if not isinstance(loaded, dict):
        raise ValueError(
            f"{config_path}: an official ActionFormer YAML config is a mapping, got {type(loaded).__name__}"
        )
    config = copy.deepcopy(OFFICIAL_DEFAULTS)
    for section, values in loaded.items():
        if section in config:
            if not isinstance(values, dict):
                raise ValueError(f"{config_path}: section {section!r} must be a mapping, got {values!r}")
            config[section].update(values)
        else:
            config[section] = values
    return config


def _unsupported(field: str, value, why: str):
    raise ValueError(f"official config {field}={value!r} is not supported by momentzoo's ActionFormer: {why}")


def official_config_to_actionformer_config(official: dict, **overrides) -> ActionFormerConfig:
    """The `ActionFormerConfig` of an official config (`load_official_config`'s output). Options momentzoo does not
    implement (absolute/relative position encodings, global attention, the conv backbone, the conv FPN,
    multi-stream inputs, adaptive loss weights) raise a ValueError naming the field. `overrides` (e.g. `id2label`,
    `official_padding`) replace any field."""
    data, model, train, test = (official[k] for k in ("dataset", "model", "train_cfg", "test_cfg"))
    checks = [
        (
            "model.backbone_type",
            model["backbone_type"],
            model["backbone_type"] == "convTransformer",
            "only convTransformer",
        ),
        ("model.fpn_type", model["fpn_type"], model["fpn_type"] == "identity", "only the identity FPN"),
        ("model.fpn_start_level", model["fpn_start_level"], model["fpn_start_level"] == 0, "only 0"),
        ("model.use_abs_pe", model["use_abs_pe"], not model["use_abs_pe"], "no absolute position encoding"),
        ("model.use_rel_pe", model["use_rel_pe"], not model["use_rel_pe"], "no relative position encoding"),
        ("dataset.input_dim", data["input_dim"], isinstance(data["input_dim"], int), "one feature stream only"),
        ("train_cfg.loss_weight", train["loss_weight"], train["loss_weight"] > 0, "a fixed weight > 0 only"),
    ]
    for field, value, ok, why in checks:
        if not ok:
            _unsupported(field, value, why)
    if model["fpn_dim"] != model["embd_dim"]:
        _unsupported(
            "model.fpn_dim", model["fpn_dim"], f"the identity FPN needs fpn_dim == embd_dim ({model['embd_dim']})"
        )
    num_projection, num_stem, num_downsample = model["backbone_arch"]
    windows = model["n_mha_win_size"]
    windows = [windows] * (num_downsample + 1) if isinstance(windows, int) else list(windows)
    if any(w <= 1 for w in windows):
        _unsupported("model.n_mha_win_size", model["n_mha_win_size"], "global attention (<= 1) is not implemented")
    droppath = float(train["droppath"])
    values = {field: official[section][key] for field, (section, key) in _FIELDS.items()}
    values.update(
        fps=float(data["default_fps"]) if data["default_fps"] is not None else 30.0,
        num_projection_layers=num_projection,
        num_stem_layers=num_stem,
        num_downsample_layers=num_downsample,
        attention_window_size=windows[0] if len(set(windows)) == 1 else windows,
        attention_dropout=0.0,  # fixed in the official model
        layer_scale_init_value=_OFFICIAL_LAYER_SCALE_INIT if droppath > 0 else None,
        regression_ranges=[list(r) for r in model["regression_range"]],
        class_agnostic_nms=not test["multiclass_nms"],
    )
    if overrides.get("id2label") is not None:
        values.pop("num_classes")
    values.update(overrides)
    return ActionFormerConfig(**values)


def convert_official_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official parameter names and shapes -> momentzoo's: `module.` (DataParallel) prefixes stripped, LayerNorm and
    LayerScale `(1, C, 1)` -> `(C,)`, 1x1 convs of the attention and MLP `(out, in, 1)` -> linear `(out, in)`. A key
    no rule knows is a ValueError naming it."""
    converted = {}
    for key, tensor in state_dict.items():
        name = key.removeprefix("module.")
        for pattern, target in _KEY_RULES:
            if re.fullmatch(pattern, name):
                new_key = re.sub(pattern, target, name)
                break
        else:
            raise ValueError(f"official checkpoint key {key!r} has no momentzoo counterpart")
        if re.search(r"(norm\d?|norms\.\d+)\.(weight|bias)$|drop_path_(attn|mlp)\.scale$", new_key):
            tensor = tensor.reshape(-1)
        elif re.search(r"\.attn\.(query|key|value|proj)\.weight$|\.mlp_(in|out)\.weight$", new_key):
            tensor = tensor.squeeze(-1)
        converted[new_key] = tensor
    return converted


def convert_actionformer_original_checkpoint(
    checkpoint_path: str | Path,
    config_path: str | Path,
    output_dir: str | Path | None = None,
    *,
    use_ema: bool = True,
    **config_overrides,
) -> ActionFormerForTemporalLocalization:
    """Build the momentzoo model of an official checkpoint and, with `output_dir`, save it with its card.

    Args:
        checkpoint_path: the official `.pth.tar` (`{"state_dict", "state_dict_ema", ...}` or a bare state dict).
        config_path: the official YAML config it was trained with.
        use_ema: take `state_dict_ema` (the weights the official evaluation uses) rather than `state_dict`.
        config_overrides: `ActionFormerConfig` fields, e.g. `id2label` (the official checkpoints carry no class
            names; THUMOS14's 20 classes default to their alphabetical ids, as in the official annotations) or
            `official_padding=True` to reproduce the official outputs on padded inputs.
    """
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    if isinstance(checkpoint, dict) and ("state_dict" in checkpoint or "state_dict_ema" in checkpoint):
        which = "state_dict_ema" if use_ema else "state_dict"
        if which not in checkpoint:
            raise ValueError(f"{checkpoint_path} has no {which!r} (keys: {sorted(checkpoint)})")
        state_dict = checkpoint[which]
    else:
        state_dict = checkpoint
    official = load_official_config(config_path)
    if official["dataset"]["num_classes"] == 20 and "id2label" not in config_overrides:
        config_overrides["id2label"] = dict(enumerate(THUMOS14_CLASSES))
    config = official_config_to_actionformer_config(official, **config_overrides)
    model = ActionFormerForTemporalLocalization(config)
    weights = convert_official_state_dict(state_dict)
    weights["loss_normalizer"] = torch.tensor(config.loss_normalizer_init)  # a plain float in the official code
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{checkpoint_path} does not fit the config of {config_path}: missing {missing}, unexpected {unexpected}"
        )
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir)
        weights_name = "state_dict_ema (the EMA weights)" if use_ema else "state_dict"
        details = (
            f"Converted with `convert_actionformer_original_checkpoint` from the official checkpoint "
            f"`{Path(checkpoint_path).name}` ({weights_name}) and its config `{Path(config_path).name}`"
            f"{', with `official_padding`' if config.official_padding else ''}."
        )
        save_model_card(
            model, output_dir, **model.model_card_kwargs(), model_id=str(output_dir), training_details=details
        )
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint_path", required=True, help="the official .pth.tar")
    parser.add_argument("--config_path", required=True, help="the official YAML config the checkpoint was trained with")
    parser.add_argument("--output_dir", required=True, help="where to write the momentzoo checkpoint")
    parser.add_argument("--no_ema", action="store_true", help="convert state_dict instead of state_dict_ema")
    parser.add_argument("--class_names", help="a JSON file: a list of class names in the official label-id order")
    parser.add_argument(
        "--official_padding",
        action="store_true",
        help="reproduce the official outputs on padded inputs (see ActionFormerConfig.official_padding)",
    )
    args = parser.parse_args(argv)
    overrides = {"official_padding": args.official_padding}
    if args.class_names:
        names = json.loads(Path(args.class_names).read_text(encoding="utf-8"))
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{args.class_names}: expected a JSON list of class names")
        overrides["id2label"] = dict(enumerate(names))
    model = convert_actionformer_original_checkpoint(
        args.checkpoint_path, args.config_path, args.output_dir, use_ema=not args.no_ema, **overrides
    )
    print(f"wrote {args.output_dir} ({sum(p.numel() for p in model.parameters()):,} parameters)")


if __name__ == "__main__":
    main()
