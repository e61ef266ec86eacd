"""The `momentzoo` command."""

import argparse
import sys
from importlib import import_module

from .errors import run_command
from .version import __version__

__all__ = ["SUBCOMMANDS", "main"]

# One line per subcommand: the module under momentzoo.commands that registers it.
SUBCOMMANDS = [
    "quickstart",
    "extract_features",
    "push",
    "evaluate",
    "cards",
    "describe",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="momentzoo",
        description="momentzoo: temporal action localization and temporal video grounding, Hugging Face-native.",
    )
    parser.add_argument("--version", action="version", version=f"momentzoo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        import_module(f"momentzoo.commands.{name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2  # a usage error, as argparse exits for a missing argument
    return run_command(f"momentzoo {args.command}", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
