"""A ping flow's path on the array traffic path (sim/train.py): what its requests and
replies meet in a window (the gateways, data planes, SAs, ESP packets' path and size, the
link's loss, delay and jitter each way), found from the SAs, the selectors and the link
(``plan``) and cached on the flow (``Cached``) until an SA pushes a change
(``sa.route_epoch``) or the link changes (``Link.generation``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..proto.traffic import EspPacket, Packet
from . import loss as lossmod
from . import mtu as mtu_mod

if TYPE_CHECKING:
    from ..proto.sa import ChildSa
    from ..proto.traffic import TrafficPlane
    from .link import Link
    from .log import EventLog
    from .node import PeerNode
    from .train import PingTrain


@dataclass(slots=True)
class Path:
    """What one flow's requests and replies meet in a window (all fixed in it): the two
    gateways and data planes, the SAs (out / in at each end), the ESP packets' path and size,
    and per direction the loss probability, delay and jitter."""

    a: PeerNode
    b: PeerNode
    pa: TrafficPlane
    pb: TrafficPlane
    out_a: ChildSa
    in_b: ChildSa
    out_b: ChildSa
    in_a: ChildSa
    esp_a: EspPacket
    esp_b: EspPacket
    links: dict[str, tuple[float, float, float]]

    def esp(self, reply: bool, seq: int, pkt: Packet) -> EspPacket:
        """The ESP packet carrying ``pkt`` (a request from a, or a reply from b)."""
        model = self.esp_b if reply else self.esp_a
        return replace(model, esp_seq=seq, packet=pkt)


@dataclass(slots=True)
class Cached:
    """A flow's path as ``plan`` found it (or None: no window can hold), and what that
    depends on: the SAs' epoch (``sa.route_epoch``), the link's generation, the two data
    planes and their settings. The peers' idle states, queues, route flags and drop intervals
    are not in it: ``_ready`` reads them on every use."""

    epoch: int
    link: int
    pa: TrafficPlane
    settings_a: Any
    b: PeerNode | None
    pb: TrafficPlane | None
    settings_b: Any
    path: Path | None

    def holds(self, epoch: int, link: int, pa: TrafficPlane) -> bool:
        if self.epoch != epoch or self.link != link or self.pa is not pa or self.settings_a is not pa.ep.settings:
            return False
        pb = self.pb
        return pb is None or (self.b.ep.traffic is pb and self.settings_b is pb.ep.settings)  # type: ignore[union-attr]


def plan(link: Link, tr: PingTrain, a: PeerNode, pa: TrafficPlane, epoch: int, gen: int,
         live: Callable[[PeerNode, TrafficPlane], bool]) -> Cached | None:
    """The flow's path from its SAs, selectors and the link (``Trains._ready``'s cache); None if
    the far end is not idle (what it would route is not looked at then)."""
    found = Cached(epoch, gen, pa, pa.ep.settings, None, None, None, None)
    if not pa._in_policy(tr.src, tr.dst):
        return found
    out_a = pa._outbound_sa(tr.src, tr.dst)
    if out_a is None:
        return found
    path_a = pa._path(out_a)
    b = link.node_at(path_a[1], a.name)
    if b is None or b is a:
        return found
    pb = b.ep.traffic
    if not live(b, pb):
        return None
    found = Cached(epoch, gen, pa, pa.ep.settings, b, pb, pb.ep.settings, None)
    src, dst, sport, dport = path_a
    req = EspPacket(out_a.spi_out, 0, Packet(tr.name, tr.src, tr.dst, tr.size, 0.0, tr.interval,
                                             "echo-request", 0, tr.df), src, dst, sport, dport,
                    **pa._esp_fields(out_a, tr.size, tr.df))
    route = pb._route_in_esp(req)
    if route[0] != "sa" or not pb._in_policy(tr.dst, tr.src):
        return found
    out_b = pb._outbound_sa(tr.dst, tr.src)
    if out_b is None:
        return found
    path_b = pb._path(out_b)
    if link.node_at(path_b[1], b.name) is not a:
        return found
    src, dst, sport, dport = path_b
    rep = EspPacket(out_b.spi_out, 0, Packet(tr.reply_flow, tr.dst, tr.src, tr.size, 0.0, tr.interval,
                                             "echo-reply", 0, tr.df), src, dst, sport, dport,
                    **pb._esp_fields(out_b, tr.size, tr.df))
    back = pa._route_in_esp(rep)
    if back[0] != "sa":
        return found
    for esp in (req, rep):
        if mtu_mod.too_big(esp, link.mtu) or mtu_mod.fragment_count(esp, link.mtu) != 1:
            return found
    links = {}
    for direction, (x, y) in (("ab", (a.name, b.name)), ("ba", (b.name, a.name))):
        if link.is_down(x, y, "esp"):
            return found
        model = link._loss_model(x, y, "esp")
        if type(model) is not lossmod.Bernoulli:
            return found
        delay = link._override("delay", x, y, "esp")
        jitter = link._override("jitter", x, y, "esp")
        links[direction] = (model.p, float(link.delay if delay is None else delay),
                            float(link.jitter if jitter is None else jitter))
    found.path = Path(a, b, pa, pb, out_a, route[1], out_b, back[1], req, rep, links)
    return found


def quiet_sas(paths: list[Path], log: EventLog, link: Link) -> tuple[ChildSa, ...] | None:
    """The SAs the window's flows use, where the window may cross a peer's job that only
    removes another CHILD SA (``PeerNode.quiet_job``, which logs its event as it runs ahead):
    where the window logs nothing of its own (no packet lost, no drop interval of the link
    open: ``Trains._drops`` logs after the crossings) and nothing listens to the log (an HA
    controller or BGP would act at the event); else None."""
    if log.listeners or link.ledger.open or any(x[0] for p in paths for x in p.links.values()):
        return None
    return tuple(sa for p in paths for sa in (p.out_a, p.in_b, p.out_b, p.in_a))


def same_plan(tr: PingTrain, cached: Cached, fresh: Cached) -> None:
    """``Trains.verify_cache``: the cached path is the one found now, object for object."""
    p, q = cached.path, fresh.path
    if p is None or q is None:
        wrong = [] if p is q and cached.b is fresh.b else ["path"]
    else:
        same = ("a", "b", "pa", "pb", "out_a", "in_b", "out_b", "in_a")
        wrong = [f for f in same if getattr(p, f) is not getattr(q, f)]
        wrong += [f for f in ("esp_a", "esp_b", "links") if getattr(p, f) != getattr(q, f)]
    if wrong:
        raise AssertionError(f"flow {tr.name} at {tr.mgr.sched.now}: the cached path is stale ({', '.join(wrong)})")
