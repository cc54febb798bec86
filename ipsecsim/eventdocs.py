"""docs/events.md's event tables, generated from the typed events (``ipsecsim.proto.events``).

    python -m ipsecsim.eventdocs            # rewrite the generated tables of docs/events.md
    python -m ipsecsim.eventdocs --check    # exit 1 when docs/events.md is not current

Each table sits between a ``<!-- events: SECTION -->`` line and ``<!-- end events -->``; the
prose around them is written by hand. A row is one event: its name, its fields (the
docstring under each field; the common fields of ``SaEvent`` and ``MessageEvent`` by name
only, described once in the table of common fields) and the class docstring (when it happens).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
import textwrap
from functools import cache
from pathlib import Path

from .proto.events import KINDS, EventKind, MessageEvent, SaEvent
from .proto.events.record import layout

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"
COMMON = "Common fields"
_REGION = re.compile(r"(<!-- events: (?P<section>[^>]+?) -->\n).*?(<!-- end events -->)", re.S)


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field declared in ``cls`` itself (not its bases)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr) \
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            out[node.target.id] = " ".join(after.value.value.split())
    return out


def _doc(kind: type[EventKind], attr: str) -> tuple[str, bool]:
    """A field's docstring, and whether a common base class declares it."""
    for cls in kind.__mro__:
        if attr in field_docs(cls):
            return field_docs(cls)[attr], cls in (SaEvent, MessageEvent)
    raise LookupError(f"{kind.__name__}.{attr} has no docstring")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def fields_cell(kind: type[EventKind]) -> str:
    parts = []
    for attr, key, flat in layout(kind):
        doc, common = _doc(kind, attr)
        doc = doc[:-1] if doc.endswith(".") and not doc.endswith("...") else doc
        parts.append(doc if flat else f"`{key}`" if common else f"`{key}` ({doc})")
    return _cell(", ".join(parts))


def table(section: str) -> str:
    if section == COMMON:
        lines = ["| field | of | meaning |", "|---|---|---|"]
        for base, of in ((SaEvent, "events of an IKE SA"), (MessageEvent, "message events")):
            lines += [f"| `{a}` | {of} | {_cell(d)} |" for a, d in field_docs(base).items()]
        return "\n".join(lines) + "\n"
    kinds = [k for k in KINDS.values() if k.SECTION == section]
    if not kinds:
        raise LookupError(f"docs/events.md: no event kind has SECTION {section!r}")
    lines = ["| event | fields | when |", "|---|---|---|"]
    lines += [f"| `{k.NAME}` | {fields_cell(k)} | {_cell(' '.join((k.__doc__ or '').split()))} |" for k in kinds]
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    """``text`` (docs/events.md) with every generated table made current."""
    seen: set[str] = set()

    def fill(m: re.Match[str]) -> str:
        seen.add(m["section"])
        return m[1] + table(m["section"]) + m[3]

    out = _REGION.sub(fill, text)
    missing = sorted({k.SECTION for k in KINDS.values()} - seen)
    if missing:
        raise LookupError(f"docs/events.md has no generated table for section(s): {', '.join(missing)}")
    return out


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if argv[:1] == ["--check"]:
        if wanted != current:
            print("docs/events.md is not current: run python -m ipsecsim.eventdocs", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
