"""Which peer talks to which: tunnels as pairs of peers, and where traffic can go.

A peer is one IKE connection with one remote address (the core's responder accepts requests
only from its ``remote_address``, as a gateway with one configured connection does). A tunnel
is therefore two peers that name each other:

    peers:
      cloud-1:    {address: 47.21.0.1, remote_peer: customer-1, ...}
      customer-1: {address: 47.42.0.1, remote_peer: cloud-1, ...}
      cloud-2:    {address: 47.21.0.2, remote_peer: customer-2, ...}
      customer-2: {address: 47.42.0.1, remote_peer: cloud-2, ...}   # same gateway, second tunnel

With two peers ``remote_peer`` defaults to the other one (every older scenario). With more it
is required, and the pairing must be mutual: a peer naming another that pairs with a third
would send requests its partner ignores ("no connection configured"), which is a
configuration mistake this module reports instead of simulating silently. (A responder
accepting several initiators is several peers, one per tunnel, possibly sharing an address.)

Peers of different tunnels may share an address: one gateway device terminating two tunnels
(Alibaba Cloud recommends two customer addresses for dual tunnels but accepts one; Huawei
Cloud's active-active and active-standby examples pair both gateway EIPs with one customer
address). The link then delivers a packet to the peer at that address whose remote peer sent
it. The two ends of one tunnel must differ in address.

Traffic names its ends by peer or by HA group (config/ha.py). The sending side picks the
tunnel (RFC 4301 5.1: outbound processing is the sender's SPD and routing): from a peer, its
one tunnel; from a group, the tunnel of the member the group's controller makes active. The
``to`` end must contain the receiver of every tunnel the sender may pick.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import shown

if TYPE_CHECKING:
    from .model import PeerConfig, ScenarioConfig, TrafficConfig


def partners(peers: Mapping[str, PeerConfig]) -> dict[str, str | None]:
    """Each peer's remote peer: ``remote_peer`` if given, else the other peer when there are
    two, else None (an error ``pairing_problems`` reports)."""
    names = list(peers)
    out: dict[str, str | None] = {}
    for i, (n, p) in enumerate(peers.items()):
        if p.remote_peer is not None:
            out[n] = p.remote_peer
        elif len(names) == 2:
            other = names[1 - i]
            named = peers[other].remote_peer
            out[n] = other if named in (None, n) else None
        else:
            out[n] = None
    return out


_LAST: tuple[Mapping[str, PeerConfig], dict[str, str]] | None = None
"""The last ``partner_map`` computed and the peers it is of: validation and the runner ask for
it once per flow, fault and group, which on a scenario of thousands of tunnels made loading
quadratic in the number of peers. Read and replaced whole (safe with threads)."""


def partner_map(peers: Mapping[str, PeerConfig]) -> dict[str, str]:
    """``partners`` of a validated scenario (every peer has one), a fresh dict."""
    return dict(_partner_of(peers))


def _partner_of(peers: Mapping[str, PeerConfig]) -> Mapping[str, str]:
    """``partner_map`` computed once per (immutable) peers mapping; read-only."""
    global _LAST
    last = _LAST
    if last is not None and last[0] is peers:
        return last[1]
    found = {n: p for n, p in partners(peers).items() if p is not None}
    _LAST = (peers, found)
    return found


def fault_problems(cfg: ScenarioConfig) -> list[tuple[str, str]]:
    """(field path, message) for faults naming unknown peers, or a path (``direction``,
    ``between``) between two peers that are not the ends of one tunnel: no packet travels
    there, so such a fault would silently change nothing."""
    names = list(cfg.peers)
    known = f"peers: {', '.join(names)}"
    part = partner_map(cfg.peers)
    order = {n: i for i, n in enumerate(names)}
    tunnels = ", ".join(f"[{n}, {m}]" for n, m in part.items() if order[n] < order[m])
    for i, f in enumerate(cfg.faults):
        if f.peer is not None and f.peer not in cfg.peers:
            return [(f"faults[{i}].peer", f"unknown peer {shown(f.peer)}; {known}")]
        for key, ends in (("direction", f.ends), ("between", f.between)):
            if not ends:
                continue
            for end in ends:
                if end not in cfg.peers:
                    return [(f"faults[{i}].{key}", f"unknown peer {shown(end)}; {known}")]
            a, b = ends
            if part.get(a) != b:
                return [(f"faults[{i}].{key}", f"{a} and {b} are not the two ends of a tunnel, so no packet "
                         f"travels between them; tunnels: {tunnels}")]
    return _timeline_problems(cfg)


def late_problems(cfg: ScenarioConfig) -> list[tuple[str, str, str]]:
    """(field path, message, what it is) for each fault or traffic source that starts when the run has
    ended (``cfg.duration``, the effective one: ``ipsecsim run --duration`` may cut a run
    short or make it longer on purpose). In a file run for its own duration it would silently
    never happen: the file contradicts itself; cut short on the command line, it is dropped,
    and said so."""
    until = cfg.duration
    out: list[tuple[str, str, str]] = []
    for i, f in enumerate(cfg.faults):
        if f.at >= until:
            out.append((f"faults[{i}].at", f"{f.at:g} s is not before the end of the run ({until:g} s): the fault "
                        f"({f.kind}) would never happen", f"faults[{i}] ({f.kind} at {f.at:g} s)"))
    for i, t in enumerate(cfg.traffic):
        if t.start >= until:
            out.append((f"traffic[{i}].start", f"{t.start:g} s is not before the end of the run ({until:g} s): the "
                        f"flow would never start", f"traffic[{i}] ({t.kind} from {t.start:g} s)"))
    return out


def _timeline_problems(cfg: ScenarioConfig) -> list[tuple[str, str]]:
    """Faults that do nothing at the time they happen: a ``recreate`` of a crashed or frozen
    gateway (nobody can delete its connection; restart or unfreeze it first), a ``link_up``
    with no ``link_down`` of the same path in effect (the link section's ``down`` windows
    count). A window ends with its ``duration`` (the end instant still inside it) or the
    fault that undoes it; crashed and frozen are separate states, as on the gateway."""
    crashed: dict[str, tuple[int, float]] = {}  # peer -> (fault index, until)
    frozen: dict[str, tuple[int, float]] = {}
    links: list[tuple[tuple[object, ...], int, float]] = [  # open link_down windows
        ((None, None, "all"), -1, w.end) for w in cfg.link.down if w.start <= 0]
    later = sorted((w.start, w.end) for w in cfg.link.down if w.start > 0)
    for i, f in sorted(enumerate(cfg.faults), key=lambda x: (x[1].at, x[0])):
        t = f.at
        while later and later[0][0] <= t:
            _, end = later.pop(0)
            links.append(((None, None, "all"), -1, end))
        crashed = {p: w for p, w in crashed.items() if t <= w[1]}
        frozen = {p: w for p, w in frozen.items() if t <= w[1]}
        links = [w for w in links if t <= w[2]]
        until = t + f.duration if f.duration is not None else float("inf")
        path = (f.ends, f.pair, f.protocol)
        peer = f.peer or ""
        if f.kind == "crash":
            crashed[peer] = (i, until)
        elif f.kind == "freeze":
            frozen[peer] = (i, until)
        elif f.kind == "restart":
            crashed.pop(peer, None)
        elif f.kind == "unfreeze":
            frozen.pop(peer, None)
        elif f.kind == "recreate" and (peer in crashed or peer in frozen):
            state, (j, _), undo = (("crashed", crashed[peer], "restart") if peer in crashed
                                   else ("frozen", frozen[peer], "unfreeze"))
            return [(f"faults[{i}]", f"{peer} is {state} at {t:g}s (faults[{j}]): a gateway that does not run "
                     f"cannot delete and recreate its connection; {undo} it first")]
        elif f.kind == "link_down":
            links.append((path, i, until))
        elif f.kind == "link_up":
            match = [w for w in links if w[0] == path]
            if not match:
                what = _path_text(f)
                return [(f"faults[{i}]", f"link_up at {t:g}s ends no link_down in effect for {what}: give it the "
                         f"same direction, between and protocol as the link_down it ends")]
            links.remove(match[-1])
    return []


def _path_text(f: object) -> str:
    ends, pair, protocol = getattr(f, "ends", None), getattr(f, "between", None), getattr(f, "protocol", "all")
    where = f"{ends[0]}->{ends[1]}" if ends else f"between {pair[0]} and {pair[1]}" if pair else "the whole link"
    return where + ("" if protocol == "all" else f", protocol {protocol}")


def pairing_problems(cfg: ScenarioConfig) -> list[tuple[str, str]]:
    """(field path, message) for peers that do not form tunnels of two."""
    peers = cfg.peers
    names = list(peers)
    part = partners(peers)
    def allowed(n: str) -> str:  # built only for the error: joining every name per peer is quadratic
        return f"allowed: one of the other peers ({', '.join(m for m in names if m != n)})"

    for n, p in peers.items():
        if p.remote_peer is not None and p.remote_peer not in peers:
            return [(f"peers.{n}.remote_peer", f"unknown peer {shown(p.remote_peer)}; {allowed(n)}")]
        if p.remote_peer == n:
            return [(f"peers.{n}.remote_peer", f"a peer cannot be its own remote peer; {allowed(n)}")]
    for n in names:
        if part[n] is None:
            return [(f"peers.{n}.remote_peer", f"required when a scenario has more than two peers: the peer at "
                     f"the other end of {n}'s tunnel (allowed: {', '.join(m for m in names if m != n)})")]
    for n in names:
        m = part[n]
        assert m is not None
        back = part[m]
        if back != n:
            return [(f"peers.{n}.remote_peer", f"{n} names {m}, but {m}'s remote_peer is {back}: a tunnel is two "
                     f"peers naming each other (a peer is one IKE connection, and a responder accepts only its "
                     f"remote_address); set peers.{m}.remote_peer: {n}, or pair {n} with another peer")]
    order = {n: i for i, n in enumerate(names)}
    for n in names:
        m = part[n]
        assert m is not None
        if order[n] < order[m] and peers[n].address == peers[m].address:
            return [(f"peers.{m}.address", f"peers {n} and {m} have the same address {peers[n].address}: the two "
                     f"ends of a tunnel need different addresses")]
    workers: dict[str, tuple[str, int | None]] = {}
    for n in names:  # one gateway, one thread pool (sim/workers.py)
        cpu = peers[n].cpu
        w = cpu.workers if not isinstance(cpu, str) else None
        first = workers.setdefault(peers[n].address, (n, w))
        if w is not None and first[1] is not None and first[1] != w:
            return [(f"peers.{n}.cpu.workers", f"{n} and {first[0]} share the gateway address {peers[n].address} "
                     f"but set workers {w} and {first[1]}: a gateway has one pool of workers; set the same value")]
    nat = cfg.link.nat
    if nat is not None and nat.peer in peers:
        inside = peers[nat.peer].address
        shared = [n for n in names if n != nat.peer and peers[n].address == inside]
        if shared:
            return [("link.nat.peer", f"{nat.peer} shares its address {inside} with {', '.join(shared)}; a NAT in "
                     f"front of a gateway with several tunnels is not modelled")]
    return []


def members(cfg: ScenarioConfig, name: str) -> list[str]:
    """The peers a traffic end stands for: a group's members in preference order, or the peer."""
    for g in cfg.ha:
        if g.name == name:
            return list(g.members)
    return [name]


