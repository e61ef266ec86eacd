"""Lazy package exports, as transformers' `_LazyModule` does: a package lists which submodule defines each public
name, and the submodule is imported on first access, so importing the package stays light."""

from importlib import import_module

__all__ = ["lazy_exports"]


def lazy_exports(package: str, structure: dict[str, list[str]]):
    """`(__all__, __getattr__, __dir__)` for `package`, whose public names are defined in submodules:
    `structure` maps a submodule (relative to `package`, dotted) to the names it defines."""
    where = {name: module for module, names in structure.items() for name in names}
    if len(where) != sum(map(len, structure.values())):
        raise ValueError(f"{package}: a public name is listed under two submodules")

    def __getattr__(name):
        if name in where:
            return getattr(import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(where)

    return list(where), __getattr__, __dir__
