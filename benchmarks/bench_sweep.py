"""Sweep throughput: engine runs/s in one process and in local processes, dask overhead per
run on a LocalCluster, and the vectorised DPD model's trials/s for the same question
(scenarios/sweeps/dpd-false-alarm-lossy-link.yaml at 15 % loss, 1 h). Run on demand:

    .venv/bin/python benchmarks/bench_sweep.py [RUNS]
"""

import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ipsecsim.config.loader import load_scenario  # noqa: E402
from ipsecsim.sweep import core, fast, spec, store  # noqa: E402

SCENARIO = ROOT / "scenarios" / "sweeps" / "dpd-false-alarm-lossy-link.yaml"


def timed(p, **kw):
    j = store.Journal(None, {"fingerprint": p.fingerprint, "seed": p.seed})
    t = time.perf_counter()
    rows = core.execute(p, j, **kw)
    return time.perf_counter() - t, rows


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    p = core.plan(str(SCENARIO), ["faults.0.loss=15%", "duration=1h"], runs=runs, seed=1)
    one, rows = timed(p, jobs=1)
    two, rows2 = timed(p, jobs=2)
    assert rows == rows2
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as cl:
        dask, rows3 = timed(p, executor="dask", client=cl)
    assert rows == rows3
    m = fast.model(load_scenario(spec.apply(p.raw, p.cells[0].overrides)))
    assert not isinstance(m, str)
    t = time.perf_counter()
    fast.simulate_trials(m, 1_000_000, 1)
    vec = time.perf_counter() - t
    print(f"{time.strftime('%Y-%m-%d')} {platform.machine()} {platform.python_version()}, {runs} runs of 1 h:")
    print(f"engine, one process:     {runs / one:8.1f} runs/s")
    print(f"engine, 2 processes:     {runs / two:8.1f} runs/s (x{one / two:.2f})")
    overhead = 1000 * (dask - two) / runs
    print(f"engine, dask 2 workers:  {runs / dask:8.1f} runs/s; overhead vs local {overhead:+.1f} ms/run")
    rate = 1_000_000 / vec
    print(f"vectorised model:        {rate:8.0f} trials/s (x{rate / (runs / one):.0f} vs one process)")


if __name__ == "__main__":
    main()
