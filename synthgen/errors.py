"""The exception type for user mistakes and the warning type for what a user should know: the CLI prints either as one line."""

__all__ = ["SynthgenError", "SynthgenWarning"]


class SynthgenError(Exception):
    """A user-facing error: bad input, missing file, incompatible settings.

    The message is one line that says what was wrong and what would be right.
    """


class SynthgenWarning(UserWarning):
    """Something the user should know about a result that is still written (the CLI prints ``note: <message>``)."""
