"""Errors a user can cause, each naming the file, the field and what is allowed.

The CLI prints ``ConfigError`` as one line and exits with status 2; no traceback. A value
quoted back to the user is cut to ``SHOWN_MAX`` characters (``shown``), so a huge value (a
YAML alias bomb, a pasted binary) still gives one readable line.
"""

from __future__ import annotations

SHOWN_MAX = 80
LINE_MAX = 2000


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """``repr(value)`` cut to ``limit`` characters with an ellipsis (YAML spellings for
    true, false, null)."""
    if value is True or value is False or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, str) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # repr of a huge string costs its whole length
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a self-referencing structure, an int of 5000 digits
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int = LINE_MAX) -> str:
    """``text`` on one line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConfigError(Exception):
    """Bad input: a scenario file, a profile, vendor JSON or a command-line value."""

    def __init__(self, file: str | None, path: str, message: str):
        self.file = file
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.path) if p)
        return one_line(f"{where}: {self.message}" if where else self.message)
