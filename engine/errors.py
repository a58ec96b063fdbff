"""One exception family for user errors: the message names the bad value and the fix."""


class ProsyncError(ValueError):
    """A problem with the caller's input. ``str(exc)`` is one line: what is wrong and how to fix it."""


class AudioInputError(ProsyncError):
    """Audio that cannot be read or used (missing file, empty, wrong channel count, bad rate)."""
