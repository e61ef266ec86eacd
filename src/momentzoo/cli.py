"""The `momentzoo` command."""

import argparse
import sys
from importlib import import_module

from . import __version__
from .errors import user_error_message

__all__ = ["SUBCOMMANDS", "main"]

# One line per subcommand: the module under momentzoo.commands that registers it.
SUBCOMMANDS = [
    "quickstart",
    "extract_features",
    "push",
    "evaluate",
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
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"momentzoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        message = user_error_message(err)
        if message is None:
            raise
        print(f"momentzoo {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
