"""Vendor documents, mutated at random, through ``ipsecsim import`` (in-process) and back through ``run``.

The property (the product's standard for bad input, README "Vendor import"): a document either
imports with exit status 0 and the printed scenario loads and runs, or it is refused with exit
status 2 and exactly one line on stderr naming the file (and the JSON field); never a traceback,
never a hang. The same holds for ``peers: {NAME: {import: FILE}}`` in a scenario: it loads and
runs, or the loader raises one ConfigError.

The mutations start from the shipped examples (scenarios/vendor/, the Huawei Cloud API and Alibaba
Cloud API DescribeVpnConnection response examples): a field replaced by another field's value, an
enum value of another field, a boundary of a documented range (Huawei lifetime_seconds 60-604800,
30-604800, Dpd timeout 2-60 / interval 10-3600, PolicyRule rule_index 0-50; Alibaba IkeLifetime /
IpsecLifetime 0-86400), a masked or empty string, an over-long number, a deleted key, a duplicated
array entry; and at the text level a duplicated key, deep nesting, bytes that are not UTF-8.

A few hundred examples by default (about a minute); ``IPSECSIM_FUZZ=long`` runs thousands.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from conftest import SCENARIOS
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ipsecsim import ConfigError, load_scenario, simulate
from ipsecsim.cli import main
from ipsecsim.config.importers import import_file
from ipsecsim.config.importers.render import cloud_peer, customer_peer

VENDOR = SCENARIOS / "vendor"
DOCS = {p.name: ("huawei" if p.name.startswith("huawei") else "alibaba", json.loads(p.read_text()))
        for p in sorted(VENDOR.glob("*.json"))}
PAIR = ("huawei-active-standby-master.json", "huawei-active-standby-slave.json")
LONG = os.environ.get("IPSECSIM_FUZZ") == "long"
RUN_FOR = 20.0  # simulated seconds: enough for IKE and the first CHILD SA of every example document
HANG = 60  # wall-clock seconds one example may take before it counts as a hang

FUZZ = settings(max_examples=4000 if LONG else 250, deadline=None, derandomize=not LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v)
    else:
        yield node


# every value of every example (an enum value of one field tried in another), and values at the edges
SEEN = sorted({json.dumps(v) for _, d in DOCS.values() for v in _leaves(d)})
EDGES = [0, -1, 1, 2, 9, 10, 29, 30, 50, 51, 59, 60, 61, 3600, 3601, 86400, 86401, 604800, 604801, 2 ** 63,
         "", " ", "****", "10.***.***.1", "47.XX.XX.1", "123***", "x" * 200, "a\nb", "0.0.0.0/0", "10.0.0.0/8",
         "192.168.0.0/16,10.0.0.0/8", ",", "1.2.3.4", "192.0.2.1", "198.51.100.1", "0.0.0.0", "::1", "true",
         "false", "86400", "-1", "٣", "1" * 5000, "ikev2", "v1", "aggressive", "fqdn", "ip", "master", "slave",
         "aes-256-gcm-16", "sm4", "group24", "disable", "disabled", "STATIC", "BGP", "POLICY-TEMPLATE", "連接",
         1.5, float("inf"), True, False, None, [], {}, [""], ["10.0.0.0/24"], ["10.0.0.0/33"]]
scalars = st.one_of(st.sampled_from(SEEN).map(json.loads), st.sampled_from(EDGES), st.text(max_size=12),
                    st.integers(min_value=-(10 ** 6), max_value=10 ** 7))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["a", "Psk", "destination", "TunnelIndex"]), inner, max_size=2), max_leaves=4)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        op = draw(st.sampled_from(["set", "set", "set", "delete", "copy"]))
        if op == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == "copy" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = copy.deepcopy(draw(values))  # EDGES holds lists: never share them
    return doc


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    """(vendor, the bytes of one file, or of two for a Huawei HA pair)."""
    name = draw(st.sampled_from(sorted(DOCS)))
    vendor, doc = DOCS[name]
    text = json.dumps(draw(mutated(doc)), ensure_ascii=draw(st.booleans()))
    how = draw(st.sampled_from(["json"] * 8 + ["duplicate", "deep", "bytes", "cut"]))
    if how == "duplicate":  # the first key given twice, with another value
        at = text.find('"', text.find("{"))
        if at > 0:
            end = text.find(":", at)
            text = text[:at] + text[at:end] + ": " + json.dumps(draw(values)) + ", " + text[at:]
    elif how == "deep":
        depth = draw(st.sampled_from([31, 33, 2000, 100000]))
        text = text[:-1] + ', "Tags": ' + "[" * depth + "]" * depth + "}"
    elif how == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    data = text.encode()
    if how == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    files = [data]
    if vendor == "huawei" and name in PAIR and draw(st.booleans()):
        files.append(Path(VENDOR / PAIR[1 - PAIR.index(name)]).read_bytes())
    return vendor, files


@contextlib.contextmanager
def no_hang() -> Iterator[None]:
    def hang(*_: Any) -> None:
        raise AssertionError(f"no answer within {HANG} s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def _write(directory: str, files: list[bytes]) -> list[str]:
    paths = []
    for i, data in enumerate(files):
        p = Path(directory) / f"doc{i}.json"
        p.write_bytes(data)
        paths.append(str(p))
    return paths


def _refused_in_one_line(err: str, files: list[str]) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert any(lines[0].startswith(f"ipsecsim: error: {f}: ") for f in files), err
    assert "Traceback" not in err and len(lines[0]) < 1000, err


@FUZZ
@given(documents())
def test_an_import_runs_or_is_refused_in_one_line(doc: tuple[str, list[bytes]]) -> None:
    vendor, files = doc
    with tempfile.TemporaryDirectory() as d, no_hang():
        paths = _write(d, files)
        rc, out, err = cli("import", vendor, *paths)
        if rc == 2:
            _refused_in_one_line(err, paths)
            event("refused (exit 2, one line)")
            return
        assert rc == 0 and err == "", err
        scenario = Path(d) / "imported.yaml"
        scenario.write_text(out)
        r = simulate(load_scenario(scenario), duration=RUN_FOR)  # a ConfigError here fails the test
        assert r.summary() is not None
        event("imported (exit 0) and ran")


@settings(FUZZ, max_examples=2000 if LONG else 100)
@given(documents())
def test_a_scenario_import_runs_or_is_refused_with_one_error(doc: tuple[str, list[bytes]]) -> None:
    """``peers: {cloud: {import: FILE, ...}}`` with the values the document masks or lacks given in the
    scenario (the placeholders ``ipsecsim import`` prints): it loads and runs, or one ConfigError."""
    vendor, files = doc
    with tempfile.TemporaryDirectory() as d, no_hang():
        path = _write(d, files[:1])[0]
        try:
            imp = import_file(path, vendor)
        except ConfigError as e:
            assert e.file == path and "\n" not in str(e)
            event("refused by the importer")
            return
        rendered, _ = cloud_peer(imp)
        cloud: dict[str, Any] = {"import": {"file": path, "vendor": vendor}}
        for target in [*imp.masked, *imp.missing, "remote_address", "local_subnets", "remote_subnets"]:
            node: Any = rendered
            for part in target.split("."):
                node = node[part]
            here = cloud
            *parents, leaf = target.split(".")
            for part in parents:
                here = here.setdefault(part, {})
            here[leaf] = node
        customer = {"profile": "strongswan", "address": rendered["remote_address"], "start": "initiate",
                    "local_subnets": rendered["remote_subnets"], "remote_subnets": rendered["local_subnets"],
                    "ike": {k: v for k, v in rendered["ike"].items() if k in ("version", "mode", "proposals", "psk")}}
        if "child" in rendered:
            customer["child"] = {"proposals": rendered["child"]["proposals"]}
        if rendered["ike"].get("remote_id"):
            customer["ike"]["local_id"] = rendered["ike"]["remote_id"]
        if "bgp" in rendered:  # a BGP session needs both ends: the mirrored end ipsecsim import prints
            customer["bgp"] = {**customer_peer(rendered)["bgp"], "passive": True}  # the cloud end connects
            cloud["import"]["bgp"] = True
        scenario = Path(d) / "s.yaml"
        scenario.write_text(yaml.safe_dump({"name": "fuzz", "duration": "20s",
                                            "peers": {"cloud": cloud, "customer": customer}}))
        simulate(load_scenario(scenario), duration=RUN_FOR)
        event("loaded and ran")
