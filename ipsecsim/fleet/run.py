"""A fleet (config/fleet.py) from scenario to per-pair results: build each pair's scenario from
the template and its draws, run pairs here or sharded over the sweep executors.

A pair's run depends only on the scenario, the seed and the pair's name (its own streams),
so the pairs can run in any order, on any worker, and give the same rows: ``run_fleet``
with one process, local worker processes or a dask cluster returns identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.fleet import PairPlan, plan_pair
from ..config.link import Window
from ..config.loader import Scenario, load_scenario
from ..config.model import FaultConfig
from ..errors import ConfigError
from ..proto.settings import PeerSettings
from ..result import Result


@dataclass(frozen=True)
class Fleet:
    scenario: Scenario
    """The template as loaded (its ``config.fleet`` is the fleet block)."""
    variants: tuple[Scenario, ...]
    """The template with each variant's overrides, validated like a file."""
    plans: tuple[PairPlan, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.plans]

    def plan(self, name: str) -> PairPlan:
        for p in self.plans:
            if p.name == name:
                return p
        some = ", ".join(self.names[:3]) + (f" ... {self.names[-1]}" if len(self.plans) > 3 else "")
        raise ConfigError(None, "--pair", f"no pair {name!r} in this fleet; allowed: {some}")


def build_fleet(scenario: Scenario, plans: bool = True) -> Fleet:
    """The pairs of a fleet scenario (ConfigError if a variant makes the template invalid).
    ``plans=False``: the template and its variants only (``plans`` empty); a worker draws
    the plans of its own pairs (``plan_of``), not the whole fleet's."""
    cfg = scenario.config
    fleet = cfg.fleet
    if fleet is None:
        raise ConfigError(scenario.file, "fleet", "this scenario has no fleet: block")
    variants = []
    base = scenario.raw if scenario.raw is not None else cfg.model_dump(by_alias=True, exclude_unset=True)
    for i, v in enumerate(fleet.variants):
        try:
            variants.append(load_scenario(base, overrides={"peers": v.peers}, file=scenario.file,
                                          duration=cfg.duration))
        except ConfigError as e:
            raise ConfigError(scenario.file, f"fleet.variants[{i}].{e.path}", e.message) from None
    drawn = tuple(plan_of(scenario, i) for i in range(fleet.pairs)) if plans else ()
    return Fleet(scenario, tuple(variants), drawn)


def plan_of(scenario: Scenario, index: int) -> PairPlan:
    """The draws of pair ``index`` (0-based) of a fleet scenario: the same whether the whole
    fleet is planned or this pair alone (they depend only on the seed and the pair's name)."""
    cfg = scenario.config
    assert cfg.fleet is not None
    return plan_pair(cfg.fleet, cfg.seed, index, cfg.fleet.pair_name(index), cfg.duration)


def pair_scenario(fleet: Fleet, plan: PairPlan) -> Scenario:
    """Pair ``plan`` as an ordinary two-peer scenario: the template (or its variant) with the
    pair's seed, link and outages, its flows, faults and health checks shifted by its start
    offset."""
    base = fleet.scenario if plan.variant < 0 else fleet.variants[plan.variant]
    cfg = base.config
    off, end = plan.start, cfg.duration
    down = [Window(start=w.start + off, end=min(w.end + off, end)) for w in cfg.link.down if w.start + off < end]
    down += [Window(start=a, end=b) for a, b in plan.outages]
    link = cfg.link.model_copy(update={**plan.link, "down": down})
    faults: list[FaultConfig] = []
    reconfigured: dict[int, PeerSettings] = {}
    for i, f in enumerate(cfg.faults):
        if f.at + off < end:
            if i in base.reconfigured:
                reconfigured[len(faults)] = base.reconfigured[i]
            faults.append(f.model_copy(update={"at": f.at + off}) if off else f)
    traffic = []
    for t in cfg.traffic:
        if t.start + off < end:
            traffic.append(t.model_copy(update={"start": t.start + off,
                                                "stop": None if t.stop is None else t.stop + off}) if off else t)
    peers = cfg.peers
    if off and any(p.nqa is not None for p in peers.values()):  # health checks start with their gateway
        peers = {n: p if p.nqa is None else p.model_copy(update={"nqa": p.nqa.model_copy(
            update={"start": p.nqa.start + off})}) for n, p in peers.items()}
    pair_cfg = cfg.model_copy(update={"name": plan.name, "seed": plan.seed, "link": link, "faults": faults,
                                      "traffic": traffic, "peers": peers, "expect": [], "fleet": None,
                                      "sweep": None})
    return Scenario(pair_cfg, base.file, base.peers, reconfigured, None, (), off)


