"""Scenario files in, validated ``Scenario`` out; every problem becomes one ConfigError.

Order of precedence for a peer's values: the scenario file, then its vendor profile, then
the model defaults. Profile limits (a vendor API's accepted ranges) are checked last, on
the effective values.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, one_line, shown
from ..proto import proposals as P
from ..proto.cpu import COST_TABLES, CpuCosts
from ..proto.dpd import DpdSettings
from ..proto.retransmit import RetransmitSchedule
from ..proto.settings import ChildSettings, Identity, IkeSettings, PeerSettings
from ..proto.ts import selectors
from ..spec import RunSpec
from ..vocabulary import suggest
from . import lifetimes, profiles
from .bgp import bgp_problems
from .cpu import CpuConfig
from .fleet import fleet_problems
from .ha import ha_problems
from .ikev1_check import check_ikev1
from .model import PeerConfig, ScenarioConfig, traffic_problems
from .nat import nat_problems
from .runspec import run_spec
from .topology import fault_problems, late_problems, pairing_problems, partner_map
from .units import format_duration, parse_duration, parse_size


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the file's model plus each peer's effective core settings."""

    config: ScenarioConfig
    file: str | None
    peers: dict[str, PeerSettings]
    reconfigured: dict[int, PeerSettings] = field(default_factory=dict)
    """Settings a ``reconfigure`` or ``recreate`` fault (by its index in ``faults``) switches its
    peer to."""
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """The scenario as written (before profiles were applied), for ``replace``."""
    notes: tuple[str, ...] = ()
    """What a duration given on the command line drops (faults and flows after its end)."""
    start_at: float = 0.0
    """When the peers start (a fleet pair's start offset; its flows and faults are shifted by the same)."""

    @cached_property
    def spec(self) -> RunSpec:
        """What the simulator runs of this scenario (spec/): plain values, every default resolved."""
        return run_spec(self.config, self.peers, self.reconfigured, self.start_at, self.file, self.notes)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def duration(self) -> float:
        return self.config.duration

    def with_seed(self, seed: int) -> Scenario:
        return Scenario(self.config.model_copy(update={"seed": seed}), self.file, self.peers, self.reconfigured,
                        self.raw, self.notes, self.start_at)

    def replace(self, overrides: Mapping[str, Any] | None = None, /, **top: Any) -> Scenario:
        """A new scenario with values overridden, validated like a file (ConfigError if not valid).

        ``overrides`` maps dotted paths (``"peers.A.retransmit.tries": 3``) or nested mappings
        onto values; keyword arguments override top-level keys (``seed=7, duration="10m"``).
        Profiles are applied again, so ``{"peers.A.profile": "huawei-cloud"}`` changes every
        default that profile sets. Lists are replaced whole.
        """
        base = self.raw if self.raw is not None else self.config.model_dump(by_alias=True, exclude_unset=True)
        return load_scenario(base, overrides={**(overrides or {}), **top}, file=self.file)


MAX_FILE_BYTES = 4_000_000
"""The largest scenario file read (the shipped ones are below 10 kB)."""
MAX_NODES = 100_000
"""The most values a scenario may hold once YAML aliases are expanded (refuses alias bombs)."""
MAX_DEPTH = 40
"""The deepest nesting of mappings and lists (the format itself needs 8)."""
STDIN = "<stdin>"


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, column: int, first: int):
        self.key, self.line, self.column, self.first = key, line, column, first


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping (YAML 1.2 3.2.1.1:
    keys are unique; PyYAML would keep the last silently). Keys merged in with ``<<`` may be
    overridden, as YAML merge keys intend."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1, key_node.start_mark.column + 1, seen[key])
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # unhashable: PyYAML reports it
                pass
        return super().construct_mapping(node, deep=deep)


