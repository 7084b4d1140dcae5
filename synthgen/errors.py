"""The one exception type for user mistakes: the CLI prints its message as a single line."""

__all__ = ["SynthgenError"]


class SynthgenError(Exception):
    """A user-facing error: bad input, missing file, incompatible settings.

    The message is one line that says what was wrong and what would be right.
    """
