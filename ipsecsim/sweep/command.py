"""The ``ipsecsim sweep`` and ``ipsecsim plot`` commands (docs/sweep.md)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..errors import ConfigError


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number 1 or greater, got {text!r}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"a seed is a whole number 0 or greater, got {text!r}")
    return v


def add_commands(sub: Any) -> None:
    """Register ``sweep`` and ``plot`` on the ``ipsecsim`` subcommand parser."""
    sw = sub.add_parser(
        "sweep", help="run a scenario over a grid of settings x seeded runs; statistics per cell",
        description="Run SCENARIO for every combination of the varied settings (--vary, or its sweep: block), "
        "RUNS seeded runs each (seeds derived from the sweep seed, the cell and the run number), and report "
        "per cell the mean, percentiles and 95%% confidence interval of every metric (Wilson for proportions). "
        "-o writes the table of cells (.csv, .parquet, .json) and OUTPUT.runs.jsonl, the journal of runs: "
        "the same command again resumes where an interrupted sweep stopped. Exit 2 for bad input.")
    sw.add_argument("scenario", help="scenario YAML file (its sweep: block, if any, is the default grid)")
    sw.add_argument("--vary", action="append", default=[], metavar="PATH=VALUES",
                    help="a scenario path and its values: a,b,c or LOW..HIGH/STEP (e.g. link.loss=0..5%%/1%%, "
                    "peers.A.dpd.delay=10s,20s,30s); repeat for a grid")
    sw.add_argument("--runs", type=_positive, metavar="N", help="seeded runs per cell (default: the sweep block's, "
                    "else 100)")
    sw.add_argument("--seed", type=_seed, metavar="N", help="sweep seed (default: the sweep block's, else the "
                    "scenario's)")
    sw.add_argument("--metric", action="append", default=[], metavar="PATH",
                    help="also report this summary path (e.g. peers.A.messages.retransmitted)")
    sw.add_argument("-o", "--output", metavar="FILE", help="write the cells to FILE (.csv, .parquet, .json) and "
                    "the runs to FILE.runs.jsonl; resumes from them")
    sw.add_argument("-j", "--jobs", type=_positive, metavar="N", help="worker processes (default: every core)")
    sw.add_argument("--executor", choices=["local", "dask"], default="local",
                    help="local processes (default) or a dask.distributed cluster")
    sw.add_argument("--scheduler", metavar="URL", help="dask scheduler address (tcp://HOST:8786); implies "
                    "--executor dask; without it dask starts a LocalCluster")
    sw.add_argument("--method", choices=["auto", "engine", "fast"], default="auto",
                    help="engine: simulate every run; fast: the vectorised DPD model (sweep/fast.py); auto "
                    "(default): fast where the model is exact for the scenario, else engine")
    sw.add_argument("--fast", action="store_const", dest="method", const="fast", help="same as --method fast")
    sw.add_argument("--trials", type=_positive, default=20_000, metavar="N",
                    help="trials per cell of the fast method (default 20000), one row each like a run")
    sw.set_defaults(func=cmd_sweep)
    pl = sub.add_parser(
        "plot", help="draw one run's timeline (a scenario) or a sweep's metric (a sweep output) as PNG / SVG",
        description="With a scenario file: the timeline of one run (SAs per peer, rekeys, DPD, faults, outages, "
        "throughput). With a sweep output (.csv, .parquet, .json): a metric against the varied settings (lines "
        "for one setting, a heatmap for two) or its distribution over runs (--cdf).")
    pl.add_argument("input", help="scenario YAML, or the output of ipsecsim sweep")
    pl.add_argument("-o", "--output", required=True, metavar="FILE", help="the picture (.png or .svg)")
    pl.add_argument("--metric", metavar="NAME", help="sweep: the metric to draw (default: the first that varies)")
    pl.add_argument("--cdf", action="store_true", help="sweep: the distribution over runs, one curve per cell")
    pl.add_argument("--seed", type=_seed, metavar="N", help="scenario: override its seed")
    pl.set_defaults(func=cmd_plot)


def cmd_sweep(args: argparse.Namespace) -> int:
    from . import core, fast, store
    if args.scheduler:
        args.executor = "dask"
    output = store.check_output(args.output) if args.output else None
    if output is not None and Path(args.scenario).resolve() == output.resolve():
        raise ConfigError(None, "-o", f"{output} is the scenario file; give another file name")
    p = core.plan(args.scenario, args.vary, args.runs, args.seed, args.metric)
    methods = fast.choose(p, args.method)
    journal = store.Journal(store.journal_path(output) if output else None,
                            {"scenario": p.scenario.name, "fingerprint": p.fingerprint, "seed": p.seed})
    kinds = {i: m for i, (m, _) in methods.items()}
    total = core.missing(p, journal, kinds)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        rows = _run_with_progress(p, journal, args, total, err, kinds)
    except KeyboardInterrupt:
        journal.close()
        kept = f"; the finished runs are kept in {journal.path}: the same command resumes" if output else ""
        err.print(f"ipsecsim sweep: interrupted{kept}")
        return 130
    except LookupError as e:  # a --metric path that the summary does not have
        raise ConfigError(None, "--metric", str(e).strip("'\"")) from None
    finally:
        journal.close()
    cells = {r["cell"]: r for r in core.aggregate(p, rows)}
    for c in p.cells:
        method, why = methods[c.index]
        if method == "fast":
            cells[c.index]["fast_model"] = why
    table = [cells[c.index] for c in p.cells]
    meta = store.meta_of(p.scenario.name, p.scenario.file, p.seed, p.runs, p.axes, p.metrics)
    meta["methods"] = {str(i): m for i, m in methods.items()}
    meta["trials"] = args.trials if any(m == "fast" for m, _ in methods.values()) else None
    if output is not None:
        runs = [{k: v for k, v in r.items() if k != "cell_key"} for r in rows]
        store.write(output, meta, table, runs)
    render(p, table, Console(highlight=False, width=None if sys.stdout.isatty() else 160), output)
    return 0


def _run_with_progress(p: Any, journal: Any, args: argparse.Namespace, total: int,
                       err: Console, methods: dict[int, str]) -> list[dict[str, Any]]:
    from . import core
    if total == 0 or not sys.stderr.isatty():
        return core.execute(p, journal, args.executor, args.jobs, args.scheduler, methods=methods,
                            trials=args.trials)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    with Progress(TextColumn("sweeping {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("runs, ETA"), TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(p.scenario.name, total=total)
        return core.execute(p, journal, args.executor, args.jobs, args.scheduler, methods=methods,
                            trials=args.trials, advance=lambda n: bar.advance(task, n))


_SHOWN = ("peer_dead_t", "detection_delay", "false_dead", "any_false_dead", "outage_s", "dropped_bytes", "rekeys",
          "failed_negotiations")


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if pct:
        return f"{100 * v:.3g}%"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def shown_metrics(p: Any, table: list[dict[str, Any]]) -> list[str]:
    """The metrics worth a column: the user's, then the standard ones that are not all zero / empty."""
    names = [*p.metrics]
    for name in _SHOWN:
        means = [r.get(f"{name}.mean") for r in table]
        if any(m not in (None, 0, 0.0, False) and not (isinstance(m, float) and math.isnan(m)) for m in means):
            names.append(name)
    return list(dict.fromkeys(names))[:7]


