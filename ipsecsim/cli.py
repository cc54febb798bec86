"""The ``ipsecsim`` command line: run, check, import, scenarios, overhead, schema, profiles.

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
    events_path = _writable(args.events, "--events") if args.events and not to_stdout else None
    trace_opts = _trace_options(scenario, args)
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
        render(result, console, verbose=args.verbose)
        render_run(report, console)
    return 0


def _simulate_with_progress(scenario: Scenario, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Simulate; on a terminal, a progress bar on stderr (simulated time) that disappears when
    done. The run is the same with or without it."""
    from .sim.runner import simulate
    if not sys.stderr.isatty():
        return simulate(scenario, seed=args.seed)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    columns = (TextColumn("simulating {task.description}"), BarColumn(), TextColumn("{task.fields[at]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(scenario.name, total=1.0, at="")

        def advance(now: float, until: float) -> None:
            bar.update(task, completed=now / until, at=progress_text(now, until))

        return simulate(scenario, seed=args.seed, progress=advance)


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
    checks = render_checks(check_paths(args.paths, seed=args.seed, jobs=args.jobs, timeout=args.timeout),
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
    run.add_argument("--pcap", metavar="FILE", help="write every message as a real packet (pcapng) to FILE; "
                     "overrides trace.pcap")
    run.add_argument("--keys", metavar="FILE", help="write the SA keys for Wireshark (JSON) to FILE; "
                     "overrides trace.keys")
    run.set_defaults(func=cmd_run)
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
    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.set_defaults(func=cmd_schema)
    prof = sub.add_parser("profiles", help="list vendor profiles, or show one with its sources")
    prof.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    prof.add_argument("name", nargs="?")
    prof.set_defaults(func=cmd_profiles)
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
