"""Architecture rules of DESIGN.md that a test can check."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PROTO = ROOT / "ipsecsim" / "proto"


def test_proto_imports_without_simpy_or_scapy():
    code = ("import sys, pkgutil, importlib, ipsecsim.proto as p\n"
            "for m in pkgutil.walk_packages(p.__path__, 'ipsecsim.proto.'): importlib.import_module(m.name)\n"
            "bad = [m for m in ('simpy', 'scapy') if m in sys.modules]\n"
            "print(','.join(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_proto_uses_no_wall_clock_or_global_random():
    for path in PROTO.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] in ("time", "simpy", "scapy", "datetime") for m in mods), path
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "random":
                assert node.attr == "Random", f"{path}: random.{node.attr}"


def imported_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_only_trace_imports_scapy():
    for path in (ROOT / "ipsecsim").rglob("*.py"):
        if "trace" in path.relative_to(ROOT / "ipsecsim").parts:
            continue
        assert "scapy" not in imported_modules(path), path


def test_modules_stay_small():
    big = [p for p in (ROOT / "ipsecsim").rglob("*.py") if p.stat().st_size > 40_000]
    assert not big
