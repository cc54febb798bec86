"""Sweep throughput: engine runs/s in one process and in local processes, dask overhead per
run on a LocalCluster, and the vectorised DPD model's trials/s for the same question
(scenarios/sweeps/dpd-false-alarm-lossy-link.yaml at 15 % loss, 1 h), 10^6 trials, wall and CPU
time, also with a Gilbert-Elliott channel and with a crash of the answering peer (the model's
round-by-round path). Run on demand:

    .venv/bin/python benchmarks/bench_sweep.py [RUNS]      # everything
    .venv/bin/python benchmarks/bench_sweep.py --model     # the vectorised model only
    .venv/bin/python benchmarks/bench_sweep.py --scale N [TOTAL]
        # N runs of the two-peer 1 h scenario (2 % loss) on 2 local processes, against the time the
        # engine's events/s (one process, 40 runs first) predict; extrapolated to TOTAL (10,000)
"""

import platform
import sys
import time
from dataclasses import replace
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


def model_cases(p):
    """The question of the first cell as the model, and its round-by-round variants."""
    m = fast.model(load_scenario(spec.apply(p.raw, p.cells[0].overrides)))
    assert not isinstance(m, str)
    return [("Bernoulli 15 %", m),
            ("Gilbert-Elliott (p 1 %, r 30 %, loss 2 % / 50 %)", replace(m, loss=fast.Loss(ge=(0.01, 0.3, 0.02, 0.5)))),
            ("Bernoulli 15 %, answering peer crashes at 30 min", replace(m, down_at=1800.0)),
            ("Bernoulli 1 %, one day", replace(m, loss=fast.Loss(p=0.01), until=86400.0)),
            ("Gilbert-Elliott, one day", replace(m, loss=fast.Loss(ge=(0.01, 0.3, 0.02, 0.5)), until=86400.0))]


def scale(n: int, total: int) -> None:
    from ipsecsim.sim.runner import simulate
    p = core.plan(str(SCENARIO), ["faults.0.loss=2%", "duration=1h"], runs=n, seed=3)
    cell = p.cells[0]
    scenario = load_scenario(spec.apply(p.raw, cell.overrides))
    events = 0
    c, t = time.process_time(), time.perf_counter()
    for r in range(40):
        events += len(simulate(scenario, seed=spec.run_seed(p.seed, cell, 1_000_000 + r)).events)
    cpu, wall1 = time.process_time() - c, time.perf_counter() - t
    rate, per_run = events / cpu, cpu / 40
    print(f"baseline, one process, 40 runs: {events / 40:.0f} events/run, {rate:,.0f} events/s (CPU), "
          f"{per_run * 1000:.1f} ms CPU/run, {wall1 / 40 * 1000:.1f} ms wall/run")
    import resource
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    c = time.process_time()
    wall, rows = timed(p, jobs=2)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_all = time.process_time() - c + (after.ru_utime + after.ru_stime) - (kids.ru_utime + kids.ru_stime)
    assert len(rows) == n
    predicted = n * per_run / 2
    print(f"{n} runs, 2 local processes: {wall:.1f} s wall, {cpu_all:.1f} CPU s (this process and the workers)")
    print(f"predicted from events/s on 2 cores: {predicted:.1f} s; ratio wall / predicted {wall / predicted:.2f}; "
          f"CPU / ({n} x CPU per run) {cpu_all / (n * per_run):.2f}; wall / ({n} x wall per run / 2) "
          f"{wall / (n * wall1 / 40 / 2):.2f}")
    print(f"extrapolated to {total:,} runs: {wall * total / n:.0f} s wall (predicted {total * per_run / 2:.0f} s)")


def model_times(p, trials: int = 1_000_000) -> None:
    for name, m in model_cases(p):
        t, c = time.perf_counter(), time.process_time()
        fast.simulate_trials(m, trials, 1)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"vectorised model, {trials:,} trials, {name}: wall {wall:.3f} s, CPU {cpu:.3f} s, "
              f"{trials / wall:,.0f} trials/s (wall), {trials / cpu:,.0f} trials/s (CPU)")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(args[0]) if args else 40
    p = core.plan(str(SCENARIO), ["faults.0.loss=15%", "duration=1h"], runs=runs, seed=1)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {platform.python_version()} "
          f"load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")
    if "--scale" in sys.argv:
        scale(int(args[0]) if args else 1000, int(args[1]) if len(args) > 1 else 10_000)
        return
    if "--model" in sys.argv:
        model_times(p)
        return
    warm = core.plan(str(SCENARIO), ["faults.0.loss=15%", "duration=1h"], runs=2, seed=2)
    timed(warm, jobs=1)  # imports and caches of this process
    one, rows = timed(p, jobs=1)
    two, rows2 = timed(p, jobs=2)  # includes starting the 2 worker processes, as every sweep does
    assert rows == rows2
    from distributed import Client, LocalCluster
    t = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as cl:
        start = time.perf_counter() - t
        cl.run(__import__, "ipsecsim.sim.runner")  # every worker imports the simulator
        timed(warm, executor="dask", client=cl)
        dask, rows3 = timed(p, executor="dask", client=cl)
    assert rows == rows3
    print(f"{runs} runs of 1 h:")
    print(f"engine, one process:     {runs / one:8.1f} runs/s")
    print(f"engine, 2 processes:     {runs / two:8.1f} runs/s (x{one / two:.2f})")
    overhead = 1000 * (dask - two) / runs
    print(f"engine, dask 2 workers:  {runs / dask:8.1f} runs/s; overhead vs local {overhead:+.1f} ms/run "
          f"(warm cluster; starting the LocalCluster took {start:.1f} s)")
    m = model_cases(p)[0][1]
    t = time.perf_counter()
    fast.simulate_trials(m, 1_000_000, 1)
    rate = 1_000_000 / (time.perf_counter() - t)
    print(f"vectorised model:        {rate:8.0f} trials/s (x{rate / (runs / one):.0f} vs one process)")
    t = time.perf_counter()
    fast.trial_rows(p, p.cells[0], list(range(100_000)))
    print(f"model trials as rows:    {100_000 / (time.perf_counter() - t):8.0f} rows/s")
    model_times(p)


if __name__ == "__main__":
    main()
