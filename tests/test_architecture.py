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


# --- dependencies point one way (DESIGN.md: cli -> config -> sim -> proto; trace and check read
# the result of a run) ---------------------------------------------------------------------------

from importgraph import cycles, module_graph, unit_graph  # noqa: E402

LOWER = {"errors": set(), "proto": set(), "vocabulary": {"proto"}, "eventdocs": {"proto"},
         "overhead": {"errors", "proto"}, "units": {"errors"}}
# spec: the plain description of a run (ipsecsim/spec) that config builds from a validated
# scenario and the simulator consumes; trace and check read it through the Result.
LOWER["spec"] = {"proto"}
BASE = {"errors", "proto", "vocabulary", "units", "spec"}
LOWER["config"] = BASE
LOWER["sim"] = BASE | {"result"}
# Result is what a run hands its users: summary(), check() are views computed by trace and check,
# which read it (never the simulator); check() validates expectations given from Python (config).
LOWER["result"] = BASE | {"config", "trace", "check"}
LOWER["trace"] = BASE | {"result"}
LOWER["check"] = LOWER["trace"] | {"trace"}
LOWER["library"] = BASE | {"config"}
LOWER["live"] = BASE | {"config", "result", "sim", "trace"}
LOWER["report"] = LOWER["check"] | {"config", "check", "sim"}
LOWER["sweep"] = LOWER["check"] | {"config", "check", "sim"}
# A fleet runs many pairs through the simulator, sharded over the sweep executors, and
# summarises them with the sweep's metrics; check and cli hand it in, never import it below.
LOWER["fleet"] = LOWER["sweep"] | {"sweep", "sim", "check"}
ALLOWED: dict[str, set[str]] = {**LOWER, "__main__": {"cli"}}
"""What each part of the package may import; the CLI may import everything."""


def test_no_import_cycle_between_modules():
    found = cycles(module_graph(ROOT))
    assert found == [], f"modules importing each other (directly or around a loop): {found}"


def test_no_import_cycle_between_parts_of_the_package():
    found = cycles(unit_graph(module_graph(ROOT)))
    assert found == [], f"parts of the package importing each other: {found}"


def wrong_way(root: Path) -> list[str]:
    """``MODULE imports PART`` for every import of the package under ``root`` that ALLOWED forbids,
    imports for type checking only included (they run not, but tie a module to the layer all the
    same: an annotation naming a configuration model is a reason to read it)."""
    running = unit_graph(module_graph(root))
    wrong = []
    for unit, targets in sorted(unit_graph(module_graph(root, type_only=True)).items()):
        if unit == "cli":
            continue
        assert unit in ALLOWED, f"ipsecsim.{unit} has no place in the layers of this test: add it"
        for t, ms in sorted(targets.items()):
            if t in ALLOWED[unit]:
                continue
            runs = set(running.get(unit, {}).get(t, ()))
            wrong += [f"{m} imports {t}" + ("" if m in runs else " (for type checking only)") for m in sorted(set(ms))]
    return wrong


def test_imports_point_one_way():
    assert wrong_way(ROOT) == []


def test_the_layers_forbid_the_configuration_below_it(tmp_path):
    """sim, trace and check read the run description (spec) and the Result, never the scenario
    models: a planted import of config from each is reported, one from the CLI is not."""
    pkg = tmp_path / "ipsecsim"
    files = {"__init__.py": "", "cli.py": "from .config import loader\n", "config/__init__.py": "",
             "config/loader.py": "from ..spec import run\n", "spec/__init__.py": "", "spec/run.py": "",
             "sim/__init__.py": "", "sim/runner.py": "from ..spec import run\nfrom ..config.loader import x\n",
             "sim/link.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..config.loader import x\n",
             "trace/__init__.py": "", "trace/timeline.py": "def f():\n    from ..config import loader\n",
             "check/__init__.py": "", "check/evaluate.py": "import ipsecsim.config.loader\n"}
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    assert wrong_way(tmp_path) == ["ipsecsim.check.evaluate imports config",
                                   "ipsecsim.sim.link imports config (for type checking only)",
                                   "ipsecsim.sim.runner imports config", "ipsecsim.trace.timeline imports config"]


# --- below the configuration, a run is read through its description (spec/), never through the
# loaded scenario's models: no ``.config`` of a scenario or a result, by any name ---------------

READ_SPEC_ONLY = ("sim", "trace", "check", "spec")


def config_reads(root: Path) -> list[str]:
    """``FILE:LINE`` for every read of an attribute called ``config`` (``result.scenario.config``,
    ``sc.config`` after ``sc = result.scenario``, ``getattr(x, "config")``) in the parts of the
    package under ``root`` that read a run's description only."""
    found = []
    for part in READ_SPEC_ONLY:
        for path in sorted((root / "ipsecsim" / part).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                named = isinstance(node, ast.Attribute) and node.attr == "config"
                got = (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                       and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                       and node.args[1].value == "config")
                if named or got:
                    found.append(f"{path.relative_to(root).as_posix()}:{getattr(node, 'lineno', 0)}")
    return found


def test_traces_checks_and_simulator_read_no_scenario_model():
    assert config_reads(ROOT) == []


def test_a_planted_read_of_the_scenario_models_is_reported(tmp_path):
    """Directly, through a name bound to the scenario, or by getattr; the CLI and the report
    (above the configuration) may read it."""
    pkg = tmp_path / "ipsecsim"
    files = {"cli.py": "def f(scenario):\n    return scenario.config.fleet\n",
             "report/model.py": "def f(result):\n    return result.scenario.config.description\n",
             "trace/timeline.py": "def f(result):\n    sc = result.scenario\n    return sc.config.description\n",
             "check/evaluate.py": "def f(result):\n    return result.scenario.config.expect\n",
             "sim/runner.py": "def f(s):\n    return getattr(s, 'config').seed\n",
             "trace/packets.py": "def f(result):\n    return result.scenario.spec.file\n"}
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    assert config_reads(tmp_path) == ["ipsecsim/sim/runner.py:2", "ipsecsim/trace/timeline.py:3",
                                      "ipsecsim/check/evaluate.py:2"]


def test_the_graph_sees_real_imports(tmp_path):
    """The checks above can fail: a planted wrong-way import and a loop are found."""
    pkg = tmp_path / "ipsecsim"
    for rel, text in {"__init__.py": "", "proto/__init__.py": "", "sim/__init__.py": "",
                      "proto/a.py": "def f():\n    from ..sim import b\n",
                      "sim/b.py": "from ..proto import a\nfrom typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from ..proto import c\n",
                      "proto/c.py": "from . import a\n"}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    graph = module_graph(tmp_path)
    assert graph["ipsecsim.sim.b"] == {"ipsecsim.proto.a"}  # the TYPE_CHECKING import does not run
    assert cycles(graph) == [["ipsecsim.proto.a", "ipsecsim.sim.b"]]
    assert unit_graph(graph)["proto"] == {"sim": ["ipsecsim.proto.a"]}
