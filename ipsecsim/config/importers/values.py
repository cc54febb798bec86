"""How the importers echo a value from a vendor document in an error or a comment: one line,
at most ``MAX_SHOWN`` characters (a longer value is cut with an ellipsis)."""

from __future__ import annotations

from typing import Any

MAX_SHOWN = 80


def shown(value: Any, quote: bool = True) -> str:
    """``value`` as Python spells it (``'aes-512'``, ``59``, ``None``), or unquoted with ``quote``
    false; control characters escaped, so the text is one line; capped at ``MAX_SHOWN``."""
    if quote or not isinstance(value, str):
        text = repr(value)
    else:
        text = value if value.isprintable() else repr(value)[1:-1]
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"
