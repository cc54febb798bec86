"""Scenario files in, validated ``Scenario`` out; every problem becomes one ConfigError.

Order of precedence for a peer's values: the scenario file, then its vendor profile, then
the model defaults. Profile limits (a vendor API's accepted ranges) are checked last, on
the effective values.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from ..proto import proposals as P
from ..proto.cpu import COST_TABLES, CpuCosts
from ..proto.dpd import DpdSettings
from ..proto.retransmit import RetransmitSchedule
from ..proto.settings import ChildSettings, Identity, IkeSettings, PeerSettings
from ..proto.ts import selectors
from . import lifetimes, profiles
from .bgp import bgp_problems
from .ha import ha_problems
from .ikev1_check import check_ikev1
from .model import CpuConfig, PeerConfig, ScenarioConfig, traffic_problems
from .nat import nat_problems
from .topology import fault_problems, pairing_problems, partner_map
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
                        self.raw)

    def replace(self, overrides: Mapping[str, Any] | None = None, /, **top: Any) -> Scenario:
        """A new scenario with values overridden, validated like a file (ConfigError if not valid).

        ``overrides`` maps dotted paths (``"peers.A.retransmit.tries": 3``) or nested mappings
        onto values; keyword arguments override top-level keys (``seed=7, duration="10m"``).
        Profiles are applied again, so ``{"peers.A.profile": "huawei-cloud"}`` changes every
        default that profile sets. Lists are replaced whole.
        """
        base = self.raw if self.raw is not None else self.config.model_dump(by_alias=True, exclude_unset=True)
        return load_scenario(base, overrides={**(overrides or {}), **top}, file=self.file)


def read_yaml(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", "is a directory, not a scenario file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", f"cannot read: {e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(str(path), where, f"invalid YAML: {problem}") from None


def load_scenario(source: str | Path | dict[str, Any], overrides: Mapping[str, Any] | None = None,
                  *, file: str | None = None) -> Scenario:
    """Load and validate a scenario from a YAML file path or an already parsed dict.

    ``overrides`` replaces values before validation: dotted paths such as
    ``{"peers.B.ike.psk": "other", "duration": "10m"}`` or nested mappings (see
    ``Scenario.replace``). ``file`` names a dict's origin in error messages.
    """
    if isinstance(source, dict):
        data = copy.deepcopy(source)
    else:
        data, file = read_yaml(source), str(source)
    if not isinstance(data, dict):
        raise ConfigError(file, "", f"a scenario is a mapping of keys (name, duration, peers ...), "
                          f"got {type(data).__name__}")
    origin = file
    if overrides:
        data = deep_merge(data, expand_dotted(overrides))
        file = f"{file or 'scenario'} (with overrides)"
    raw = copy.deepcopy(data)
    data = _apply_profiles(data, file, origin)
    try:
        cfg = ScenarioConfig.model_validate(data)
    except ValidationError as e:
        raise _config_error(e, file) from None
    # in order: each relies on the one before
    for check in (pairing_problems, fault_problems, ha_problems, bgp_problems, traffic_problems):
        for path, problem in check(cfg):
            raise ConfigError(file, path, problem)
    for path, problem in nat_problems(cfg.link.nat, {n: (p.address, p.remote_address) for n, p in cfg.peers.items()}):
        raise ConfigError(file, path, problem)
    for name, peer in cfg.peers.items():
        _check_peer(file, name, peer)
    part = partner_map(cfg.peers)
    peers = {n: build_peer(n, cfg.peers[n], _seen_from(cfg, part[n])) for n in cfg.peers}
    reconfigured = {}
    current = {n: data["peers"][n] for n in cfg.peers}  # each peer's settings as the faults change them
    for i, f in sorted(enumerate(cfg.faults), key=lambda x: (x[1].at, x[0])):
        if f.kind in ("reconfigure", "recreate") and f.peer and f.set is not None:
            peer_raw = deep_merge(current[f.peer], f.set)
            try:
                changed = PeerConfig.model_validate(peer_raw)
            except ValidationError as e:
                err = _config_error(e, file, PeerConfig)
                raise ConfigError(file, f"faults[{i}].set.{err.path}", err.message) from None
            was = PeerConfig.model_validate(current[f.peer])
            if f.kind == "reconfigure" and changed.ike.version != was.ike.version:
                raise ConfigError(file, f"faults[{i}].set.ike.version",
                                  f"a running connection cannot change its IKE version ({was.ike.version} to "
                                  f"{changed.ike.version}); use kind: recreate to delete it and create it anew")
            try:
                _check_peer(file, f.peer, changed)
            except ConfigError as e:
                raise ConfigError(file, _set_path(i, f.set, e.path.removeprefix(f"peers.{f.peer}.")),
                                  e.message) from None
            current[f.peer] = peer_raw
            other = _seen_from(cfg, part[f.peer])
            reconfigured[i] = build_peer(f.peer, changed, other)
    return Scenario(cfg, origin, peers, reconfigured, raw)


def _check_peer(file: str | None, name: str, peer: PeerConfig) -> None:
    """What a valid PeerConfig can still get wrong: lifetimes, the profile's limits, IKEv1."""
    try:
        lifetimes.child_lifetime(peer.child)
        lifetimes.ike_lifetime(peer.ike)
    except lifetimes.LifetimeError as e:
        raise ConfigError(file, f"peers.{name}.{e.path}", str(e)) from None
    _check_limits(file, name, peer)
    check_ikev1(file, name, peer)


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
            raise ConfigError(None, "overrides", f"{key!r} is not a dotted path such as peers.A.ike.psk")
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
            raise ConfigError(file, f"peers.{name}.profile",
                              f"unknown profile {pname!r}; available: {', '.join(profiles.names())}")
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
    unknown = set(spec) - {"file", "vendor", "tunnel"}
    if unknown:
        raise ConfigError(file, f"{where}.{sorted(unknown)[0]}", "unknown key; allowed: file, vendor, tunnel")
    path = Path(spec["file"])
    if origin is not None and not path.is_absolute():
        path = Path(origin).parent / path
    imported = import_file(path, spec.get("vendor"), spec.get("tunnel"))
    explicit = {k: v for k, v in raw.items() if k != "import"}
    for target, (jpath, value) in imported.masked.items():
        if not _has_path(explicit, target):
            raise ConfigError(str(path), jpath, f"the value {value!r} is masked in this document; give the real "
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
        lo = _as_number(lim.min, value)
        hi = _as_number(lim.max, value)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            shown = format_duration(value) if isinstance(value, float) else str(value)
            rng = f"{lim.min}-{lim.max}" if lim.min is not None and lim.max is not None else (
                f">= {lim.min}" if lim.min is not None else f"<= {lim.max}")
            raise ConfigError(file, f"peers.{name}.{path}",
                              f"{shown} is outside the range {rng} that {prof.name} accepts "
                              f"({prof.source_text(lim.source)})")


def _as_number(bound: Any, like: Any) -> float | None:
    if bound is None:
        return None
    if isinstance(bound, str):
        return parse_duration(bound) if isinstance(like, float) else float(parse_size(bound))
    return float(bound)


# --- building the core's settings -------------------------------------------------------------

def build_dpd(cfg: PeerConfig, schedule: RetransmitSchedule) -> DpdSettings | None:
    """The DPD machine's settings for this peer's IKE version, or None when DPD is off."""
    d = cfg.dpd
    if d.delay <= 0:
        return None
    # strongSwan's check job (ike_sa.c send_dpd) for IKEv2; IKEv1 keeps the idle rule until the
    # processing-time model's IKEv1 main mode is re-measured (docs/timing.md)
    check = "strongswan" if cfg.timers == "strongswan" and cfg.ike.version == 2 else "idle"
    if cfg.ike.version == 2:
        waits = (d.retry_interval,) * (d.retries if d.count == "probes" else d.retries + 1)
        return DpdSettings(mode=d.mode, delay=d.delay, style="liveness", action=d.action,
                           esp_resets_idle=d.esp_resets_idle, check=check,
                           schedule=waits if d.ikev2_schedule == "dpd" else None)
    timeout = d.timeout if d.timeout is not None else schedule.give_up_after()
    return DpdSettings(mode=d.mode, delay=d.delay, style=d.ikev1_style, retry_interval=d.retry_interval,
                       retries=d.retries, count=d.count, timeout=timeout, action=d.action,
                       esp_resets_idle=d.esp_resets_idle, check=check)


def build_cpu(cfg: CpuConfig | str) -> CpuCosts | None:
    """The processing-time costs of a peer (proto/cpu.py), or None for an instantaneous one."""
    if not isinstance(cfg, CpuConfig):
        return None
    base = COST_TABLES[cfg.costs]
    ops = {k: getattr(cfg, k) for k in ("message", "keygen", "secret", "prf", "auth", "install", "policy")}
    return replace(base, **{k: v for k, v in ops.items() if v is not None}, scale=cfg.scale,
                   jitter=cfg.jitter / 100.0)


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
        nat_keepalive=cfg.nat_keepalive, cpu=build_cpu(cfg.cpu), timers=cfg.timers,
        nqa_source=int(ipaddress.IPv4Address(cfg.nqa.source)) if cfg.nqa is not None else None,
        ike=IkeSettings(version=ike.version, mode=ike.mode,
                        proposals=P.parse_list(ike.proposals, P.Protocol.IKE), psk=ike.psk.encode(),
                        local_id=Identity.parse(ike.local_id) if ike.local_id else None,
                        remote_id=Identity.parse(ike.remote_id) if ike.remote_id else None,
                        nonce_bytes=ike.nonce_bytes, half_open_timeout=ike.half_open_timeout,
                        initial_contact=ike.initial_contact, life_time=ike_life.time.life,
                        lifetime_policy=ike.lifetime_policy,
                        accept_responder_lifetime=ike.accept_responder_lifetime, lifetime=ike_life),
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
        text = f"unknown key {loc[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif etype == "missing":
        text = "required, but missing"
    elif etype == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        text = f"{given!r} is not allowed; allowed: {expected.replace(chr(39), '').replace(' or ', ', ')}"
    elif etype in ("value_error", "assertion_error"):
        text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif etype == "model_type":
        text = f"expected a mapping of keys, got {_shown(given)}"
    else:
        text = f"{msg[0].lower()}{msg[1:]} (got {_shown(given)})" if msg else f"invalid value {_shown(given)}"
    if len(errs) > 1:
        others = sorted({_path(tuple(x["loc"])) for x in errs[1:]} - {path})
        text += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''}" + \
            (f", at {', '.join(others[:3])}{' ...' if len(others) > 3 else ''})" if others else ")")
    return ConfigError(file, path, text)


def _shown(value: Any) -> str:
    """A value as the scenario file spells it (YAML / JSON: true, false, null)."""
    if value is True or value is False or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value)


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