def routes(cfg: ScenarioConfig, source: str) -> list[tuple[str, str]]:
    """Every (sender, receiver) tunnel traffic from ``source`` (a peer or a group) may take."""
    part = _partner_of(cfg.peers)
    return [(m, part[m]) for m in members(cfg, source)]


def traffic_route_problems(cfg: ScenarioConfig, i: int, t: TrafficConfig, src: str, dst: str) -> list[tuple[str, str]]:
    """(field path, message) when flow ``i`` cannot reach its ``to`` end, or its hosts
    ``src`` / ``dst`` are outside the subnets of a sender / receiver it may use."""
    groups = {g.name for g in cfg.ha}
    targets = set(members(cfg, t.to))
    pairs = routes(cfg, t.source)
    where = f"traffic[{i}].to"
    if t.source not in groups and t.to in groups:
        sender, receiver = pairs[0]
        return [(where, f"the sending side picks the tunnel and {sender} has one, to {receiver}: naming group "
                 f"{t.to} would not make this flow fail over. Send from a group of this side's peers (ha:) or "
                 f"name {receiver}")]
    missing = [r for _, r in pairs if r not in targets]
    if missing:
        if t.source in groups:
            reach = ", ".join(r for _, r in pairs)
            return [(where, f"the members of group {t.source} reach {reach} through their tunnels; name a group "
                     f"listing them (ha: - {{name: ..., members: [{reach}]}})")]
        sender, receiver = pairs[0]
        return [(where, f"{sender}'s tunnel leads to {receiver} (its remote_peer), not to {t.to}")]
    out: list[tuple[str, str]] = []
    for key, addr, who in (("src", src, [s for s, _ in pairs]), ("dst", dst, [r for _, r in pairs])):
        for peer in who:
            nets = cfg.peers[peer].local_subnets
            if not any(ipaddress.IPv4Address(addr) in ipaddress.IPv4Network(n) for n in nets):
                given = getattr(t, key) is not None
                how = "" if given else f" (the default: first host of {who[0]}'s first local subnet; give {key})"
                out.append((f"traffic[{i}].{key}", f"{addr}{how} is not in {peer}'s local_subnets "
                            f"({', '.join(nets)}): traffic runs between the protected subnets"))
                return out
    return out


# --- traffic flows: names and hosts (sim/traffic.py, the traffic summary) -----------------------

def first_host(subnet: str) -> str:
    net = ipaddress.IPv4Network(subnet)
    return str(net.network_address + 1) if net.prefixlen < 31 else str(net.network_address)


def flow_name(t: TrafficConfig, index: int) -> str:
    return t.name or f"{t.kind}-{index + 1}"


def endpoints(cfg: ScenarioConfig, t: TrafficConfig) -> tuple[str, str]:
    """(src host, dst host) of a flow, defaulting to the first host of each side's first subnet
    (of a group: of its first member)."""
    src = t.src or first_host(cfg.peers[members(cfg, t.source)[0]].local_subnets[0])
    dst = t.dst or first_host(cfg.peers[members(cfg, t.to)[0]].local_subnets[0])
    return src, dst