def run_pair(fleet: Fleet, plan: PairPlan, engine: str = "fast", crypto: str = "real") -> Result:
    """One pair's run for its row: no per-ESP-packet records (a row needs none; ``--pair``
    runs the pair as an ordinary scenario, records and all)."""
    from ..sim.runner import simulate
    return simulate(pair_scenario(fleet, plan), engine=engine, crypto=crypto, esp_records=False)


def pair_row(fleet: Fleet, plan: PairPlan, engine: str = "fast", crypto: str = "real") -> dict[str, Any]:
    from .summary import pair_row as measure
    return measure(run_pair(fleet, plan, engine, crypto), plan)


# --- sharding over the sweep executors -------------------------------------------------------

@dataclass(frozen=True)
class FleetTask:
    """Plain data for a worker: the scenario as written and the pairs (indexes) to run."""

    raw: dict[str, Any]
    file: str | None
    duration: float | None
    seed: int | None
    pairs: tuple[int, ...]
    engine: str = "fast"
    crypto: str = "real"


_CACHE: dict[str, Fleet] = {}
SHARD_MAX = 50
"""Pairs per shard at most (and at least four shards per worker): a shard costs about
0.05 ms besides its pairs (benchmarks/README.md), and small shards keep the workers busy to
the end - the last shard of a long fleet is what one worker runs while the others are done."""


def _fleet_of(task: FleetTask) -> Fleet:
    import json
    key = json.dumps([task.raw, task.file, task.duration, task.seed], sort_keys=True, default=str)
    found = _CACHE.get(key)
    if found is None:
        _CACHE.clear()
        sc = load_scenario(task.raw, file=task.file, duration=task.duration)
        if task.seed is not None:
            sc = sc.with_seed(task.seed)
        found = _CACHE[key] = build_fleet(sc, plans=False)
    return found


def run_fleet_task(task: FleetTask) -> list[dict[str, Any]]:
    """The rows of the task's pairs, in pair order. The worker keeps the fleet's template
    between tasks and draws only its own pairs' plans, so a shard costs its pairs, not the
    fleet's size."""
    fleet = _fleet_of(task)
    return [pair_row(fleet, plan_of(fleet.scenario, i), task.engine, task.crypto) for i in task.pairs]


def run_fleet(fleet: Fleet, *, executor: str = "inline", jobs: int = 1, scheduler: str | None = None,
              client: Any = None, engine: str = "fast", crypto: str = "real", shard: int | None = None,
              progress: Callable[[int, int], None] | None = None, seed: int | None = None,
              duration: float | None = None) -> list[dict[str, Any]]:
    """Every pair's row, in pair order. ``executor``: ``inline`` (this process), ``local``
    (``jobs`` processes) or ``dask`` (a LocalCluster of ``jobs`` workers, the ``scheduler`` at
    an address, or a ``client``); pairs go to workers in shards of ``shard`` pairs. ``seed`` /
    ``duration``: what the fleet's scenario was loaded with (``--seed``, ``--duration``), for
    the workers to load it the same way."""
    n = len(fleet.plans)
    rows: list[dict[str, Any] | None] = [None] * n
    done_n = [0]

    def done(found: list[dict[str, Any]]) -> None:
        for r in found:
            rows[r["index"]] = r
        done_n[0] += len(found)
        if progress is not None:
            progress(done_n[0], n)

    if executor == "inline" and client is None and scheduler is None:
        for p in fleet.plans:
            done([pair_row(fleet, p, engine, crypto)])
    else:
        from ..sweep import execute
        raw = fleet.scenario.raw
        if raw is None:
            raise ConfigError(fleet.scenario.file, "fleet", "a fleet built from Python objects runs inline only")
        jobs = jobs or execute.default_jobs()
        if executor == "local":  # forked workers start with what this process has imported
            from ..sim import runner  # noqa: F401
            from ..sweep import metrics  # noqa: F401
            from ..trace import summary  # noqa: F401
        size = shard or max(1, min(SHARD_MAX, -(-n // (jobs * 4))))
        tasks: Sequence[FleetTask] = [
            FleetTask(raw, fleet.scenario.file, duration, seed, tuple(range(i, min(i + size, n))), engine, crypto)
            for i in range(0, n, size)]
        execute.run(tasks, done, executor, jobs, scheduler, client, fn=run_fleet_task)
    assert all(r is not None for r in rows)
    return [r for r in rows if r is not None]
