"""momentzoo's folders depend on each other one way only (see the README's Contributing section).

Every module under src/momentzoo is parsed with `ast`; every import in it (at the top or inside a function, relative
or absolute) that names a momentzoo module must point to the importer's own tier or an earlier one.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "momentzoo"

# Tiers, first to last; a module may import from its own tier and earlier ones. The key of a module is the first
# name after `momentzoo.` (its folder or file); the package root (`momentzoo/__init__.py`) comes last.
TIERS = [
    {"version", "lazy", "segments", "strict_json", "errors"},
    {"layers"},
    {"auto", "model_cards"},
    {"hub"},
    {"models"},
    {"data", "metrics", "rewards"},
    {"training"},
    {"pipelines", "testing"},
    {"commands"},
    {"cli"},
    {"__init__"},
]
RANK = {key: rank for rank, keys in enumerate(TIERS) for key in keys}
# Within a tier, imports between these keys are still forbidden (model_cards renders; it must not need hub).
FORBIDDEN_PAIRS = {("model_cards", "hub"), ("auto", "model_cards")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def key_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(path: Path, source: str | None = None):
    """(line, absolute momentzoo module) of every import in the file, nested ones included."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "momentzoo":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "momentzoo":
                continue
            if target == "momentzoo" or node.module is None:  # `from momentzoo import x` / `from .. import x`
                for alias in node.names:
                    yield (
                        node.lineno,
                        f"{target}.{alias.name}" if target != "momentzoo" or _is_module(alias.name) else target,
                    )
            else:
                yield node.lineno, target


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_folder_has_a_tier():
    keys = {key_of(module_name(p)) for p in modules()}
    assert keys <= set(RANK), f"add these to TIERS (and the README's layout): {sorted(keys - set(RANK))}"


def violations():
    found = []
    for path in modules():
        importer = key_of(module_name(path))
        for line, target in imported_modules(path):
            imported = key_of(target)
            if imported == importer:
                continue
            if imported not in RANK or RANK[imported] > RANK[importer] or (importer, imported) in FORBIDDEN_PAIRS:
                found.append(f"{path.relative_to(SRC)}:{line}: {importer} imports {target}")
    return found


def test_imports_follow_the_tiers():
    found = violations()
    assert not found, (
        "imports against the order " + " -> ".join("/".join(sorted(t)) for t in TIERS) + ":\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from ...training.tal import predict_tal\n", "momentzoo.training.tal"),
        ("def f():\n    from ... import __version__\n", "momentzoo"),
        ("import momentzoo.data.video\n", "momentzoo.data.video"),
        ("from momentzoo import data\n", "momentzoo.data"),
    ],
)
def test_the_parser_sees_relative_lazy_and_absolute_imports(source, expected):
    # As if the source were momentzoo/models/x/modeling_x.py: each of these imports is against the order there.
    targets = [t for _, t in imported_modules(PACKAGE / "models" / "x" / "modeling_x.py", source)]
    assert targets == [expected]
    assert RANK[key_of(expected)] > RANK["models"] or key_of(expected) == "__init__"
