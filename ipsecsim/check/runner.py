"""``ipsecsim check PATH...``: find scenario files, run each, evaluate its ``expect:`` block.

A directory stands for every ``*.yaml`` / ``*.yml`` below it, in sorted order. A file that
cannot be loaded (or a summary path that does not exist) is an error - bad input, exit 2 -
and the other files are still checked; a failed expectation is exit 1.
"""

from __future__ import annotations

import multiprocessing
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal, Protocol, Self, TypeVar

from ..errors import ConfigError
from ..spec import RunSpec
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
    failure: str = ""
    """Why a scenario that loaded did not give verdicts (over ``--timeout``): a failure, not bad input."""

    @property
    def status(self) -> Status:
        if self.error:
            return "error"
        if self.failure:
            return "fail"
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


class Loaded(Protocol):
    """A loaded scenario (config/loader.py ``Scenario``), as checking uses it."""

    @property
    def name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def spec(self) -> RunSpec:
        """The run description (spec/): description, ``expect:`` entries, fleet or not."""
    def with_seed(self, seed: int) -> Self: ...


S = TypeVar("S", bound=Loaded)

Simulate = Callable[..., Any]
"""``sim.runner.simulate`` (or a stand-in): ``simulate(scenario, seed=...)`` -> a result. The
caller passes it, so checking reads results without depending on the simulator."""

Load = Callable[[str], S]
"""``config.loader.load_scenario``: a scenario file loaded and validated (ConfigError if not).
The caller passes it, so checking does not depend on the configuration's models either."""

SummarizeFleet = Callable[[S], dict[str, Any]]
"""``fleet.fleet_summary``: a fleet scenario's pairs run and summarised (ConfigError on a bad
fleet). Passed by the caller for the same reason as ``simulate``."""


def check_file(file: str, seed: int | None = None, *, simulate: Simulate, load: Load[S],
               summarize_fleet: SummarizeFleet[S] | None = None) -> ScenarioCheck:
    try:
        scenario = load(file)
    except ConfigError as e:
        return ScenarioCheck(file, error=str(e))
    start = time.perf_counter()
    if scenario.spec.fleet:
        return _check_fleet(file, scenario, seed, start, summarize_fleet)
    try:
        result = simulate(scenario, seed=seed)
    except NotImplementedError as e:
        return ScenarioCheck(file, scenario.name, seed if seed is not None else scenario.seed,
                             error=f"{file}: cannot be simulated by this build: {e}")
    report = evaluate(result)
    return ScenarioCheck(file, scenario.name, result.seed, report, seconds=time.perf_counter() - start,
                         description=scenario.spec.description)


def _check_fleet(file: str, scenario: S, seed: int | None, start: float,
                 summarize_fleet: SummarizeFleet[S] | None) -> ScenarioCheck:
    """A fleet file: every pair in this process, the expectations on the fleet summary."""
    from .evaluate import evaluate_summary
    if summarize_fleet is None:
        return ScenarioCheck(file, error=f"{file}: fleet: this checker was not given a way to run fleets")
    if seed is not None:
        scenario = scenario.with_seed(seed)
    try:
        summary = summarize_fleet(scenario)
    except ConfigError as e:
        return ScenarioCheck(file, error=str(e))
    report = evaluate_summary(scenario.spec.expect, summary)
    return ScenarioCheck(file, scenario.name, scenario.seed, report, seconds=time.perf_counter() - start,
                         description=scenario.spec.description)


def check_paths(paths: Sequence[str], seed: int | None = None, jobs: int = 1,
                timeout: float | None = None, *, simulate: Simulate, load: Load[S],
                summarize_fleet: SummarizeFleet[S] | None = None) -> Iterator[ScenarioCheck]:
    """Each scenario file checked, in the order named (so a caller can report as they finish).
    With ``jobs`` > 1 or a ``timeout`` (wall-clock seconds per scenario), each runs in its own
    process, ``jobs`` at a time; one over ``timeout`` is stopped and reported as failed."""
    found = list(scenario_files(paths))
    if jobs <= 1 and timeout is None:
        for f, err in found:
            yield ScenarioCheck(f, error=f"{f}: {err}") if err else check_file(
                f, seed, simulate=simulate, load=load, summarize_fleet=summarize_fleet)
        return
    yield from _in_processes(found, seed, jobs, timeout, simulate, load, summarize_fleet)


def _child(conn: Connection, file: str, seed: int | None, simulate: Simulate, load: Load[S],
           summarize_fleet: SummarizeFleet[S] | None) -> None:
    try:
        conn.send(check_file(file, seed, simulate=simulate, load=load, summarize_fleet=summarize_fleet))
    except Exception as e:  # reported as this scenario's error, as the in-process path would raise it
        conn.send(ScenarioCheck(file, error=f"{file}: {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _over_time(file: str, timeout: float, seconds: float) -> ScenarioCheck:
    return ScenarioCheck(file, seconds=seconds, failure=f"{file}: did not finish within --timeout {timeout:g} s "
                         "(wall clock); stopped")


def _in_processes(found: list[tuple[str, str]], seed: int | None, jobs: int,
                  timeout: float | None, simulate: Simulate, load: Load[S],
                  summarize_fleet: SummarizeFleet[S] | None) -> Iterator[ScenarioCheck]:
    methods = multiprocessing.get_all_start_methods()
    ctx: typing.Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    done: dict[int, ScenarioCheck] = {}
    todo = [(i, f) for i, (f, err) in enumerate(found) if not err]
    for i, (f, err) in enumerate(found):
        if err:
            done[i] = ScenarioCheck(f, error=f"{f}: {err}")
    running: dict[Connection, tuple[int, str, BaseProcess, float]] = {}
    emitted = 0
    try:
        while todo or running:
            while todo and len(running) < max(jobs, 1):
                i, f = todo.pop(0)
                here, there = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(there, f, seed, simulate, load, summarize_fleet), daemon=True)
                proc.start()
                there.close()
                running[here] = (i, f, proc, time.monotonic())
            for conn in wait(list(running), timeout=0.05):
                i, f, proc, started = running.pop(typing.cast(Connection, conn))
                try:
                    done[i] = typing.cast(Connection, conn).recv()
                except EOFError:
                    done[i] = ScenarioCheck(f, error=f"{f}: the run stopped without a result "
                                            f"(exit status {proc.exitcode})")
                proc.join()
                if timeout is not None and time.monotonic() - started > timeout:  # finished, but too late
                    done[i] = _over_time(f, timeout, time.monotonic() - started)
            now = time.monotonic()
            for conn, (i, f, proc, started) in list(running.items()):
                if timeout is not None and now - started > timeout:
                    proc.kill()
                    proc.join()
                    del running[conn]
                    done[i] = _over_time(f, timeout, now - started)
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1
        while emitted in done:
            yield done.pop(emitted)
            emitted += 1
    finally:
        for _, _, proc, _ in running.values():
            proc.kill()
            proc.join()


def exit_status(checks: Sequence[ScenarioCheck]) -> int:
    """2 if any input was bad, else 1 if any expectation failed, else 0."""
    states = {c.status for c in checks}
    return 2 if "error" in states or not checks else 1 if "fail" in states else 0
