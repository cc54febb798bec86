"""``ipsecsim live``: one peer of a scenario against a real gateway, to a ``Result``.

The peer runs with its scenario settings (profile, proposals, PSK, DPD, lifetimes,
retransmission) on the scenario's address for it; the other peer of the scenario names the
real gateway (its address and ports). The run ends after ``duration`` wall-clock seconds or
on Ctrl-C; the peer then deletes its SAs (the gateway is told) unless ``delete_at_end`` is
off. The Result is the one a simulated run gives (events, this peer's final state,
transmissions for ``--pcap`` / ``--keys``), so the same timeline, summary and trace writers
apply. Faults, traffic, HA groups and expectations of the scenario are simulator features
and are not used; live mode negotiates IKE only (no ESP SAs are installed in a kernel).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config.loader import Scenario
from ..config.topology import partner_map
from ..errors import ConfigError
from ..proto.events import Event
from ..proto.final import final_state
from ..result import Result
from .driver import LivePeer
from .transport import NAT_T_PORT, TransportError, UdpTransport

DELETE_GRACE = 2.0
"""Seconds the peer waits at the end for the gateway to answer its Deletes."""


class LiveError(RuntimeError):
    """The live peer cannot run here (its address is not on this host, no permission)."""


def live_scenario(scenario: Scenario, peer: str) -> Scenario:
    """The scenario as a live run uses it: the simulator-only sections emptied."""
    if peer not in scenario.peers:
        raise ConfigError(scenario.file, "--peer", f"{peer!r} is not a peer of this scenario "
                          f"(peers: {', '.join(scenario.peers)})")
    cfg = scenario.config.model_copy(update={"faults": [], "traffic": [], "expect": [], "ha": []})
    return Scenario(cfg, scenario.file, scenario.peers, {}, scenario.raw)


def ignored_sections(scenario: Scenario) -> list[str]:
    """The scenario's simulator-only sections a live run leaves out (to tell the user)."""
    cfg = scenario.config
    return [name for name, present in (("faults", cfg.faults), ("traffic", cfg.traffic), ("expect", cfg.expect),
                                       ("ha", cfg.ha), ("link", cfg.link.nat is not None)) if present]


def run_live(scenario: Scenario, peer: str, duration: float | None = None,
             on_event: Callable[[Event], None] | None = None, delete_at_end: bool = True,
             clock: Callable[[], float] = time.monotonic) -> Result:
    """Run ``peer`` of ``scenario`` against the real gateway at its partner's address for
    ``duration`` wall-clock seconds (default: the scenario's duration). KeyboardInterrupt
    ends the run early, with the same Result."""
    live = live_scenario(scenario, peer)
    settings = live.peers[peer]
    remote = partner_map(live.config.peers)[peer]
    until = live.duration if duration is None else duration
    try:
        transport = UdpTransport(settings.address, (settings.port, NAT_T_PORT))
    except TransportError as e:
        raise LiveError(f"peer {peer}: {e.strerror}") from None
    node = LivePeer(settings, remote, transport, clock, on_event)
    try:
        try:
            node.start()
            node.run(until)
        except KeyboardInterrupt:
            pass
        if delete_at_end:
            try:
                node.close(DELETE_GRACE)
            except KeyboardInterrupt:
                pass
        node.ep.finish(node.now())
        for ev in node.ep.take_events():
            node.record(ev)
    finally:
        transport.close()
    return Result(live, live.seed, round(node.now(), 6), node.events, {peer: final_state(node.ep)}, node.transmissions,
                  clock="wall-clock")
