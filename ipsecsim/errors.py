"""Errors a user can cause, each naming the file, the field and what is allowed.

The CLI prints ``ConfigError`` as one line and exits with status 2; no traceback.
"""

from __future__ import annotations


class ConfigError(Exception):
    """Bad input: a scenario file, a profile, vendor JSON or a command-line value."""

    def __init__(self, file: str | None, path: str, message: str):
        self.file = file
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.path) if p)
        return f"{where}: {self.message}" if where else self.message
