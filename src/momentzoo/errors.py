"""Telling a user's mistake from a bug, for the commands: the first is one line on stderr, the second a traceback.
No momentzoo imports: the CLI and the dataset scripts both use it."""

from __future__ import annotations

__all__ = ["user_error_message"]


def user_error_message(err: BaseException) -> str | None:
    """The message of an error the user can fix (bad input, a file that cannot be read or written, a full or
    read-only disk, the Hub unreachable or refusing), or None for a bug, which keeps its traceback."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or err}"
    if isinstance(err, (ValueError, OSError, HfHubHTTPError)):
        return str(err).strip() or type(err).__name__
    return None
