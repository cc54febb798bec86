"""Reading a vendor JSON document safely: UTF-8 text, bounded nesting, every key once.

A vendor document is UTF-8 JSON text (RFC 8259 section 8.1; a leading byte order mark is
tolerated, as RFC 8259 allows a parser to). The documents the importers read are at most five
levels deep (Alibaba Cloud DescribeVpnConnection: TunnelOptionsSpecification.TunnelOptions[i]
.TunnelIkeConfig.*); anything nested deeper than ``MAX_DEPTH`` is refused before parsing, with
the JSON path where it goes too deep, instead of exhausting the parser's recursion. RFC 8259
section 4 leaves duplicate names undefined ("the names within an object SHOULD be unique"):
the cloud APIs keep one, a JSON parser the last one, so a duplicate is refused naming it.
Integers too long to convert (more than ``MAX_DIGITS`` digits) become ``LongInt``, an integer
beyond every documented range that shows its digits, so range checks refuse it by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .values import shown

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted (the vendor documents have at most 5 levels)."""
MAX_BYTES = 16 * 2 ** 20
"""Largest file read (an API response is a few KB)."""
MAX_DIGITS = 4000
"""Longest integer literal converted (Python refuses to convert more than 4300 digits)."""


class LongInt(int):
    """An integer literal of more than ``MAX_DIGITS`` digits: a stand-in value far beyond any range
    the vendor documents, shown as its (capped) digits."""

    text: str

    def __new__(cls, text: str) -> LongInt:
        self = super().__new__(cls, -(10 ** 100) if text.startswith("-") else 10 ** 100)
        self.text = text
        return self

    def __repr__(self) -> str:
        return shown(self.text, quote=False)

    __str__ = __repr__


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object whose text names ``key`` more than once (found after parsing, with its path)."""

    key: str


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            dup = _Duplicated(pairs)
            dup.key = key
            return dup
        out[key] = value
    return out


def _integer(text: str) -> int:
    return int(text) if len(text) <= MAX_DIGITS else LongInt(text)


def key_path(path: str, key: Any) -> str:
    """``path.key`` or ``path[i]``; a key that is not a plain name is quoted (and capped)."""
    if key is None:
        return path
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key and key.replace("_", "").replace("-", "").isascii() and key.replace("_", "").replace("-", "").isalnum():
        return f"{path}.{key}" if path else key
    return f"{path}[{shown(key)}]"


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{},:]')


def _too_deep(text: str) -> tuple[str, int, int] | None:
    """Where ``text`` nests arrays / objects more than ``MAX_DEPTH`` deep: (JSON path, line,
    column), or None. A linear scan over strings and punctuation; it trusts nothing else of the
    text (invalid JSON is left to the parser)."""
    stack: list[Any] = []  # per open container: the current key (object) or index (array)
    names: list[str] = []  # the path down to each open container
    last_string: str | None = None
    for m in _TOKEN.finditer(text):
        c = m.group()
        if c[0] == '"':
            try:
                last_string = json.loads(c)
            except ValueError:
                last_string = c[1:-1]
        elif c in "[{":
            here = key_path(names[-1], stack[-1]) if stack else ""
            if len(stack) >= MAX_DEPTH:
                i = m.start()
                return here or "(top level)", text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1
            names.append(here)
            stack.append(0 if c == "[" else None)
        elif c in "]}":
            if stack:
                stack.pop()
                names.pop()
        elif c == ":" and stack:
            stack[-1] = last_string
        elif c == "," and stack and isinstance(stack[-1], int):
            stack[-1] += 1
    return None


def _first_duplicate(data: Any) -> tuple[str, str] | None:
    """(JSON path of the duplicated key, key) of the first object in document order that names a
    key twice. Iterative: the depth is bounded already, but no recursion is needed."""
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        path, node = todo.pop()
        if isinstance(node, _Duplicated):
            return key_path(path, node.key), node.key
        if isinstance(node, dict):
            todo += [(key_path(path, k), v) for k, v in reversed(node.items())]
        elif isinstance(node, list):
            todo += [(key_path(path, i), v) for i, v in reversed(list(enumerate(node)))]
    return None


def read_json(path: str | Path) -> Any:
    """The parsed document of ``path``; a ConfigError naming the file and where it is wrong otherwise."""
    p, file = Path(path), str(path)
    try:
        if p.exists() and not p.is_file():  # a directory, a FIFO, /dev/zero: nothing to read, or no end to it
            raise ConfigError(file, "", "not a regular file; allowed: a JSON file")
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(file, "", "no such file") from None
    except OSError as e:
        raise ConfigError(file, "", f"cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(file, "", f"larger than {MAX_BYTES // 2 ** 20} MiB; allowed: a vendor document (a few KB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError(file, f"line {line}", f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                          f"allowed: a JSON document in UTF-8, as the vendor API returns it") from None
    deep = _too_deep(text)
    if deep is not None:
        where, line, col = deep
        where = where if len(where) <= 40 else where[:39] + "…"
        raise ConfigError(file, where, f"nested more than {MAX_DEPTH} levels deep (line {line}, column {col}); "
                          f"allowed: at most {MAX_DEPTH} (the vendor documents have 5)")
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_int=_integer)
    except json.JSONDecodeError as e:
        raise ConfigError(file, f"line {e.lineno}, column {e.colno}", f"invalid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:  # not expected after the checks above; still one line
        raise ConfigError(file, "", f"invalid JSON: {shown(str(e), quote=False)}") from None
    dup = _first_duplicate(data)
    if dup is not None:
        where, key = dup
        raise ConfigError(file, where, f"the key {shown(key)} is given more than once in this object; allowed: each "
                          f"key once (the vendor API returns each once; a JSON parser would keep only the last)")
    return data
