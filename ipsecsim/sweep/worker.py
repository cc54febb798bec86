"""One task of a sweep, run wherever the executor puts it (this process, a local worker
process, a dask worker): load the scenario of one cell, simulate the given seeds with the
public ``simulate()``, measure each run. A task carries plain data only (the scenario as
written, the cell's overrides, the seeds), so it pickles to any machine, and it returns
plain rows, so the same task gives the same rows everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_CACHE: dict[str, Any] = {}


@dataclass(frozen=True)
class Task:
    raw: dict[str, Any]
    file: str | None
    cell: int
    cell_key: str
    overrides: dict[str, Any]
    runs: tuple[tuple[int, int], ...]  # (run number, scenario seed)
    metrics: tuple[str, ...]
    fingerprint: str = ""  # of the scenario as written: the worker's cache key


def _scenario(task: Task) -> Any:
    from ..config.loader import load_scenario
    key = f"{task.fingerprint}|{task.file}|{task.cell_key}"
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        from .spec import apply
        found = _CACHE[key] = load_scenario(apply(task.raw, task.overrides), file=task.file)
    return found


def run_task(task: Task) -> list[dict[str, Any]]:
    """Rows ``{cell, run, seed, method, metrics...}`` for every run of the task, in run order."""
    from ..sim.runner import simulate
    from .metrics import measure
    scenario = _scenario(task)
    rows = []
    for run, seed in task.runs:
        result = simulate(scenario, seed=seed)
        rows.append({"cell": task.cell, "run": run, "seed": seed, "method": "engine",
                     **measure(result, list(task.metrics))})
    return rows
