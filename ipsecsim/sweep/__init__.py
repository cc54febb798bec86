"""Parameter sweeps and Monte Carlo over scenarios (``ipsecsim sweep`` / ``ipsecsim plot``).

spec (the grid and the seeds), worker (one task: load, simulate, measure), metrics, stats,
execute (local processes or dask), store (journal and outputs), core (plan, run, aggregate),
fast (the vectorised DPD model), plot (matplotlib), command (the CLI). docs/sweep.md.
"""
