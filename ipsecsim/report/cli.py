"""The ``report`` and ``explain`` subcommands: their arguments and bodies.

``ipsecsim report SCENARIO.yaml -o run.html`` simulates and writes the HTML report;
``ipsecsim report --events-file F.jsonl -o run.html`` makes it from a saved events file
(``ipsecsim run --events F.jsonl``). ``ipsecsim explain SCENARIO.yaml [--step]`` narrates the
run in the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..proto.events import Event


def read_events(path: str) -> list[Event]:
    """Events of a JSONL file written by ``ipsecsim run --events``; ConfigError naming the line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(path, "", "no such events file (write one with: ipsecsim run S.yaml --events F.jsonl)")
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise ValueError
            t, peer, name = float(d.pop("t")), str(d.pop("peer")), str(d.pop("event"))
        except (ValueError, KeyError, TypeError):
            raise ConfigError(path, f"line {n}", "not an event: each line is one JSON object with t, peer and event "
                              "(ipsecsim run --events)") from None
        out.append(Event(t, peer, name, d))
    if not out:
        raise ConfigError(path, "", "no event in the file")
    return out


def _writable(path: str, flag: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(None, flag, f"{path} is a directory; give a file name")
    if not p.parent.exists():
        raise ConfigError(None, flag, f"cannot write {path}: directory {p.parent} does not exist")
    if p.suffix.lower() in (".yaml", ".yml", ".json", ".jsonl"):
        raise ConfigError(None, flag, f"{path} looks like an input file; the report is HTML (e.g. run.html)")
    return p


def cmd_report(args: argparse.Namespace) -> int:
    from .html import write
    from .model import build, build_from_events
    if (args.scenario is None) == (args.events_file is None):
        raise ConfigError(None, "report", "give a scenario file or --events-file F.jsonl (one of them)")
    out = _writable(args.output, "--output")
    data: dict[str, Any]
    if args.events_file is not None:
        if Path(args.events_file).resolve() == out.resolve():
            raise ConfigError(None, "--output", f"{out} is the events file; give another file name")
        events = read_events(args.events_file)
        data = build_from_events(events, Path(args.events_file).stem)
    else:
        from ..config.loader import load_scenario
        from ..sim.runner import simulate
        scenario = load_scenario(args.scenario, duration=args.duration)
        if out.resolve() == Path(args.scenario).resolve():
            raise ConfigError(None, "--output", f"{out} is the scenario file; give another file name")
        data = build(simulate(scenario, seed=args.seed, duration=args.duration))
    size = write(out, data)
    shown, total = len(data["messages"]), data["message_total"]
    print(f"report: {out} ({size / 1e6:.2f} MB; {total} IKE messages" + (f", {shown} in the diagram" if shown < total
          else "") + f", {len(data['bars'])} SA bars)", file=sys.stderr)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..config.loader import load_scenario
    from ..sim.runner import simulate
    from .explain import narrate
    scenario = load_scenario(args.scenario, duration=args.duration)
    result = simulate(scenario, seed=args.seed, duration=args.duration)
    console = Console(highlight=False, soft_wrap=True)
    narrate(result, console, step=args.step, stdin=sys.stdin)
    return 0


def add_parsers(sub: Any, duration_arg: Any, seed_arg: Any) -> None:
    rep = sub.add_parser("report", help="write a self-contained HTML report of a run (sequence diagram, SA timeline, "
                         "decoded messages, final state)",
                         description="Simulate the scenario (or read a saved events file) and write one HTML file "
                         "that works offline: a sequence diagram of every IKE message with its decoded payloads, the "
                         "IKE and CHILD SAs of each peer over time, DPD, health checks, faults and outages, and the "
                         "final state.")
    rep.add_argument("scenario", nargs="?", help="scenario YAML file")
    rep.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    rep.add_argument("--events-file", metavar="FILE", help="make the report from the JSONL events of an earlier run "
                     "(ipsecsim run --events FILE) instead of a scenario; messages then show no decoded content")
    rep.add_argument("--seed", type=seed_arg, metavar="N", help="override the scenario seed")
    rep.add_argument("--duration", type=duration_arg, metavar="TIME", help="override the simulated time (e.g. 30d)")
    rep.set_defaults(func=cmd_report)
    exp = sub.add_parser("explain", help="narrate a run step by step for teaching (what each message carries and "
                         "why, with the RFC section)",
                         description="Simulate the scenario and tell its story in the terminal: each exchange and "
                         "what its messages carry and why (RFC 7296, RFC 2409, RFC 3706, RFC 4303), the timers that "
                         "were armed and why they fired, and what each side concludes.")
    exp.add_argument("scenario", help="scenario YAML file")
    exp.add_argument("--step", action="store_true", help="wait for Enter between steps")
    exp.add_argument("--seed", type=seed_arg, metavar="N", help="override the scenario seed")
    exp.add_argument("--duration", type=duration_arg, metavar="TIME", help="override the simulated time")
    exp.set_defaults(func=cmd_explain)
