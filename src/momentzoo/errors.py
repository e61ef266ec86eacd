"""Telling a user's mistake from a bug, for the commands: the first is one line on stderr, the second a traceback.
No momentzoo imports: the CLI and the dataset scripts both use it."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["run_command", "user_error_message"]


def user_error_message(err: BaseException) -> str | None:
    """The message of an error the user can fix (bad input, a file that cannot be read or written, a full or
    read-only disk, the Hub unreachable or refusing), or None for a bug, which keeps its traceback."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or err}"
    if isinstance(err, (ValueError, OSError, HfHubHTTPError)):
        return str(err).strip() or type(err).__name__
    return None


def run_command(name: str, command: Callable[[], int | None]) -> int:
    """Run `command()` as a program's body: its status (0 for None); a user error is one `<name>: error: ...` line
    on stderr and status 1; Ctrl-C is status 130; a bug propagates with its traceback."""
    try:
        return int(command() or 0)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        message = user_error_message(err)
        if message is None:
            raise
        print(f"{name}: error: {message}", file=sys.stderr)
        return 1
