"""Sweep throughput: engine runs/s in one process and in local processes, dask overhead per
run on a LocalCluster, and the vectorised DPD model's trials/s for the same question
(scenarios/sweeps/dpd-false-alarm-lossy-link.yaml at 15 % loss, 1 h), 10^6 trials, wall and CPU
time, also with a Gilbert-Elliott channel and with a crash of the answering peer (the model's
round-by-round path). Run on demand:

    .venv/bin/python benchmarks/bench_sweep.py [RUNS]      # everything
    .venv/bin/python benchmarks/bench_sweep.py --model     # the vectorised model only
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
            ("Bernoulli 15 %, answering peer crashes at 30 min", replace(m, down_at=1800.0))]


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
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {platform.python_version()}")
    if "--model" in sys.argv:
        model_times(p)
        return
    one, rows = timed(p, jobs=1)
    two, rows2 = timed(p, jobs=2)
    assert rows == rows2
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as cl:
        dask, rows3 = timed(p, executor="dask", client=cl)
    assert rows == rows3
    print(f"{runs} runs of 1 h:")
    print(f"engine, one process:     {runs / one:8.1f} runs/s")
    print(f"engine, 2 processes:     {runs / two:8.1f} runs/s (x{one / two:.2f})")
    overhead = 1000 * (dask - two) / runs
    print(f"engine, dask 2 workers:  {runs / dask:8.1f} runs/s; overhead vs local {overhead:+.1f} ms/run")
    m = model_cases(p)[0][1]
    t = time.perf_counter()
    fast.simulate_trials(m, 1_000_000, 1)
    rate = 1_000_000 / (time.perf_counter() - t)
    print(f"vectorised model:        {rate:8.0f} trials/s (x{rate / (runs / one):.0f} vs one process)")
    model_times(p)


if __name__ == "__main__":
    main()
