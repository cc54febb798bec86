"""The live driver without a daemon: framing on port 4500, and two live peers (the same cores
on real loopback UDP sockets and the wall clock) negotiating with each other.

These need no root: the peers use loopback addresses and a high port instead of 500 (the
NAT-T port 4500 is above 1024). The tests against real strongSwan are in tests/live.
"""

from __future__ import annotations

import random
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SCENARIOS

from ipsecsim import load_scenario
from ipsecsim.cli import main
from ipsecsim.live.driver import LivePeer
from ipsecsim.live.transport import NAT_T_PORT, UdpTransport, frame, unframe
from ipsecsim.proto.final import final_state
from ipsecsim.result import Result
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import write_trace

A, B, PORT = "127.0.0.1", "127.0.0.2", 15500


def test_non_esp_marker_on_4500_only() -> None:
    # RFC 3948 2.2: IKE on 4500 is preceded by four zero octets; 2.3: keepalive is 0xFF alone
    ike = bytes(range(1, 29))
    assert frame(500, 500, ike) == ike
    assert frame(NAT_T_PORT, NAT_T_PORT, ike) == bytes(4) + ike
    assert frame(NAT_T_PORT, NAT_T_PORT, b"\xff") == b"\xff"
    assert unframe(NAT_T_PORT, bytes(4) + ike) == ("ike", ike)
    assert unframe(NAT_T_PORT, b"\xff") == ("keepalive", b"\xff")
    esp = b"\x00\x00\x10\x01" + bytes(20)  # an SPI is never zero (RFC 4303 2.1)
    assert unframe(NAT_T_PORT, esp) == ("esp", esp)
    assert unframe(500, bytes(4) + ike) == ("ike", bytes(4) + ike)


def _loopback_ok() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((B, 0))
        return True
    except OSError:
        return False


def pair(name: str, duration: float, edit=None):  # type: ignore[no-untyped-def]
    """Run both peers of a shipped scenario as live peers on loopback for ``duration`` s."""
    if not _loopback_ok():
        pytest.skip("no 127.0.0.2 on this host")
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    (na, sa), (nb, sb) = sc.peers.items()
    sa = replace(sa, address=A, remote_address=B, port=PORT, remote_port=PORT)
    sb = replace(sb, address=B, remote_address=A, port=PORT, remote_port=PORT)
    if edit:
        sa, sb = edit(sa, sb)
    try:
        ta, tb = UdpTransport(A, (PORT, NAT_T_PORT)), UdpTransport(B, (PORT, NAT_T_PORT))
    except OSError as e:
        pytest.skip(f"cannot bind loopback UDP ports: {e}")
    try:
        pa, pb = LivePeer(sa, nb, ta), LivePeer(sb, na, tb)
        pb.t0 = pa.t0
        pb.start()
        pa.start()
        while pa.now() < duration:
            for p in (pa, pb):
                p.step(p.now() + 0.002)
        for p in (pa, pb):  # both delete their SAs and keep reading until the Deletes are answered
            p.ep.close(p.now())
            p.flush()
        end = pa.now() + 1.0
        while pa.now() < end and (pa.ep.closing() or pb.ep.closing()):
            for p in (pa, pb):
                p.step(p.now() + 0.002)
        for _ in range(10):
            for p in (pa, pb):
                p.step(p.now() + 0.002)
        for p in (pa, pb):
            p.ep.finish(p.now())
    finally:
        ta.close()
        tb.close()
    peers = {na: sa, nb: sb}
    live = load_scenario(SCENARIOS / f"{name}.yaml").replace(
        {f"peers.{n}.address": s.address for n, s in peers.items()})
    return pa, pb, live


def names(peer: LivePeer) -> list[str]:
    return [e.event for e in peer.events]


def test_two_live_ikev2_peers_establish_over_udp(tmp_path: Path) -> None:
    a, b, live = pair("ikev2-basic", 0.3)
    for p in (a, b):
        assert "ike_sa_established" in names(p) and "child_sa_established" in names(p), names(p)
        assert isinstance(p.ep.rng, random.SystemRandom)  # keys from the OS CSPRNG, not the seed
    est = [next(e for e in p.events if e.event == "ike_sa_established") for p in (a, b)]
    assert est[0].fields["spi_i"] == est[1].fields["spi_i"] and est[0].fields["spi_r"] == est[1].fields["spi_r"]
    # the capture of A holds what A sent and exactly the octets B's socket delivered
    result = Result(live, live.seed, a.now(), a.events, {a.name: final_state(a.ep)}, a.transmissions,
                    clock="wall-clock")
    report = write_trace(result, TraceOptions(pcap=tmp_path / "a.pcapng", keys=tmp_path / "a.json"))
    sent = {p.name: sum(1 for e in p.events if e.event == "message_sent") for p in (a, b)}
    from_b = [t for t in a.transmissions if t.sender == b.name]
    assert len(from_b) == sent[b.name] >= 2 and report.frames["ike"] == sent[a.name] + sent[b.name]
    # nothing was unreadable (the crossing Deletes at the end may find their SA already gone)
    ignored = [e for e in a.events + b.events if e.event == "message_ignored"]
    assert all(e.fields["reason"] == "unknown IKE SA" for e in ignored)
    assert (tmp_path / "a.json").read_text().count("sk_ei") >= 1


def test_live_keys_differ_from_run_to_run() -> None:
    # same scenario, same seed: a simulated run repeats its SPIs; a live one must not
    a1, _, _ = pair("ikev2-basic", 0.2)
    a2, _, _ = pair("ikev2-basic", 0.2)
    spi = [next(e.fields["spi_i"] for e in p.events if e.event == "ike_sa_established") for p in (a1, a2)]
    assert spi[0] != spi[1]


def test_two_live_ikev1_peers_main_and_quick_mode() -> None:
    a, b, _ = pair("ikev1-main-mode", 0.4)
    for p in (a, b):
        assert "ike_sa_established" in names(p) and "child_sa_established" in names(p), names(p)


def test_live_unknown_peer_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", str(SCENARIOS / "ikev2-basic.yaml"), "--peer", "C", "--duration", "1s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--peer" in err[0] and "'C' is not a peer" in err[0] and "A, B" in err[0]


def test_live_address_not_on_this_host(capsys: pytest.CaptureFixture[str]) -> None:
    # ikev2-basic's peer A is 10.99.0.1, configured on no interface here
    assert main(["live", str(SCENARIOS / "ikev2-basic.yaml"), "--peer", "A", "--duration", "1s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "10.99.0.1" in err[0] and "cannot bind" in err[0]
