"""`momentzoo cards`: render the model card of every preset the zoo publishes into `model_cards/<preset>.md`.

The templates ship inside the package (`momentzoo/model_cards/<model_type>.md`); the repository's top-level
`model_cards/` holds what they render to for each named preset, so a change to a template, a config default or a
card helper shows up as a diff there. `momentzoo cards --check` fails when a file is missing or stale (the tests run
the same check). Cards are rendered from configs alone (no weights are built or downloaded); `model_id` is the
preset's name, as a local folder of that name would be loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["PRESETS", "render_preset_cards", "stale_cards", "register", "run"]

# Preset name -> (model family, extra card fields).
# ActionVLM's presets are the paper's checkpoints (`ACTIONVLM_PRESETS`); the others are each paper's main setting.
PRESETS = {
    "actionformer-thumos14-i3d": ("actionformer", {"datasets": ["thumos14"]}),
    "actionvlm-s-1.5b": ("actionvlm", {}),
    "actionvlm-s-3b": ("actionvlm", {}),
    "actionvlm-b-1.5b": ("actionvlm", {}),
    "actionvlm-b-3b": ("actionvlm", {}),
    "actionvlm-l-3b": ("actionvlm", {}),
    "psftr-clip-vit-b16": ("psftr", {}),
    "invert4tvg-qwen2.5-vl-3b": ("invert4tvg", {"base_model": "Qwen/Qwen2.5-VL-3B-Instruct"}),
}


def _config(family: str, name: str):
    """The config of the published checkpoint: the paper's defaults, with the backbones recorded as `from_preset` /
    `from_backbones` record them when they load the weights (the card names them as base models)."""
    from ..models.actionformer import ActionFormerConfig
    from ..models.actionvlm import ACTIONVLM_PRESETS, ActionVLMConfig
    from ..models.psftr import CLIP_TEXT_MODEL_ID, PSFTRConfig

    if family == "actionvlm":
        preset = ACTIONVLM_PRESETS[name]
        config = ActionVLMConfig.from_preset(name, language_model_name_or_path=preset["language_model"])
        config.vision_config._name_or_path = preset["vision_model"]
        config.text_config._name_or_path = preset["language_model"]
        return config
    if family == "psftr":
        return PSFTRConfig(text_model_name_or_path=CLIP_TEXT_MODEL_ID)
    return ActionFormerConfig()  # the paper's defaults


def render_preset_cards() -> dict[str, str]:
    """{preset: rendered card text} for every entry of `PRESETS`."""
    from ..model_cards import model_task, render_model_card
    from ..training.invert4tvg.card import render_invert4tvg_card

    cards = {}
    for name, (family, extra) in PRESETS.items():
        if family == "invert4tvg":
            card = render_invert4tvg_card(name, **extra)
        else:
            config = _config(family, name)
            _, model_class = model_task(config)
            card = render_model_card(config, **{**model_class.card_kwargs_from_config(config), **extra}, model_id=name)
        cards[name] = str(card)
    return cards


def stale_cards(folder: str | Path) -> list[str]:
    """Presets whose `folder/<preset>.md` is missing or differs from what the templates render, plus files in
    `folder` that belong to no preset."""
    folder = Path(folder)
    cards = render_preset_cards()
    stale = [
        name
        for name, text in cards.items()
        if not (folder / f"{name}.md").is_file() or (folder / f"{name}.md").read_text() != text
    ]
    stale += [path.name for path in sorted(folder.glob("*.md")) if path.stem not in cards]
    return stale


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cards",
        help="render the model card of every published preset into model_cards/<preset>.md",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("--output_dir", default="model_cards", help="where to write (default: model_cards)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a card is missing or stale")
    parser.set_defaults(func=run)


def run(args) -> int:
    folder = Path(args.output_dir)
    if args.check:
        stale = stale_cards(folder)
        if stale:
            print(
                f"momentzoo cards: stale or missing in {folder}: {', '.join(stale)} (run `momentzoo cards`)",
                file=sys.stderr,
            )
            return 1
        print(f"{len(PRESETS)} cards in {folder} are up to date")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in render_preset_cards().items():
        (folder / f"{name}.md").write_text(text)
    print(f"wrote {len(PRESETS)} cards to {folder}")
    return 0
