"""A sweep from start to end: plan the grid, run what the journal does not have yet, and
reduce every cell's runs to statistics (docs/sweep.md)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.loader import Scenario, load_scenario
from ..errors import ConfigError
from . import execute as executors
from .spec import Axis, Cell, SpecError, apply, axis, grid, numeric, parse_vary, run_seed
from .stats import describe
from .store import Journal, fingerprint
from .worker import Task

DEFAULT_RUNS = 100
_NOT_METRICS = {"cell", "cell_key", "run", "seed", "settings", "method"}


@dataclass
class Plan:
    scenario: Scenario
    raw: dict[str, Any]
    axes: list[Axis]
    cells: list[Cell]
    runs: int
    seed: int
    metrics: list[str]
    fingerprint: str


def plan(path: str, vary: Sequence[str] = (), runs: int | None = None, seed: int | None = None,
         metrics: Sequence[str] = ()) -> Plan:
    """The sweep of scenario file ``path``: its ``sweep:`` block with the command line's
    ``--vary`` (replacing the block's axis of the same path), ``--runs``, ``--seed`` and
    ``--metric`` on top. Every cell is validated like a scenario file before anything runs."""
    scenario = load_scenario(path)
    block = scenario.config.sweep
    axes: list[Axis] = []
    try:
        if block is not None:
            axes = [axis(p, v, f"{path}: sweep.vary.{p}") for p, v in block.vary.items()]
        for spec in vary:
            new = parse_vary(spec)
            axes = [a for a in axes if a.path != new.path] + [new]
        cells = grid(axes)
    except SpecError as e:
        raise ConfigError(None, "", str(e)) from None
    extra = list(dict.fromkeys([*(block.metrics if block else []), *metrics]))
    raw = scenario.raw or {}
    p = Plan(scenario, raw, axes, cells,
             runs if runs is not None else (block.runs if block else DEFAULT_RUNS),
             seed if seed is not None else (block.seed if block and block.seed is not None else scenario.seed),
             extra, fingerprint(raw))
    for cell in cells:
        try:
            load_scenario(apply(raw, cell.overrides), file=path)
        except SpecError as e:
            raise ConfigError(None, "--vary", str(e)) from None
        except ConfigError as e:
            raise ConfigError(f"{path} (sweep cell {cell.text()})", e.path, e.message) from None
    return p


def labels(cell: Cell) -> dict[str, str]:
    from .spec import label
    return {p: label(v) for p, v in cell.settings}


def have(journal: Journal, cell: Cell, run: int, method: str) -> bool:
    """Whether the journal holds run ``run`` of ``cell`` made by ``method`` (a row of the other
    method - the sweep was run with another ``--method`` before - is done again and replaced)."""
    row = journal.done.get((cell.key, run))
    return row is not None and row.get("method", "engine") == method


def tasks(p: Plan, journal: Journal, chunk: int, cells: Sequence[Cell] | None = None) -> list[Task]:
    out: list[Task] = []
    for cell in p.cells if cells is None else cells:
        todo = [(r, run_seed(p.seed, cell, r)) for r in range(p.runs) if not have(journal, cell, r, "engine")]
        for i in range(0, len(todo), chunk):
            out.append(Task(p.raw, p.scenario.file, cell.index, cell.key, cell.overrides, tuple(todo[i:i + chunk]),
                            tuple(p.metrics), p.fingerprint))
    return out


def chunk_size(todo: int, jobs: int) -> int:
    """Runs per task: small enough that the workers share the load and progress moves, large
    enough that the per-task overhead (loading the scenario, shipping it) stays small."""
    return max(1, min(16, math.ceil(todo / max(1, jobs * 4))))


def missing(p: Plan, journal: Journal, methods: dict[int, str] | None = None, trials: int = 0) -> int:
    """Engine runs the journal lacks (what the progress bar counts)."""
    methods = methods or {}
    return sum(1 for c in p.cells if methods.get(c.index, "engine") == "engine"
               for r in range(p.runs) if not have(journal, c, r, "engine"))


def execute(p: Plan, journal: Journal, executor: str = "local", jobs: int | None = None,
            scheduler: str | None = None, client: Any = None,
            advance: Callable[[int], None] | None = None, methods: dict[int, str] | None = None,
            trials: int = 0) -> list[dict[str, Any]]:
    """Run every (cell, run) the journal lacks - ``p.runs`` engine runs per cell, or ``trials``
    trials of the vectorised model for the cells whose ``methods`` entry is ``fast`` (computed
    here, whatever the executor) - and return all runs of the plan in (cell, run) order."""
    methods = methods or {}
    jobs = jobs or executors.default_jobs()
    engine = [c for c in p.cells if methods.get(c.index, "engine") == "engine"]
    work = tasks(p, journal, chunk_size(missing(p, journal, methods), jobs), engine)
    by_index = {c.index: c for c in p.cells}

    def done(rows: list[dict[str, Any]]) -> None:
        record(by_index, journal, rows)
        if advance is not None:
            advance(len(rows))

    from . import fast
    for c in p.cells:
        if methods.get(c.index) == "fast":
            todo = [r for r in range(trials) if not have(journal, c, r, "fast")]
            record(by_index, journal, fast.trial_rows(p, c, todo))
    if work:
        executors.run(work, done, executor, jobs, scheduler, client)
    return collect(p, journal, {i: trials for i, m in methods.items() if m == "fast"})


def record(cells: dict[int, Cell], journal: Journal, rows: list[dict[str, Any]]) -> None:
    """Add finished rows to the journal with their cell's key and settings."""
    shown: dict[int, dict[str, str]] = {}
    for row in rows:
        cell = cells[row["cell"]]
        row["cell_key"] = cell.key
        if cell.index not in shown:
            shown[cell.index] = labels(cell)
        row["settings"] = shown[cell.index]
    journal.add(rows)


def collect(p: Plan, journal: Journal, counts: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """The runs of every cell in (cell, run) order: ``p.runs`` each, or ``counts[cell]``."""
    out = []
    for cell in p.cells:
        for r in range((counts or {}).get(cell.index, p.runs)):
            row = journal.done.get((cell.key, r))
            if row is not None:
                out.append({**row, "cell": cell.index})
    return out


def metric_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for k in row:
            if k not in _NOT_METRICS:
                seen.setdefault(k, None)
    return list(seen)


def axis_columns(p: Plan, cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a, (path, value) in zip(p.axes, cell.settings, strict=True):
        nums = [numeric(v) for v in a.values]
        out[path] = numeric(value) if all(n is not None for n in nums) else labels(cell)[path]
    return out


def cell_row(p: Plan, cell: Cell, method: str, runs: int, stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": cell.index, **axis_columns(p, cell), "method": method, "runs": runs,
                           "cell_key": cell.key}
    for name, s in stats.items():
        if s["kind"] == "text":
            row[f"{name}.mode"] = s.get("mode")
            row[f"{name}.share"] = s.get("share")
            continue
        row[f"{name}.mean"] = s["mean"]
        row[f"{name}.ci_low"] = s["ci_low"]
        row[f"{name}.ci_high"] = s["ci_high"]
        row[f"{name}.n"] = s["n"]
        if s["kind"] == "number":
            for k in ("std", "p5", "p50", "p95"):
                row[f"{name}.{k}"] = s[k]
    return row


def aggregate(p: Plan, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell: its settings and the statistics of every metric (stats.describe)."""
    names = metric_names(rows)
    per_cell: dict[int, list[dict[str, Any]]] = {c.index: [] for c in p.cells}
    for row in rows:
        per_cell[row["cell"]].append(row)
    out = []
    for cell in p.cells:
        mine = per_cell[cell.index]
        used = [n for n in names if any(n in r for r in mine)]
        stats = {n: describe([r.get(n) for r in mine]) for n in used}
        out.append(cell_row(p, cell, mine[0].get("method", "engine") if mine else "engine", len(mine), stats))
    return out
