"""Fuzzing the scenario loader and the command line (hypothesis).

The shipped scenarios are mutated (a key deleted or replaced; a value swapped for NaN,
infinity, a huge, negative or zero number, a wrong type, an odd string, deep nesting; the
file replaced by binary garbage, cut short, given a duplicate key or an alias bomb) and run
through ``ipsecsim.cli.main`` in-process with a short ``--duration``; random argv is given to
``run`` and ``check``. Whatever the input, the command line either succeeds (exit 0, or 1 for
``check``) or refuses it with exit 2 and exactly one line on stderr naming the file; never a
traceback, never a run past a wall-clock bound.

The default profile (CI) runs a few hundred examples in about a minute; ``IPSECSIM_FUZZ=long``
selects tens of thousands (``IPSECSIM_FUZZ_EXAMPLES=N`` sets the number).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SCENARIOS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipsecsim.cli import main

_LONG = os.environ.get("IPSECSIM_FUZZ") == "long"
settings.register_profile("ipsecsim-ci", max_examples=120, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("ipsecsim-long", max_examples=int(os.environ.get("IPSECSIM_FUZZ_EXAMPLES", "20000")),
                          deadline=None, database=None, suppress_health_check=list(HealthCheck))
PROFILE = settings.get_profile("ipsecsim-long" if _LONG else "ipsecsim-ci")

WALL_LIMIT = 60 if _LONG else 30
"""Seconds one command may take (a 20 s simulated run takes well under a second)."""
DURATION = "20s"

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
DOCS = {p.name: yaml.safe_load(p.read_text()) for p in SHIPPED}

ODD_VALUES: list[Any] = [
    math.nan, math.inf, -math.inf, 1e308, -1e308, 10**30, -(10**30), 2**64, -1, -0.5, 0, 0.0, 1e-300, 5e-324,
    "nan", "inf", ".inf", "-inf", "1e999", "1e400GB", "1e400", "9" * 400 + "s", "1ns", "0s", "0ms", "1e-9s",
    "1Tbit/s", "1000Tbit/s", "0bit/s", "999999999999999999%", "0%", "-5%", "1h30m", "1 H", "5s\n", "",
    " ", "\x00", "ä" * 3, "🙂", "x" * 5000, True, False, None, [], {}, [None], {"a": 1}, [[[[[]]]]],
    {"initiator": math.nan, "responder": 1}, "2020-13-45", b"\xff\xfe".decode("latin-1"),
]


def _deep(n: int) -> Any:
    value: Any = "x"
    for _ in range(n):
        value = [value]
    return value


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


INSERT_KEYS = ["delay", "jitter", "interval", "rate", "every", "length", "bytes", "timeout", "retries", "life_bytes",
               "rekey_bytes", "life_time", "rekey_time", "life_packets", "rekey_packets", "rand_time", "over_time",
               "rekey_margin", "rekey_fuzz", "start", "stop", "at", "duration", "nat_keepalive", "keyingtries", "seed",
               "mtu", "loss", "mean_good", "waits", "limit", "base", "tries", "retry_interval", "mapping_timeout",
               "size", "packet_size", "half_open_timeout", "delete_rekeyed_delay", "nonce_bytes", "acquire_queue",
               "epoch", "first", "last", "between", "after", "before", "count", "min", "max", "equals"]


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated_scenario(draw: st.DrawFn) -> bytes:
    """A shipped scenario, mutated; returned as the bytes of a file."""
    name = draw(st.sampled_from(sorted(DOCS)))
    doc = yaml.safe_load(yaml.safe_dump(DOCS[name]))
    kind = draw(st.sampled_from(["value", "value", "value", "insert", "insert", "delete", "key", "deep", "file"]))
    if kind == "file":
        text = yaml.safe_dump(doc, sort_keys=False).encode()
        how = draw(st.sampled_from(["garbage", "cut", "duplicate", "bomb", "nested", "empty", "latin1"]))
        if how == "garbage":
            return draw(st.binary(min_size=1, max_size=200))
        if how == "cut":
            return text[: draw(st.integers(0, len(text)))]
        if how == "duplicate":
            return text + b"name: again\n"
        if how == "bomb":
            lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
            lines += [f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
            return ("\n".join(lines) + "\nname: *i\n").encode()
        if how == "nested":
            depth = draw(st.integers(50, 3000))
            return b"name: " + b"[" * depth + b"]" * depth + b"\n"
        if how == "empty":
            return b""
        return text.replace(b"name: ", "name: \u00e9".encode("latin-1"), 1)
    paths = _paths(doc)[1:]
    path = draw(st.sampled_from(paths))
    if kind == "delete":
        doc = _set(doc, path, None, delete=True)
    elif kind == "key":
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, dict):
            new = draw(st.sampled_from(["tiemout", "", "0", "peers", "__class__", "x" * 300]))
            parent[new] = parent.pop(path[-1])
    elif kind == "insert":  # a field the file does not set, with an odd value
        parents = [p for p in [(), *paths] if isinstance(_get(doc, p), dict)]
        parent = _get(doc, draw(st.sampled_from(parents)))
        key = draw(st.sampled_from(INSERT_KEYS))
        parent[key] = draw(st.one_of(st.sampled_from(ODD_VALUES), st.floats(), st.integers()))
    elif kind == "deep":
        doc = _set(doc, path, _deep(draw(st.integers(10, 200))), delete=False)
    else:
        value = draw(st.one_of(st.sampled_from(ODD_VALUES), st.floats(), st.integers(), st.text(max_size=30)))
        doc = _set(doc, path, value, delete=False)
    try:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    except RecursionError:
        return b"name: [" + b"[" * 2000 + b"\n"


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang


def run_cli(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """``main(argv)`` in-process with a wall-clock guard; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_in = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(WALL_LIMIT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
    except _Hang:
        pytest.fail(f"ipsecsim {' '.join(argv)} ran longer than {WALL_LIMIT} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        sys.stdin = old_in
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, out: str, err: str, argv: list[str], names: tuple[str, ...], ok: tuple[int, ...]) -> None:
    assert "Traceback" not in err and "Traceback" not in out, (argv, err)
    assert code in (*ok, 2), (argv, code, err)
    lines = err.splitlines()
    if code == 2 and argv[0] == "run":
        assert len(lines) - sum(x.startswith("ipsecsim: warning: ") for x in lines) == 1, (argv, err)
        line = lines[-1]
        assert line.startswith("ipsecsim: error: "), (argv, err)
        assert any(n in line for n in names), (argv, err)
        assert len(line) < 2100, (argv, len(line))
    elif code != 2:
        assert all(x.startswith("ipsecsim: warning: ") for x in lines), (argv, err)


@pytest.fixture(scope="module")
def workdir():  # type: ignore[no-untyped-def]
    """A directory with the shipped vendor documents (scenarios import them by relative path)."""
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(SCENARIOS / "vendor", Path(d) / "vendor")
        here = os.getcwd()
        os.chdir(d)  # traces a scenario names (trace: pcap) land here
        try:
            yield Path(d)
        finally:
            os.chdir(here)


@PROFILE
@given(data=mutated_scenario(), via_stdin=st.booleans())
def test_a_mutated_scenario_runs_or_is_refused_in_one_line(workdir: Path, data: bytes, via_stdin: bool) -> None:
    path = workdir / "s.yaml"
    path.write_bytes(data)
    argv = ["run", "-" if via_stdin else str(path), "--duration", DURATION, "--json"]
    code, out, err = run_cli(argv, stdin=data)
    # the file named is the scenario, or a vendor document it imports (vendor/*.json)
    assert_clean(code, out, err, argv, ("<stdin>" if via_stdin else str(path), "vendor/"), ok=(0,))
    if code == 0:
        assert "NaN" not in out and "Infinity" not in out


FLAG_VALUES = ["0", "-1", "nan", "inf", "1e999", "NaN", "1ns", "1e-300", "10d", "3650d", "3651d", "abc", "",
               "9" * 50, "1", "2", "65", "0.5s", "-", "/", "/nonexistent/dir/x", "x" * 300, "\x00", "ä"]


@st.composite
def run_argv(draw: st.DrawFn) -> list[str]:
    scenario = draw(st.sampled_from([str(SCENARIOS / "ikev2-basic.yaml"), str(SCENARIOS / "nat-traversal.yaml"),
                                     "-", "/nonexistent.yaml", str(SCENARIOS), "", "x" * 300]))
    argv = ["run", scenario]
    flags = draw(st.lists(st.sampled_from(["--duration", "--seed", "--events", "--json", "--pcap", "--keys", "-v",
                                           "--bogus"]), max_size=4))
    for f in flags:
        argv.append(f)
        if f in ("--duration", "--seed", "--events", "--pcap", "--keys"):
            argv.append(draw(st.sampled_from([*FLAG_VALUES, scenario, "out.jsonl"])))
    # argparse checks every --duration given and keeps the last: a drawn one is still refused or
    # accepted, and the run is short (a 10-year run is allowed, and as long as it says)
    return [*argv, "--duration", DURATION]


@st.composite
def check_argv(draw: st.DrawFn) -> list[str]:
    paths = draw(st.lists(st.sampled_from([str(SCENARIOS / "ikev2-basic.yaml"), "/nonexistent.yaml", "",
                                           "x" * 300, "bad.yaml"]), min_size=1, max_size=2))
    argv = ["check", *paths]
    for f in draw(st.lists(st.sampled_from(["--seed", "--junit", "-j", "--timeout", "-v"]), max_size=3)):
        argv.append(f)
        if f != "-v":
            argv.append(draw(st.sampled_from([*FLAG_VALUES, *paths, "report.xml"])))
    return argv


@PROFILE
@given(argv=st.one_of(run_argv(), check_argv()))
def test_random_argv_runs_or_is_refused_in_one_line(workdir: Path, argv: list[str]) -> None:
    (workdir / "bad.yaml").write_text("name: [\n")
    scenario_before = (workdir / "bad.yaml").read_bytes()
    basic = (SCENARIOS / "ikev2-basic.yaml").read_bytes()
    code, _, err = run_cli(argv, stdin=basic)
    lines = err.splitlines()
    assert "Traceback" not in err, (argv, err)
    if argv[0] == "run":
        assert code in (0, 2), (argv, code, err)
        if code == 2:
            errors = [x for x in lines if not x.startswith("ipsecsim: warning: ")]
            assert len(errors) == 1 and errors[0].startswith("ipsecsim: error: "), (argv, err)
    else:
        assert code in (0, 1, 2), (argv, code, err)
        assert all(x.startswith("ipsecsim: error: ") for x in lines), (argv, err)
    # nothing a user has is overwritten: the scenario files named are intact
    assert (workdir / "bad.yaml").read_bytes() == scenario_before
    assert (SCENARIOS / "ikev2-basic.yaml").read_bytes() == basic
