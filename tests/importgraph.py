"""The import graph of the ipsecsim package, read with ast (nothing is imported).

Imports under ``if TYPE_CHECKING:`` are left out unless asked for (they do not run, so they
cannot make a loop, but they still tie a module to the one it names); imports inside
functions count: they are dependencies all the same, only deferred.
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports(root: Path, path: Path, modules: set[str], type_only: bool = False) -> set[str]:
    """The ipsecsim modules ``path`` imports (``from pkg import name`` counts as the module
    ``pkg.name`` when that is a module, else as ``pkg``); with ``type_only`` also those it
    imports under ``if TYPE_CHECKING:``."""
    me = module_name(root, path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if type_only else _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != me:
                out.add(name)
    return out


def module_graph(root: Path, type_only: bool = False) -> dict[str, set[str]]:
    """Module -> the modules it imports, for every module of the ``ipsecsim`` package under
    ``root`` (with ``type_only``: including the imports for type checking only)."""
    paths = {module_name(root, p): p for p in (root / "ipsecsim").rglob("*.py")}
    modules = set(paths)
    return {m: imports(root, p, modules, type_only) for m, p in paths.items()}


def unit(module: str) -> str:
    """The part of the package a module belongs to: ``ipsecsim.sim.link`` -> ``sim``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ipsecsim"


def unit_graph(graph: dict[str, set[str]]) -> dict[str, dict[str, list[str]]]:
    """Unit -> unit it imports -> the importing modules (``ipsecsim/__init__`` left out: it
    re-exports the public API lazily)."""
    out: dict[str, dict[str, list[str]]] = {}
    for m, targets in graph.items():
        for t in targets:
            a, b = unit(m), unit(t)
            if a != b and "ipsecsim" not in (a, b):
                out.setdefault(a, {}).setdefault(b, []).append(m)
    return out


def cycles(graph: dict[str, set[str]] | dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)
