"""``ipsecsim check PATH...``: find scenario files, run each, evaluate its ``expect:`` block.

A directory stands for every ``*.yaml`` / ``*.yml`` below it, in sorted order. A file that
cannot be loaded (or a summary path that does not exist) is an error - bad input, exit 2 -
and the other files are still checked; a failed expectation is exit 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..config.loader import load_scenario
from ..errors import ConfigError
from .evaluate import CheckResult, evaluate

Status = Literal["pass", "fail", "error", "empty"]


@dataclass(frozen=True)
class ScenarioCheck:
    """One scenario file checked: its verdicts, or the error that stopped it."""

    file: str
    name: str = ""
    seed: int | None = None
    report: CheckResult | None = None
    error: str = ""
    seconds: float = 0.0
    """Wall-clock time the run took (reported in JUnit, never asserted)."""
    description: str = field(default="", repr=False)

    @property
    def status(self) -> Status:
        if self.error:
            return "error"
        assert self.report is not None
        if any(v.outcome == "error" for v in self.report):
            return "error"
        if not len(self.report):
            return "empty"
        return "pass" if self.report.passed else "fail"


def scenario_files(paths: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(file, error) for every scenario file named by ``paths``; error is empty when found."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
            if not found:
                yield raw, "no scenario files (*.yaml, *.yml) in this directory"
            for f in found:
                yield str(f), ""
        elif p.is_file():
            yield raw, ""
        else:
            yield raw, "no such file or directory"


def check_file(file: str, seed: int | None = None) -> ScenarioCheck:
    from ..sim.runner import simulate
    try:
        scenario = load_scenario(file)
    except ConfigError as e:
        return ScenarioCheck(file, error=str(e))
    start = time.perf_counter()
    try:
        result = simulate(scenario, seed=seed)
    except NotImplementedError as e:
        return ScenarioCheck(file, scenario.name, seed if seed is not None else scenario.seed,
                             error=f"{file}: cannot be simulated by this build: {e}")
    report = evaluate(result)
    return ScenarioCheck(file, scenario.name, result.seed, report, seconds=time.perf_counter() - start,
                         description=scenario.config.description)


def check_paths(paths: Sequence[str], seed: int | None = None) -> Iterator[ScenarioCheck]:
    """Each scenario file checked, one at a time (so a caller can report as they finish)."""
    for f, err in scenario_files(paths):
        yield ScenarioCheck(f, error=f"{f}: {err}") if err else check_file(f, seed)


def exit_status(checks: Sequence[ScenarioCheck]) -> int:
    """2 if any input was bad, else 1 if any expectation failed, else 0."""
    states = {c.status for c in checks}
    return 2 if "error" in states or not checks else 1 if "fail" in states else 0