def render(p: Any, table: list[dict[str, Any]], console: Console, output: Path | None) -> None:
    from .spec import label
    caption = "mean ±half-width of the 95% CI; proportions (Wilson 95% interval)"
    runs = {r["runs"] for r in table if r["method"] == "engine"} and f"{p.runs} run(s)"
    trials = sorted({r["runs"] for r in table if r["method"] == "fast"})
    each = " / ".join([x for x in [runs or "", f"{trials[-1]} trial(s)*" if trials else ""] if x])
    t = Table(title=f"{p.scenario.name}: {len(p.cells)} cell(s) x {each}, sweep seed {p.seed}",
              caption=caption + (f"; written to {output}" if output else ""))
    for a in p.axes:
        t.add_column(a.path)
    t.add_column("runs", justify="right")
    names = shown_metrics(p, table)
    for n in names:
        t.add_column(n, justify="right")
    for cell, row in zip(p.cells, table, strict=True):
        values = [label(v) for _, v in cell.settings]
        runs = str(row["runs"]) + ("*" if row["method"] == "fast" else "")
        cols = []
        for n in names:
            if f"{n}.mode" in row:
                cols.append(f"{row[f'{n}.mode']} ({_fmt(row[f'{n}.share'], True)})")
                continue
            mean, lo, hi = row.get(f"{n}.mean"), row.get(f"{n}.ci_low"), row.get(f"{n}.ci_high")
            if f"{n}.p50" not in row:  # a proportion: Wilson interval
                cols.append(f"{_fmt(mean, True)} ({_fmt(lo, True)}-{_fmt(hi, True)})")
            elif isinstance(hi, float) and isinstance(mean, float) and math.isfinite(hi):
                cols.append(f"{_fmt(mean)} ±{_fmt(hi - mean)}")
            else:
                cols.append(_fmt(mean))
        t.add_row(*values, runs, *cols)
    console.print(t)
    if any(r["method"] == "fast" for r in table):
        console.print("* trials of the vectorised DPD model (sweep/fast.py), not engine runs")


def cmd_plot(args: argparse.Namespace) -> int:
    from . import plot
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(None, "-o", f"{args.output}: unknown picture format {out.suffix or '(none)'!r}; "
                          "allowed: .png, .svg")
    if out.is_dir() or not out.parent.exists():
        raise ConfigError(None, "-o", f"cannot write {args.output}: not a file in an existing directory")
    if out.exists() and out.resolve() == Path(args.input).resolve():
        raise ConfigError(None, "-o", f"{args.output} is the input file; give another file name")
    if Path(args.input).suffix.lower() in (".yaml", ".yml"):
        if args.metric or args.cdf:
            raise ConfigError(None, "--metric" if args.metric else "--cdf", "applies to a sweep output, not a "
                              "scenario file")
        plot.run_timeline(args.input, out, args.seed)
    else:
        if args.seed is not None:
            raise ConfigError(None, "--seed", "applies to a scenario file, not a sweep output")
        plot.sweep_figure(args.input, out, args.metric, args.cdf)
    print(f"wrote {out}", file=sys.stderr)
    return 0
