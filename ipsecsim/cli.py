"""The ``ipsecsim`` command line: run, live, check, compare, import, scenarios, overhead, report, explain,
schema, profiles, verify, sweep and plot (ipsecsim/sweep/).

Exit status: 0 success, 1 a check failed, 2 bad input (one message naming the file, the
field and what is allowed; no traceback). ``run`` prints a scenario's expectations after
its timeline (and under ``expectations`` in ``--json``) but exits 0 whatever they say;
``check`` is the command whose exit status reports them (docs/expectations.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from . import __version__
from .config import profiles
from .config.loader import Scenario, load_scenario
from .config.units import parse_duration
from .errors import ConfigError, one_line, shown

MAX_SEED = 2**64 - 1
"""The largest seed (the scenario's ``seed`` has the same bound)."""

if TYPE_CHECKING:
    from .trace.options import TraceOptions


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (``ipsecsim: error: run: --duration: ...``), no
    usage block: the same form as every other bad-input message, exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        where = self.prog.removeprefix("ipsecsim").strip()
        self.exit(2, f"ipsecsim: error: {where + ': ' if where else ''}{one_line(message)} "
                  f"(see {self.prog} --help)\n")


def _duration_arg(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the simulated time must be greater than 0, got {text!r}")
    return value


def _tolerance_arg(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a tolerance is a time 0 or greater (e.g. 10ms), got {text!r}")
    return value


def _seed_arg(text: str) -> int:
    allowed = f"a seed is a whole number 0 or greater, at most {MAX_SEED}, got {shown(text)}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(allowed) from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(allowed)
    return value


def _count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"the number of parallel runs is a whole number from 1 to 64, "
                                         f"got {shown(text)}")
    return value


def _input_files(path: str, scenario: Scenario) -> list[str]:
    """The scenario file and the vendor JSON files its peers import (relative to it)."""
    out = [path]
    for peer in ((scenario.raw or {}).get("peers") or {}).values():
        spec = peer.get("import") if isinstance(peer, dict) else None
        name = spec.get("file") if isinstance(spec, dict) else spec
        if isinstance(name, str):
            out.append(name if Path(name).is_absolute() else str(Path(path).parent / name))
    return out


def _distinct_outputs(inputs: Sequence[str], outputs: Sequence[tuple[str, Path | None]]) -> None:
    """No output may overwrite an input file or another output of the same run."""
    seen: dict[Path, str] = {Path(f).resolve(): "an input file" for f in inputs}
    seen[Path(inputs[0]).resolve()] = "the scenario file"
    for flag, path in outputs:
        if path is None:
            continue
        key = path.resolve()
        if key in seen:
            raise ConfigError(None, flag, f"{path} is also {seen[key]}; give another file name")
        seen[key] = flag


def _writable(path: str, flag: str) -> Path:
    """``path`` as an output file that can be written (checked before the run, which may be long)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError(None, flag, f"{shown(path)} is a directory; give a file name")
        if not p.parent.is_dir():
            raise ConfigError(None, flag, f"cannot write {shown(path)}: directory {shown(str(p.parent))} does "
                              "not exist")
        if (p.exists() and not os.access(p, os.W_OK)) or (not p.exists() and not os.access(p.parent, os.W_OK)):
            raise ConfigError(None, flag, f"cannot write {shown(path)}: permission denied")
        p.resolve()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte, a loop of links
        raise ConfigError(None, flag, f"cannot write {shown(path)}: {getattr(e, 'strerror', None) or e}") from None
    if len(p.name.encode(errors="surrogateescape")) > 250:
        raise ConfigError(None, flag, f"cannot write {shown(path)}: file name too long")
    return p


@contextlib.contextmanager
def _output(flag: str, path: Path | None) -> typing.Iterator[None]:
    """An output that fails while written (disk full, a file the system refuses) as one line
    naming the flag."""
    try:
        yield
    except OSError as e:
        raise ConfigError(None, flag, f"cannot write {shown(str(path))}: {e.strerror or e}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from .trace.jsonl import write_events
    from .trace.timeline import render
    to_stdout = args.events == "-"
    if to_stdout and args.json:
        raise ConfigError(None, "--events", "'-' writes the events to stdout, where --json writes the summary; "
                          "give a file name for one of them")
    scenario = load_scenario(args.scenario, duration=args.duration)
    if scenario.config.fleet is not None and args.pair is None:
        return _run_fleet(scenario, args)
    if args.pair is not None:
        scenario = _fleet_pair(scenario, args)
    for flag in ("jobs", "executor", "scheduler"):
        if getattr(args, flag) is not None:
            raise ConfigError(None, f"--{flag}", "shards the pairs of a fleet (a scenario with fleet:) over "
                              "workers; this run is one tunnel")
    from .trace.timeline_filter import from_args
    only = from_args(args, [*scenario.peers, "link", *(g.name for g in scenario.config.ha)], args.scenario)
    if only.active and (args.json or to_stdout):
        raise ConfigError(None, "--json" if args.json else "--events", "prints no timeline; --since, --until, "
                          "--peer, --event and --summary choose lines of the timeline")
    events_path = _writable(args.events, "--events") if args.events and not to_stdout else None
    trace_opts = _trace_options(scenario, args)
    _model_refuses_trace(args, trace_opts.wanted, scenario)
    _distinct_outputs(_input_files(args.scenario, scenario), [
        ("--events", events_path), ("--pcap", trace_opts.pcap), ("--keys", trace_opts.keys)])
    for note in scenario.notes:
        print(f"ipsecsim: warning: {scenario.file}: {note}", file=sys.stderr)
    result = _simulate_with_progress(scenario, args)
    if trace_opts.wanted:  # first: a trace refused for an algorithm Wireshark lacks writes nothing
        from .trace.packets import write_trace
        with _output("--pcap / --keys", trace_opts.pcap or trace_opts.keys):
            written = write_trace(result, trace_opts)
        for line in written.lines():
            print(line, file=sys.stderr)
    if events_path:
        with _output("--events", events_path):
            write_events(events_path, result.events)
    if to_stdout:
        from .trace.jsonl import dumps
        for e in result.events:
            sys.stdout.write(dumps(e) + "\n")
        return 0
    report = result.check()
    if args.json:
        out = result.summary()
        out["expectations"] = [v.to_dict() for v in report]
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        from .check.report import render_run
        console = Console(highlight=False, soft_wrap=True)
        render(result, console, verbose=args.verbose, only=only)
        render_run(report, console)
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    """One peer of the scenario on real sockets against a real gateway (docs/live.md)."""
    from .live import LiveError, run_live
    from .live.runner import ignored_sections, live_scenario
    from .trace.jsonl import write_events
    from .trace.timeline import render
    to_stdout = args.events == "-"
    if to_stdout and args.json:
        raise ConfigError(None, "--events", "'-' writes the events to stdout, where --json writes the summary; "
                          "give a file name for one of them")
    scenario = load_scenario(args.scenario)
    live_scenario(scenario, args.peer)  # --peer names a peer of the scenario
    events_path = _writable(args.events, "--events") if args.events and not to_stdout else None
    trace_opts = _trace_options(scenario, args)
    _distinct_outputs(_input_files(args.scenario, scenario), [
        ("--events", events_path), ("--pcap", trace_opts.pcap), ("--keys", trace_opts.keys)])
    on_event = _live_printer(scenario) if sys.stderr.isatty() and not args.json else None
    try:
        result = run_live(scenario, args.peer, duration=args.duration, on_event=on_event,
                          delete_at_end=not args.keep)
    except LiveError as err:
        print(f"ipsecsim: error: {err}", file=sys.stderr)
        return 2
    skipped = ignored_sections(scenario)
    if skipped:
        print(f"live: not used in live mode (simulator only): {', '.join(skipped)}", file=sys.stderr)
    if trace_opts.wanted:
        from .trace.packets import write_trace
        for line in write_trace(result, trace_opts).lines():
            print(line, file=sys.stderr)
    if events_path:
        write_events(events_path, result.events)
    if to_stdout:
        from .trace.jsonl import dumps
        for e in result.events:
            sys.stdout.write(dumps(e) + "\n")
        return 0
    if args.json:
        json.dump(result.summary(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render(result, Console(highlight=False, soft_wrap=True), verbose=args.verbose)
    return 0


def _live_printer(scenario: Scenario):  # type: ignore[no-untyped-def]
    """One line on stderr per event as it happens (the full timeline follows at the end)."""
    from .trace.timeline import FORMATTERS, _generic, fmt_time
    names = {s.address: n for n, s in scenario.peers.items()}

    def show(e):  # type: ignore[no-untyped-def]
        if e.event == "message_received":
            return
        fmt = FORMATTERS.get(e.event)
        who, text = fmt(e, names) if fmt else (e.peer, _generic(e))
        print(f"{fmt_time(e.t)}  {who}  {text}", file=sys.stderr, flush=True)
    return show


def _simulate_with_progress(scenario: Scenario, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Simulate; on a terminal, a progress bar on stderr (simulated time) that disappears when
    done. The run is the same with or without it."""
    from .sim.runner import simulate
    engine = getattr(args, "engine", None) or "fast"
    crypto = getattr(args, "crypto", None) or "real"
    extra = {"traffic": args.traffic} if getattr(args, "traffic", None) else {}
    if not sys.stderr.isatty():
        return simulate(scenario, seed=args.seed, duration=getattr(args, "duration", None), engine=engine,
                        crypto=crypto, **extra)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    columns = (TextColumn("simulating {task.description}"), BarColumn(), TextColumn("{task.fields[at]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(scenario.name, total=1.0, at="")

        def advance(now: float, until: float) -> None:
            bar.update(task, completed=now / until, at=progress_text(now, until))

        return simulate(scenario, seed=args.seed, duration=getattr(args, "duration", None), progress=advance,
                        engine=engine, crypto=crypto, **extra)


def _model_refuses_trace(args: argparse.Namespace, wanted: bool, scenario: Scenario) -> None:
    if args.crypto == "model" and wanted:
        flag = "--pcap" if args.pcap else "--keys" if args.keys else None
        raise ConfigError(None if flag else scenario.file, flag or "trace", "--crypto model derives keys from hashes, "
                          "not real key exchange: its packets would not decrypt; allowed: --crypto real with a "
                          "packet trace")


def _fleet_pair(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """``--pair NAME``: that pair of the fleet as a scenario of its own."""
    from .fleet import build_fleet, pair_scenario
    if scenario.config.fleet is None:
        raise ConfigError(None, "--pair", f"{scenario.file} has no fleet: block; --pair names one pair of a fleet")
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
        args.seed = None  # the fleet's seed, from which the pair's own is drawn
    fleet = build_fleet(scenario)
    return pair_scenario(fleet, fleet.plan(args.pair))


def _run_fleet(scenario: Scenario, args: argparse.Namespace) -> int:
    """A fleet file without --pair: every pair, then the fleet summary (text or --json)."""
    from .check.evaluate import evaluate_summary
    from .fleet import build_fleet, render_fleet, run_fleet, summarize_fleet
    from .trace.timeline_filter import from_args
    only = from_args(args, list(scenario.peers), args.scenario)
    for flag, given in (("--events", args.events), ("--pcap", args.pcap), ("--keys", args.keys),
                        ("--since/--until/--peer/--event/--summary", only.active), ("-v", args.verbose)):
        if given:
            raise ConfigError(None, flag.split("/")[0], f"{scenario.file} is a fleet: {flag} is about one pair's "
                              "run; add --pair NAME (the fleet summary lists the worst pairs by name)")
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    for note in scenario.notes:
        print(f"ipsecsim: warning: {scenario.file}: {note}", file=sys.stderr)
    fleet = build_fleet(scenario)
    executor = args.executor or ("local" if args.jobs and args.jobs > 1 else "inline")
    rows = run_fleet(fleet, executor=executor, jobs=args.jobs or 1, scheduler=args.scheduler, engine=args.engine,
                     crypto=args.crypto, seed=args.seed, duration=args.duration)
    summary = summarize_fleet(fleet, rows, args.crypto)
    report = evaluate_summary(scenario.config.expect, summary)
    if args.json:
        summary["expectations"] = [v.to_dict() for v in report]
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        from .check.report import render_run
        console = Console(highlight=False, soft_wrap=True)
        console.print(render_fleet(summary), markup=False)
        render_run(report, console)
    return 0


def progress_text(now: float, until: float) -> str:
    """Simulated time done of the total, in days from a run of two days up."""
    if until >= 2 * 86400:
        return f"day {now / 86400:,.1f} of {until / 86400:,.1f}"
    return f"{now:,.0f} of {until:,.0f} s"


def cmd_check(args: argparse.Namespace) -> int:
    from .check.junit import write_junit
    from .check.report import render_checks
    from .check.runner import check_paths, exit_status, scenario_files
    junit_path = _writable(args.junit, "--junit") if args.junit else None
    if junit_path is not None:
        inputs = [Path(f).resolve() for f, err in scenario_files(args.paths) if not err]
        if junit_path.resolve() in inputs or junit_path.suffix in (".yaml", ".yml"):
            raise ConfigError(None, "--junit", f"{shown(args.junit)} is a scenario file; the report goes to "
                              "another file (e.g. report.xml)")
    from .fleet import fleet_summary
    from .sim.runner import simulate
    checks = render_checks(check_paths(args.paths, seed=args.seed, jobs=args.jobs, timeout=args.timeout,
                                       simulate=simulate, load=load_scenario, summarize_fleet=fleet_summary),
                           Console(highlight=False, soft_wrap=True), verbose=args.verbose)
    status = exit_status(checks)
    if junit_path and status != 2:
        with _output("--junit", junit_path):
            write_junit(junit_path, checks)
    elif junit_path:
        print(f"ipsecsim: error: --junit: {args.junit} not written: an input is bad (listed above)", file=sys.stderr)
    return status


def _trace_options(scenario: Scenario, args: argparse.Namespace) -> TraceOptions:
    """The scenario's ``trace:`` block with --pcap / --keys on top; paths checked before the run."""
    from .trace.options import TraceOptions
    opts = TraceOptions.build(scenario.config.trace, args.pcap, args.keys)
    for path, flag, key in ((opts.pcap, args.pcap, "pcap"), (opts.keys, args.keys, "keys")):
        if path is not None:
            try:
                _writable(str(path), f"--{key}")
            except ConfigError as e:
                raise (e if flag else ConfigError(scenario.file, f"trace.{key}", e.message)) from None
    return opts


def cmd_schema(args: argparse.Namespace) -> int:
    from .config.model import ScenarioConfig
    from .config.units import push_bounds
    schema = push_bounds(ScenarioConfig.model_json_schema(by_alias=True))
    peer = schema.get("$defs", {}).get("PeerConfig", {})
    if "required" in peer:  # a peer imported from vendor JSON gets these keys from the document
        peer["if"], peer["then"], peer["else"] = {"required": ["import"]}, {}, {"required": peer.pop("required")}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ipsecsim scenario"
    json.dump(schema, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    if args.action == "show":
        if not args.name:
            raise ConfigError(None, "profiles show", f"name a profile; available: {', '.join(profiles.names())}")
        from .config.profile_view import show
        show(profiles.load(args.name), console)
        return 0
    for name in profiles.names():
        p = profiles.load(name)
        console.print(f"{name:<20} {p.title}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .config.importers import import_file, read_json
    from .config.importers.render import scenario_yaml
    from .config.importers.render_ha import tunnels_yaml
    from .config.importers.tunnels import alibaba_tunnels, huawei_pair
    files: list[str] = args.file
    if args.vendor == "alibaba" and len(files) > 1:
        raise ConfigError(files[1], "", "alibaba: give one DescribeVpnConnection document (a dual-tunnel "
                          "connection lists both tunnels in TunnelOptionsSpecification)")
    if len(files) > 2:
        raise ConfigError(files[2], "", "huawei: give one vpn_connection, or the two connections (ha_role master "
                          "and slave, or master and master) of one VPN gateway")
    if len(files) == 2:
        if args.tunnel is not None:
            raise ConfigError(None, "--tunnel", "applies to Alibaba dual-tunnel connections")
        for f in files:  # each document is checked on its own first (enums, ranges, masks)
            import_file(f, args.vendor)
        pair = huawei_pair([(read_json(f), f) for f in files])
        sys.stdout.write(tunnels_yaml(pair))
        return 0
    imported = import_file(files[0], args.vendor, args.tunnel)
    if args.vendor == "alibaba" and args.tunnel is None:
        both = alibaba_tunnels(read_json(files[0]), files[0])
        if both is not None:
            sys.stdout.write(tunnels_yaml(both))
            return 0
    sys.stdout.write(scenario_yaml(imported, args.vendor))
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from .library import catalogue, markdown
    directory = args.directory
    if directory is None:  # the library in the working directory, else the one beside the package
        shipped = Path(__file__).resolve().parent.parent / "scenarios"
        directory = "scenarios" if Path("scenarios").is_dir() or not shipped.is_dir() else str(shipped)
    if not Path(directory).is_dir():
        raise ConfigError(directory, "", "not a directory of scenario files")
    entries = catalogue(directory)
    if not entries:
        raise ConfigError(directory, "", "no scenario files (*.yaml) in this directory")
    if args.markdown:
        sys.stdout.write(markdown(entries))
        return 0
    console = Console(highlight=False, soft_wrap=True)
    width = max(len(e.name) for e in entries)
    for e in entries:
        console.print(f"{e.name:<{width}}  {e.lesson}")
    return 0


def cmd_overhead(args: argparse.Namespace) -> int:
    from .overhead import report
    for line in report(args.proposals, args.mtu, args.mss, args.nat):
        print(line)
    return 0


def _address_arg(text: str) -> tuple[str, str]:
    import ipaddress
    name, sep, addr = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, str(ipaddress.ip_address(addr))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give PEER=ADDRESS (e.g. A=192.0.2.1), got {text!r}") from None


def cmd_compare(args: argparse.Namespace) -> int:
    from .trace.capture import read_capture
    from .trace.compare import compare_run, render
    scenario = load_scenario(args.scenario, duration=args.duration)
    capture = read_capture(args.capture)
    if not capture.messages:
        raise ConfigError(args.capture, "", "no IKE message in the capture (UDP 500, or 4500 with the non-ESP "
                          "marker)")
    simulated = {name: s.address for name, s in scenario.peers.items()}
    addresses = dict(simulated)
    for name, addr in args.address or []:
        if name not in addresses:
            raise ConfigError(None, "--address", f"{name!r} is not a peer of the scenario; one of "
                              f"{', '.join(addresses)}")
        addresses[name] = addr
    result = _simulate_with_progress(scenario, args)
    comparison = compare_run(result.transmissions, capture, simulated, addresses, args.at, args.tolerance, args.capture,
                             result.duration)
    if args.json:
        out = {"scenario": scenario.name, "capture": args.capture, **comparison.to_dict()}
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        title = (f"{scenario.name} (seed {result.seed}) against {args.capture}, captured at "
                 f"{comparison.capture_point}, tolerance ±{args.tolerance * 1000:g} ms")
        for line in render(comparison, title):
            print(line)
    return 0 if comparison.passed else 1


def cmd_verify(args: argparse.Namespace) -> int:
    from .trace.verify import main as verify_main
    return verify_main(args.trace, args.keys, args.json, args.tshark)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="ipsecsim", description="Simulate IPsec / IKE tunnels in simulated time.")
    ap.add_argument("--version", action="version", version=f"ipsecsim {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser("run", help="simulate a scenario and print its timeline")
    run.add_argument("scenario", help="scenario YAML file ('-': read it from standard input)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON (nothing else on stdout)")
    run.add_argument("--events", metavar="FILE", help="write every event as JSONL to FILE ('-': to stdout, "
                     "instead of the timeline)")
    run.add_argument("--seed", type=_seed_arg, metavar="N", help="override the scenario seed")
    run.add_argument("--duration", type=_duration_arg, metavar="TIME", help="override the simulated time (e.g. 2h); "
                     "faults and flows after it are dropped, with a warning")
    run.add_argument("-v", "--verbose", action="store_true", help="also show received messages")
    run.add_argument("--engine", choices=["fast", "simpy"], default="fast",
                     help="event loop: fast (callback loop, the default) or simpy (the same run on SimPy)")
    run.add_argument("--traffic", choices=["array", "packet"], default=None,
                     help="pings: array (a schedule moved between changes, the default) or packet (one event "
                     "per packet); the same run")
    run.add_argument("--pcap", metavar="FILE", help="write every message as a real packet (pcapng) to FILE; "
                     "overrides trace.pcap")
    run.add_argument("--keys", metavar="FILE", help="write the SA keys for Wireshark (JSON) to FILE; "
                     "overrides trace.keys")
    run.add_argument("--crypto", choices=["real", "model"], default="real",
                     help="key exchange: real (modular exponentiation, ECDH) or model (the same draws and "
                     "decisions from hashes, much faster; no --pcap/--keys)")
    run.add_argument("--pair", metavar="NAME", help="a fleet: run only this pair and print its timeline")
    run.add_argument("-j", "--jobs", type=_count_arg, metavar="N", help="a fleet: run its pairs in N worker "
                     "processes (same results as one)")
    run.add_argument("--executor", choices=["local", "dask"], help="a fleet: where the pairs run, local "
                     "processes or a dask cluster (a LocalCluster of --jobs workers, or --scheduler)")
    run.add_argument("--scheduler", metavar="ADDRESS", help="a fleet: the dask scheduler, tcp://HOST:8786")
    from .trace.timeline_filter import add_arguments as add_timeline_filters
    add_timeline_filters(run)
    run.set_defaults(func=cmd_run)
    live = sub.add_parser("live", help="run one peer of a scenario against a real gateway (UDP 500/4500, "
                          "wall clock; IKE only)", description="Run one peer of SCENARIO on real UDP sockets "
                          "(ports 500 and 4500 of its scenario address) against the real gateway at the other "
                          "peer's address, in wall-clock time. Keys and nonces come from the OS CSPRNG, not the "
                          "seed. IKE only: no ESP SA is installed. Ctrl-C ends the run (Deletes are sent) and "
                          "prints the timeline. Needs the right to bind port 500 (root).")
    live.add_argument("scenario", help="scenario YAML file")
    live.add_argument("--peer", required=True, metavar="NAME", help="the scenario peer to run here")
    live.add_argument("--duration", type=_duration_arg, metavar="TIME",
                      help="wall-clock bound of the run (default: the scenario duration)")
    live.add_argument("--json", action="store_true", help="print the summary as JSON (nothing else on stdout)")
    live.add_argument("--events", metavar="FILE", help="write every event as JSONL to FILE ('-': to stdout)")
    live.add_argument("--pcap", metavar="FILE", help="write every datagram sent and received (pcapng) to FILE")
    live.add_argument("--keys", metavar="FILE", help="write the SA keys for Wireshark (JSON) to FILE")
    live.add_argument("--keep", action="store_true", help="at the end, leave the SAs up (send no Delete)")
    live.add_argument("-v", "--verbose", action="store_true", help="also show received messages")
    live.set_defaults(func=cmd_live)
    check = sub.add_parser("check", help="run scenarios and check their expect: blocks (exit 1 if one fails)",
                           description="Run every scenario named (a directory means every *.yaml below it) "
                           "and check its expect: block. Exit 0 if all expectations are met, 1 if one is "
                           "not, 2 if an input is bad.")
    check.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or directories")
    check.add_argument("--junit", metavar="FILE", help="also write the verdicts as JUnit XML to FILE")
    check.add_argument("--seed", type=_seed_arg, metavar="N", help="override every scenario's seed")
    check.add_argument("-v", "--verbose", action="store_true", help="list met expectations too")
    check.add_argument("-j", "--jobs", type=_count_arg, default=1, metavar="N", help="run N scenarios at a time, "
                       "each in its own process (default 1)")
    check.add_argument("--timeout", type=_duration_arg, metavar="TIME", help="wall-clock limit per scenario (e.g. "
                       "60s); a scenario over it is stopped and reported as failed")
    check.set_defaults(func=cmd_check)
    imp = sub.add_parser("import", help="print the scenario equivalent to a vendor's VPN connection JSON")
    imp.add_argument("vendor", choices=["huawei", "alibaba"], help="huawei: a vpn_connection (request or response), "
                     "or the two connections of an active-standby / active-active gateway (ha_role); alibaba: a "
                     "DescribeVpnConnection response (both tunnels of a dual-tunnel connection)")
    imp.add_argument("file", nargs="+", help="the JSON file (huawei: one or two)")
    imp.add_argument("--tunnel", type=int, metavar="N", help="Alibaba dual-tunnel connections: import only the "
                     "tunnel with this TunnelIndex")
    imp.set_defaults(func=cmd_import)
    scen = sub.add_parser("scenarios", help="list the scenario library with the lesson of each")
    scen.add_argument("directory", nargs="?", help="directory of scenario files (default: ./scenarios, else the "
                      "library shipped with ipsecsim)")
    scen.add_argument("--markdown", action="store_true", help="print the catalogue as Markdown (docs/scenarios.md)")
    scen.set_defaults(func=cmd_scenarios)
    over = sub.add_parser("overhead", help="ESP overhead per algorithm and the largest packet / TCP MSS that fit "
                          "the path MTU", description="Per ESP proposal: the octets tunnel-mode ESP adds, the "
                          "largest inner packet and TCP MSS that cross the path MTU unfragmented (with and without "
                          "NAT traversal), and the ESP packet of a given MSS (default 1300, the Huawei Cloud FAQ).")
    over.add_argument("proposals", nargs="*", metavar="PROPOSAL", help="ESP proposals in strongSwan syntax "
                      "(e.g. aes128-sha256, aes256gcm16); default: a representative list")
    over.add_argument("--mtu", type=int, default=1500, help="path MTU in octets (default 1500, Ethernet)")
    over.add_argument("--mss", type=int, default=1300, help="TCP MSS to check (default 1300)")
    over.add_argument("--nat", action="store_true", help="only ESP in UDP (NAT traversal, RFC 3948)")
    over.set_defaults(func=cmd_overhead)
    comp = sub.add_parser("compare", help="hold a simulated run against a real capture, message by message "
                          "(exit 1 if they differ)", description="Simulate the scenario and align its IKE messages "
                          "with the capture's (headers in the clear: exchange, request or response, message id, "
                          "retransmissions, IKE SA), as seen at the capture point; print the time difference of "
                          "each message and every difference in sequence. Exit 0 when the sequences are identical "
                          "and every message is within the tolerance, 1 otherwise, 2 for bad input.")
    comp.add_argument("scenario", help="scenario YAML file with the same configuration as the captured gateways")
    comp.add_argument("capture", help="pcap or pcapng file of the real exchange")
    comp.add_argument("--tolerance", type=_tolerance_arg, default=0.010, metavar="TIME",
                      help="largest time difference accepted per message (default 10ms)")
    comp.add_argument("--at", metavar="PEER", help="the peer where the capture was taken (default: the sender of "
                      "its first IKE message)")
    comp.add_argument("--address", type=_address_arg, action="append", metavar="PEER=ADDRESS",
                      help="the address a peer has in the capture, when it is not the scenario's")
    comp.add_argument("--seed", type=_seed_arg, metavar="N", help="override the scenario seed")
    comp.add_argument("--duration", type=_duration_arg, metavar="TIME", help="override the simulated time")
    comp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    comp.set_defaults(func=cmd_compare)
    from .report.cli import add_parsers as add_report_parsers
    add_report_parsers(sub, _duration_arg, _seed_arg)
    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.set_defaults(func=cmd_schema)
    prof = sub.add_parser("profiles", help="list vendor profiles, or show one with its sources")
    prof.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    prof.add_argument("name", nargs="?")
    prof.set_defaults(func=cmd_profiles)
    ver = sub.add_parser("verify", help="decrypt and verify a written trace with tshark (exit 1 if a packet fails)",
                         description="Open a trace written by 'ipsecsim run --pcap F --keys K' with tshark, decrypt "
                         "every ESP packet, IKEv2 SK payload and encrypted IKEv1 message with the keys file and check "
                         "its integrity. Exit 0 if all verify (or are marked as beyond Wireshark), 1 if one fails, 2 "
                         "if an input is bad or tshark is missing.")
    ver.add_argument("trace", help="the pcapng / pcap file")
    ver.add_argument("--keys", metavar="FILE", help="the keys file of the trace (without it: dissection only)")
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    ver.add_argument("--tshark", metavar="PATH", help="the tshark to run (default: tshark on the PATH)")
    ver.set_defaults(func=cmd_verify)
    from .sweep.command import add_commands
    add_commands(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a bad flag: one line, SystemExit(2)
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"ipsecsim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:  # an output that became unwritable during the run (disk full, removed directory)
        where = f"{shown(e.filename)}: " if e.filename else ""
        print(f"ipsecsim: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