def read_text(path: str | Path) -> str:
    """A scenario file's text (``-``: standard input); ConfigError when it cannot be read."""
    name = STDIN if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read(MAX_FILE_BYTES + 1) if stream is not None else \
                sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8", "surrogateescape")
        else:
            with Path(path).open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(name, "", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(name, "", "is a directory, not a scenario file") from None
    except (OSError, ValueError) as e:
        raise ConfigError(name, "", f"cannot read: {getattr(e, 'strerror', None) or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(name, "", f"larger than {MAX_FILE_BYTES:,} bytes; a scenario file is a short YAML text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(name, f"line {line}", f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                          "a scenario file is YAML in UTF-8") from None


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path`` (``-``: standard input) as Python values; ConfigError for
    text that is not YAML, a duplicate key, or a document too deep or too large once its
    aliases are expanded."""
    name = STDIN if str(path) == "-" else str(path)
    text = read_text(path)
    try:
        data = yaml.load(text, Loader=_Loader)
    except _DuplicateKey as e:
        raise ConfigError(name, f"line {e.line}, column {e.column}",
                          f"duplicate key {shown(e.key)} (first given at line {e.first}); a key may appear once "
                          "in a mapping") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(name, where, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(name, "", f"nested too deeply; at most {MAX_DEPTH} levels of mappings and lists") from None
    except (ValueError, OverflowError, TypeError) as e:  # a bad !!timestamp, !!int ...
        raise ConfigError(name, "", f"invalid YAML value: {one_line(str(e), 200)}") from None
    check_size(data, name)
    return data


def _json_numbers(value: Any) -> Any:
    """Whole floats as integers (``2.0`` -> ``2``): JSON does not tell them apart (RFC 8259 6),
    nor does ``ipsecsim schema`` ("integer" is any number without a fraction), so the loader
    does not either."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    return value


def check_size(data: Any, file: str | None) -> None:
    """ConfigError if ``data`` nests deeper than MAX_DEPTH or holds more than MAX_NODES values
    (counting each use of a YAML alias); stops counting at the limit, so a bomb costs little."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError(file, "", f"more than {MAX_NODES:,} values once YAML aliases (*name) are expanded; "
                              "a scenario is far smaller (an alias bomb?)")
        if isinstance(value, dict | list | tuple | set | frozenset):
            if depth > MAX_DEPTH:
                raise ConfigError(file, "", f"nested too deeply; at most {MAX_DEPTH} levels of mappings and lists")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else list(value)
            stack.extend((v, depth + 1) for v in items)


def load_scenario(source: str | Path | dict[str, Any], overrides: Mapping[str, Any] | None = None,
                  *, file: str | None = None, duration: float | None = None) -> Scenario:
    """Load and validate a scenario from a YAML file path (``-``: standard input) or an
    already parsed dict.

    ``overrides`` replaces values before validation: dotted paths such as
    ``{"peers.B.ike.psk": "other", "duration": "10m"}`` or nested mappings (see
    ``Scenario.replace``). ``file`` names a dict's origin in error messages. ``duration``
    (``ipsecsim run --duration``) replaces the file's and is the one everything is checked
    against; faults and flows after its end are dropped and listed in ``Scenario.notes``.
    """
    data, file = _source_data(source, file)
    origin = file
    if overrides:
        data = deep_merge(data, expand_dotted(overrides))
        file = f"{file or 'scenario'} (with overrides)"
    data = _json_numbers(data)
    raw = copy.deepcopy(data)
    if duration is not None:
        data["duration"] = duration
    data = _apply_profiles(data, file, origin)
    try:
        cfg = ScenarioConfig.model_validate(data)
    except ValidationError as e:
        raise _config_error(e, file) from None
    notes = _cross_checks(cfg, file, duration)
    part = partner_map(cfg.peers)
    peers = {n: build_peer(n, cfg.peers[n], _seen_from(cfg, part[n])) for n in cfg.peers}
    reconfigured = _reconfigured_peers(cfg, data, file, part)
    return Scenario(cfg, origin, peers, reconfigured, raw, tuple(notes))


def _source_data(source: str | Path | dict[str, Any], file: str | None) -> tuple[dict[str, Any], str | None]:
    """The scenario mapping of a path (``-``: standard input) or a dict, and the file name for errors."""
    if isinstance(source, dict):
        check_size(source, file)
        data = copy.deepcopy(source)
    else:
        data, file = read_yaml(source), STDIN if str(source) == "-" else str(source)
    if not isinstance(data, dict):
        raise ConfigError(file, "", f"a scenario is a mapping of keys (name, duration, peers ...), "
                          f"got {type(data).__name__}")
    return data, file


def _cross_checks(cfg: ScenarioConfig, file: str | None, duration: float | None) -> list[str]:
    """What a valid ScenarioConfig can still get wrong across its sections, in order (each check relies
    on the one before); the notes for faults and flows a shorter ``duration`` drops."""
    notes: list[str] = []
    for path, problem, what in late_problems(cfg):
        if duration is None:
            raise ConfigError(file, path, problem)
        notes.append(f"{what} is not before the end of the run ({duration:g} s, --duration): dropped")
    if cfg.fleet is not None:
        has = {"ha": bool(cfg.ha), "bgp": any(p.bgp for p in cfg.peers.values()), "nat": cfg.link.nat is not None}
        for path, problem in fleet_problems(cfg.fleet, list(cfg.peers), cfg.duration, has):
            raise ConfigError(file, path, problem)
        for i, exp in enumerate(cfg.expect):
            if exp.kind != "summary":
                raise ConfigError(file, f"expect[{i}]", f"a fleet is checked on its summary; allowed: summary: "
                                  f"{{path: fleet..., min/max/equals}} (docs/fleet.md), not {exp.kind}:")
    for check in (pairing_problems, fault_problems, ha_problems, bgp_problems, traffic_problems):
        for path, problem in check(cfg):
            raise ConfigError(file, path, problem)
    for path, problem in nat_problems(cfg.link.nat, {n: (p.address, p.remote_address) for n, p in cfg.peers.items()}):
        raise ConfigError(file, path, problem)
    for name, peer in cfg.peers.items():
        _check_peer(file, name, peer)
    return notes


def _reconfigured_peers(cfg: ScenarioConfig, data: dict[str, Any], file: str | None,
                        part: dict[str, str]) -> dict[int, PeerSettings]:
    """The peer each reconfigure / recreate fault makes (by fault index), its changes applied in time
    order on top of the earlier ones."""
    reconfigured = {}
    current = {n: data["peers"][n] for n in cfg.peers}  # each peer's settings as the faults change them
    for i, f in sorted(enumerate(cfg.faults), key=lambda x: (x[1].at, x[0])):
        if f.kind in ("reconfigure", "recreate") and f.peer and f.set is not None:
            peer_raw = deep_merge(current[f.peer], f.set)
            changed = _changed_peer(file, i, f.kind, f.peer, f.set, current[f.peer], peer_raw)
            current[f.peer] = peer_raw
            other = _seen_from(cfg, part[f.peer])
            reconfigured[i] = build_peer(f.peer, changed, other)
    return reconfigured


def _changed_peer(file: str | None, i: int, kind: str, peer: str, changes: dict[str, Any],
                  was_raw: dict[str, Any], peer_raw: dict[str, Any]) -> PeerConfig:
    """Fault ``i``'s peer with its ``set`` applied, checked like a peer of the file; errors name faults[i].set."""
    try:
        changed = PeerConfig.model_validate(peer_raw)
    except ValidationError as e:
        err = _config_error(e, file, PeerConfig)
        raise ConfigError(file, f"faults[{i}].set.{err.path}", err.message) from None
    was = PeerConfig.model_validate(was_raw)
    if kind == "reconfigure" and changed.ike.version != was.ike.version:
        raise ConfigError(file, f"faults[{i}].set.ike.version",
                          f"a running connection cannot change its IKE version ({was.ike.version} to "
                          f"{changed.ike.version}); use kind: recreate to delete it and create it anew")
    try:
        _check_peer(file, peer, changed)
    except ConfigError as e:
        raise ConfigError(file, _set_path(i, changes, e.path.removeprefix(f"peers.{peer}.")),
                          e.message) from None
    return changed


def _check_peer(file: str | None, name: str, peer: PeerConfig) -> None:
    """What a valid PeerConfig can still get wrong: lifetimes, the profile's limits, IKEv1."""
    try:
        lifetimes.child_lifetime(peer.child)
        lifetimes.ike_lifetime(peer.ike)
    except lifetimes.LifetimeError as e:
        raise ConfigError(file, f"peers.{name}.{e.path}", str(e)) from None
    _check_limits(file, name, peer)
    check_ikev1(file, name, peer)
    if peer.encap and (peer.ike.version != 2 or not peer.nat_traversal):
        raise ConfigError(file, f"peers.{name}.encap", "forced UDP encapsulation (encap: true) fakes the IKEv2 NAT "
                          "detection: it needs ike.version 2 and nat_traversal: true")


def _set_path(i: int, changes: dict[str, Any], path: str) -> str:
    """``faults[i].set.<path>`` when the fault's ``set`` holds that field, else ``faults[i].set``
    with the peer's field named after it (the change made an unchanged value invalid)."""
    node: Any = changes
    for part in re.sub(r"\[\d+\]", "", path).split("."):
        if not isinstance(node, dict) or part not in node:
            return f"faults[{i}].set (with these changes, {path})"
        node = node[part]
    return f"faults[{i}].set.{path}"


def _seen_from(cfg: ScenarioConfig, name: str) -> PeerConfig:
    """Peer ``name`` as the other peer sees it: behind a NAT (``link.nat``) its address is the
    NAT's public one, the default ``remote_address`` of the other side."""
    peer, nat = cfg.peers[name], cfg.link.nat
    if nat is not None and nat.peer == name:
        return peer.model_copy(update={"address": nat.public_address})
    return peer


def expand_dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"peers.A.ike.psk": "x"}`` -> ``{"peers": {"A": {"ike": {"psk": "x"}}}}``; nested values merge."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise ConfigError(None, "overrides", f"{shown(key)} is not a dotted path such as peers.A.ike.psk")
        *parents, leaf = key.split(".")
        nested: dict[str, Any] = {leaf: dict(value) if isinstance(value, Mapping) else value}
        for p in reversed(parents):
            nested = {p: nested}
        out = deep_merge(out, nested)
    return out


def _apply_profiles(data: dict[str, Any], file: str | None, origin: str | None = None) -> dict[str, Any]:
    peers = data.get("peers")
    if not isinstance(peers, dict):
        return data
    out = dict(data)
    out["peers"] = {}
    for name, raw in peers.items():
        if not isinstance(raw, dict):
            out["peers"][name] = raw
            continue
        if "import" in raw:
            raw = _import_peer(name, raw, file, origin)
        pname = raw.get("profile", "strongswan")
        if not isinstance(pname, str) or pname not in profiles.names():
            hint = suggest(pname, profiles.names()) if isinstance(pname, str) else ""
            raise ConfigError(file, f"peers.{name}.profile",
                              f"unknown profile {shown(pname)}; available: {', '.join(profiles.names())}{hint}")
        base = lifetimes.strip_overridden(profiles.load(pname).nested(), raw)
        out["peers"][name] = deep_merge(base, raw)
    return out


def _import_peer(name: str, raw: dict[str, Any], file: str | None, origin: str | None) -> dict[str, Any]:
    """``import: FILE`` or ``import: {file, vendor, tunnel}``: vendor JSON under the peer's own keys."""
    from .importers import import_file
    spec = raw["import"]
    where = f"peers.{name}.import"
    if isinstance(spec, str):
        spec = {"file": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
        raise ConfigError(file, where, "expected a file name or {file: NAME, vendor: huawei|alibaba, tunnel: N}")
    unknown = set(spec) - {"file", "vendor", "tunnel", "bgp"}
    if unknown:
        raise ConfigError(file, f"{where}.{sorted(unknown)[0]}", "unknown key; allowed: file, vendor, tunnel, bgp")
    if not isinstance(spec.get("bgp", False), bool):
        raise ConfigError(file, f"{where}.bgp", f"expected true or false, got {shown(spec['bgp'])}")
    path = Path(spec["file"])
    if origin is not None and not path.is_absolute():
        path = Path(origin).parent / path
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        found = False
    if not found:
        raise ConfigError(file, where, f"no such file {shown(str(path))} (a vendor JSON document, relative to the "
                          "scenario file)")
    imported = import_file(path, spec.get("vendor"), spec.get("tunnel"))
    explicit = {k: v for k, v in raw.items() if k != "import"}
    if "bgp" in imported.peer and not (spec.get("bgp") or "bgp" in explicit):
        # the document's BGP session is taken on request (import: {file, bgp: true}, or bgp: keys of the
        # peer's own): the other end of the tunnel needs a bgp: section too
        imported.peer.pop("bgp")
        imported.peer.update(imported.meta.get("without_bgp", {}))
        for d in (imported.masked, imported.missing):
            for target in [t for t in d if t.startswith("bgp.")]:
                del d[target]
    for target, (jpath, value) in imported.masked.items():
        if not _has_path(explicit, target):
            raise ConfigError(str(path), jpath, f"the value {shown(value)} is masked in this document; give the real "
                              f"one in the scenario as peers.{name}.{target}")
    for target, why in imported.missing.items():
        if not _has_path(explicit, target):
            raise ConfigError(file, f"peers.{name}.{target}", f"required, but {why} ({path})")
    return deep_merge(imported.peer, explicit)


def _has_path(d: dict[str, Any], dotted: str) -> bool:
    node: Any = d
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` wins; nested mappings merge; lists are replaced whole."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _check_limits(file: str | None, name: str, peer: PeerConfig) -> None:
    prof = profiles.load(peer.profile)
    for path, lim in prof.limits.items():
        value: Any = peer
        for part in path.split("."):
            value = getattr(value, part, None)
        if isinstance(value, str | dict):  # a percentage: check the effective value
            value = lifetimes.resolved_value(peer, path)
        if value is None:
            continue
        lo = _as_number(lim.min, path)
        hi = _as_number(lim.max, path)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            shown = (f"{value:,.0f} bytes" if path.endswith("_bytes") else format_duration(value)
                     if isinstance(value, float) else str(value))
            rng = f"{lim.min}-{lim.max}" if lim.min is not None and lim.max is not None else (
                f">= {lim.min}" if lim.min is not None else f"<= {lim.max}")
            raise ConfigError(file, f"peers.{name}.{path}",
                              f"{shown} is outside the range {rng} that {prof.name} accepts "
                              f"({prof.source_text(lim.source)})")


def _as_number(bound: Any, path: str) -> float | None:
    """A profile limit in the unit of the field at ``path``: seconds for ``*_time`` and the
    other timers, bytes for ``*_bytes``, a plain number otherwise."""
    if bound is None:
        return None
    if isinstance(bound, str):
        return float(parse_size(bound)) if path.endswith("_bytes") else parse_duration(bound)
    return float(bound)


# --- building the core's settings -------------------------------------------------------------

def build_dpd(cfg: PeerConfig, schedule: RetransmitSchedule) -> DpdSettings | None:
    """The DPD machine's settings for this peer's IKE version, or None when DPD is off."""
    d = cfg.dpd
    if d.delay <= 0:
        return None
    # strongSwan's check job (ike_sa.c send_dpd), for either IKE version: set_state(IKE_ESTABLISHED)
    # starts it, and for IKEv1 task_manager_v1.c queue_dpd() queues the R-U-THERE and schedules the
    # dpd_timeout_job (docs/timing.md; held against capture S3 in tests/test_compare.py)
    check = "strongswan" if cfg.timers == "strongswan" else "idle"
    if cfg.ike.version == 2:
        waits = (d.retry_interval,) * (d.retries if d.count == "probes" else d.retries + 1)
        return DpdSettings(mode=d.mode, delay=d.delay, style="liveness", action=d.action,
                           gave_up_deletes=d.gave_up_deletes,
                           esp_resets_idle=d.esp_resets_idle, check=check,
                           schedule=waits if d.ikev2_schedule == "dpd" else None)
    timeout = d.timeout if d.timeout is not None else schedule.give_up_after()
    return DpdSettings(mode=d.mode, delay=d.delay, style=d.ikev1_style, retry_interval=d.retry_interval,
                       retries=d.retries, count=d.count, timeout=timeout, action=d.action,
                       gave_up_deletes=d.gave_up_deletes,
                       esp_resets_idle=d.esp_resets_idle, check=check)


def build_cpu(cfg: CpuConfig | str) -> CpuCosts | None:
    """The processing-time costs of a peer (proto/cpu.py), or None for an instantaneous one."""
    if not isinstance(cfg, CpuConfig):
        return None
    base = COST_TABLES[cfg.costs]
    ops = {k: getattr(cfg, k) for k in ("message", "keygen", "secret", "prf", "auth", "install", "policy")}
    workers = cfg.workers if cfg.workers is not None else base.workers
    return replace(base, **{k: v for k, v in ops.items() if v is not None}, scale=cfg.scale,
                   jitter=cfg.jitter / 100.0, workers=workers)


def build_peer(name: str, cfg: PeerConfig, other: PeerConfig) -> PeerSettings:
    ike, child, rt = cfg.ike, cfg.child, cfg.retransmit
    schedule = RetransmitSchedule(rt.timeout, rt.base, rt.tries, rt.limit, rt.jitter,
                                  tuple(rt.waits) if rt.waits else None, rule=cfg.timers)
    child_life, ike_life = lifetimes.child_lifetime(child), lifetimes.ike_lifetime(ike)
    return PeerSettings(
        name=name, address=cfg.address, remote_address=cfg.remote_address or other.address,
        start=cfg.start, profile=cfg.profile, keyingtries=cfg.keyingtries, retransmit=schedule,
        dpd=build_dpd(cfg, schedule), dpd_msg_order=cfg.dpd.msg_order, dpd_ack_seq=cfg.dpd.ack_seq,
        acquire_queue=cfg.acquire_queue, policy_trap=cfg.policy_trap, nat_traversal=cfg.nat_traversal,
        encap=cfg.encap,
        nat_keepalive=cfg.nat_keepalive, cpu=build_cpu(cfg.cpu), timers=cfg.timers,
        nqa_source=int(ipaddress.IPv4Address(cfg.nqa.source)) if cfg.nqa is not None else None,
        ike=IkeSettings(version=ike.version, mode=ike.mode,
                        proposals=P.parse_list(ike.proposals, P.Protocol.IKE), psk=ike.psk.encode(),
                        local_id=Identity.parse(ike.local_id) if ike.local_id else None,
                        remote_id=Identity.parse(ike.remote_id) if ike.remote_id else None,
                        nonce_bytes=ike.nonce_bytes, half_open_timeout=ike.half_open_timeout,
                        initial_contact=ike.initial_contact, life_time=ike_life.time.life,
                        lifetime_policy=ike.lifetime_policy,
                        accept_responder_lifetime=ike.accept_responder_lifetime, lifetime=ike_life,
                        rekey_handover=ike.rekey_handover),
        child=ChildSettings(proposals=P.parse_list(child.proposals, P.Protocol.ESP),
                            local_ts=selectors(cfg.local_subnets), remote_ts=selectors(cfg.remote_subnets),
                            ts_policy=child.ts_policy, mode=child.mode, life_time=child_life.time.life,
                            life_bytes=_int(child_life.bytes.life), life_packets=_int(child_life.packets.life),
                            lifetime=child_life, delete_rekeyed_delay=child.delete_rekeyed_delay,
                            sha256_96=child.sha256_96),
    )


def _int(v: float | None) -> int | None:
    return None if v is None else int(v)


# --- pydantic errors as one clear sentence ----------------------------------------------------

def _config_error(e: ValidationError, file: str | None, root: type[BaseModel] = ScenarioConfig) -> ConfigError:
    errs = e.errors()
    err = errs[0]
    loc = tuple(err["loc"])
    path = _path(loc)
    etype, msg, given = err["type"], err["msg"], err.get("input")
    if etype == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        text = f"unknown key {shown(loc[-1])}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        text += suggest(str(loc[-1]), allowed)
    elif etype == "missing":
        text = "required, but missing"
    elif etype == "literal_error":
        expected = err.get("ctx", {}).get("expected", "").replace(chr(39), "").replace(" or ", ", ")
        hint = suggest(given, expected.split(", ")) if isinstance(given, str) else ""
        text = f"{shown(given)} is not allowed; allowed: {expected}{hint}"
    elif etype in ("value_error", "assertion_error"):
        text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif etype == "model_type":
        text = f"expected a mapping of keys, got {shown(given)}"
    else:
        text = f"{msg[0].lower()}{msg[1:]} (got {shown(given)})" if msg else f"invalid value {shown(given)}"
    if len(errs) > 1:
        others = sorted({_path(tuple(x["loc"])) for x in errs[1:]} - {path})
        text += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''}" + \
            (f", at {', '.join(others[:3])}{' ...' if len(others) > 3 else ''})" if others else ")")
    return ConfigError(file, path, text)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` below ``model``."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return []
    current = _unwrap(current)  # an optional sub-model (``trace: TraceConfig | None``)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _descend(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for n, f in tp.model_fields.items():
            if part in (n, f.alias):
                return f.annotation
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp
