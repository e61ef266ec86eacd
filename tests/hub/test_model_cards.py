"""The repository's model_cards/ holds the rendered card of every published preset, up to date with the templates
shipped in the package (`momentzoo cards` rewrites them)."""

from pathlib import Path

from momentzoo.cli import main
from momentzoo.commands.cards import PRESETS, render_preset_cards, stale_cards

MODEL_CARDS = Path(__file__).resolve().parents[2] / "model_cards"


def test_rendered_cards_are_up_to_date_with_the_templates():
    assert not stale_cards(MODEL_CARDS), "run `momentzoo cards` and commit model_cards/"


def test_every_preset_has_a_card_naming_it(tmp_path):
    cards = render_preset_cards()
    assert set(cards) == set(PRESETS)
    for name, text in cards.items():
        assert text.startswith("---\n") and f"# {name}" in text, name


def test_check_fails_on_a_stale_card_and_the_command_rewrites_it(tmp_path, capsys):
    assert main(["cards", "--output_dir", str(tmp_path)]) == 0
    assert main(["cards", "--output_dir", str(tmp_path), "--check"]) == 0
    card = tmp_path / "actionformer-thumos14-i3d.md"
    card.write_text(card.read_text().replace("ActionFormer", "ActionFormr", 1))
    (tmp_path / "orphan.md").write_text("no preset")
    assert main(["cards", "--output_dir", str(tmp_path), "--check"]) == 1
    assert "actionformer-thumos14-i3d, orphan.md" in capsys.readouterr().err
