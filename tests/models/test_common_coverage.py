"""Every `MODELS` entry has a subclass of the common model tests (`ModelTesterMixin` with its `model_type`) in
tests/models/<model_type>/: a model registered without one fails here."""

import ast
from pathlib import Path

from momentzoo.models import MODELS

MODELS_TESTS = Path(__file__).resolve().parent


def common_test_classes() -> dict[str, list[str]]:
    """{model_type: [path::class]} of every `ModelTesterMixin` subclass declared under tests/models/."""
    found: dict[str, list[str]] = {}
    for path in sorted(MODELS_TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            if not any(isinstance(base, ast.Name) and base.id == "ModelTesterMixin" for base in node.bases):
                continue
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and any(getattr(t, "id", None) == "model_type" for t in statement.targets)
                    and isinstance(statement.value, ast.Constant)
                ):
                    folder = path.relative_to(MODELS_TESTS).parts[0]
                    found.setdefault(statement.value.value, []).append(f"{folder}/{path.name}::{node.name}")
    return found


def test_every_registered_model_has_common_tests():
    found = common_test_classes()
    missing = [entry.model_type for entry in MODELS if entry.model_type not in found]
    assert not missing, (
        f"no common-test subclass for {missing}: add `class Test<Name>Common(ModelTesterMixin): model_type = "
        "'<model_type>'` in tests/models/<model_type>/"
    )
    misplaced = {t: places for t, places in found.items() if any(not p.startswith(f"{t}/") for p in places)}
    assert not misplaced, f"common tests outside tests/models/<model_type>/: {misplaced}"


def test_the_guard_reads_subclasses_from_source(tmp_path, monkeypatch):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "test_x.py").write_text(
        "class TestX(ModelTesterMixin):\n    model_type = 'x'\n\n\nclass Other:\n    model_type = 'y'\n"
    )
    monkeypatch.setitem(globals(), "MODELS_TESTS", tmp_path)
    assert common_test_classes() == {"x": ["x/test_x.py::TestX"]}
