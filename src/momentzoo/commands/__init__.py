"""Subcommands of the `momentzoo` command, one module each.

Each module defines `register(subparsers)`, which adds its parser and sets `func=run`, the callable
that receives the parsed arguments and returns the exit status."""
