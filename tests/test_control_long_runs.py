"""The IKE control plane over long runs: dead peer detection on every IKE SA, whatever
established it (IKE_AUTH, a rekey started by either side, the SA kept after a rekey collision,
a new SA after a reboot); message ids that never repeat; an SA at its hard lifetime that stops;
events in time order; unilateral tunnels named in the final state.

The rule every DPD check below derives from (strongSwan swanctl.conf ``dpd_delay``: "interval
to check the liveness of a peer actively using IKEv2 INFORMATIONAL exchanges or IKEv1
R_U_THERE messages ... only sent if no other traffic was received"; RFC 3706 5.3): without ESP
traffic, a periodic DPD side sends its first check exactly ``dpd_delay`` after the last message
it received from the peer. So with DPD on one side only, every check that side starts is
``dpd_delay`` after the last message it received, and checks follow each other every
``dpd_delay`` + one round trip for as long as the link is up.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from itertools import pairwise
from typing import Any

import pytest
from conftest import ROOT, SCENARIOS, run_shipped
from factory import scenario_dict

from ipsecsim import load_scenario, simulate
from ipsecsim.config.loader import deep_merge
from ipsecsim.proto.events import Event
from ipsecsim.result import Result

DELAY = 30.0  # dpd_delay in these runs
RTT = 0.01  # link delay 5 ms each way
# strongSwan task_manager_v2.c retransmit(): (uint32_t)(4.0 * 1000.0 * pow(1.8, k)) ms, k = 0..5:
# 4000 + 7200 + 12960 + 23328 + 41990 + 75582 ms = 165.060 s
GIVE_UP = sum(int(4.0 * 1000.0 * 1.8 ** k) for k in range(6)) / 1000.0


def run(data: dict[str, Any]) -> Result:
    return simulate(load_scenario(data))


def sa_key(e: Event) -> tuple[str, str]:
    return (str(e.get("spi_i")), str(e.get("spi_r")))


def made_at(r: Result, peer: str) -> dict[tuple[str, str], float]:
    """When each IKE SA of ``peer`` came to be: IKE_AUTH / phase 1, or the IKEv2 rekey that made it."""
    out = {sa_key(e): e.t for e in r.events_named("ike_sa_established", peer)}
    for e in r.events_named("ike_sa_rekeyed", peer):
        out.setdefault((str(e.get("new_spi_i")), str(e.get("new_spi_r"))), e.t)
    return out


def assert_dpd_rhythm(r: Result, peer: str, delay: float, until: float, rtt: float = RTT,
                      job: bool = True) -> list[Event]:
    """strongSwan's check job (the strongswan profile of these runs, IKEv1 and IKEv2 alike;
    sa/ike_sa.c send_dpd: a job every ``delay`` that sends a check when ws(now) - ws(last inbound)
    >= delay in whole seconds, and otherwise runs again delay - diff later): a check ``peer``
    starts (first transmission) on an IKE SA leaves when that whole-second difference has reached
    ``delay``, within (delay - 1, delay + 1) s of the last message it received on that SA (or of
    the SA's making, if nothing came since); ``job=False``, the idle rule: exactly ``delay``
    after it. No SA goes without a message or a check for longer than that bound + a round trip
    while it carries messages, and checks go on up to ``until``. Returns the checks."""
    made = made_at(r, peer)
    received: dict[tuple[str, str], list[float]] = {}
    for e in r.events_named("message_received", peer):
        received.setdefault(sa_key(e), []).append(e.t)
    probes = [e for e in r.events_named("dpd_probe_sent", peer) if e.get("retry") == 0]
    assert probes, f"{peer} never checked liveness"
    slack = 1.0 if job else 0.0
    for p in probes:
        last = max([made[sa_key(p)], *(t for t in received.get(sa_key(p), []) if t < p.t)])
        if job:
            assert math.floor(p.t + 1e-9) - math.floor(last + 1e-9) >= delay, (p, last)
            assert delay - 1 < p.t - last < delay + 1, (p, last)
        else:
            assert p.t == pytest.approx(last + delay, abs=1e-6), (p, last)
    # never silent on an SA for longer than dpd_delay (+ 1 s) + a round trip without a check going out
    for key, times in received.items():
        mine = sorted([made.get(key, times[0]), *times, *(p.t for p in probes if sa_key(p) == key)])
        gaps = [b - a for a, b in pairwise(mine)]
        assert max(gaps, default=0.0) <= delay + slack + rtt + 1e-6, (key, max(gaps))
    assert until - probes[-1].t <= delay + slack + rtt + 1e-6, f"{peer}: last check {probes[-1].t}, run to {until}"
    return probes


def one_sided(version: int, a: dict[str, Any], b: dict[str, Any], **top: Any) -> dict[str, Any]:
    return scenario_dict(deep_merge({"ike": {"version": version}}, a), deep_merge({"ike": {"version": version}}, b),
                         link={"delay": "5ms"}, **top)


# --- DPD after an IKE SA rekey, whoever starts it -------------------------------------------

@pytest.mark.parametrize("rekeyer", ["A", "B"])
def test_ikev2_dpd_runs_on_every_ike_sa_after_rekeys_by_either_side(rekeyer: str) -> None:
    """A runs DPD (30 s), B none. The IKE SA is rekeyed every hour (rand_time 0) by ``rekeyer``;
    A must check liveness on each new IKE SA exactly as on the first, for 4 h."""
    fast = {"ike": {"rekey_time": "1h", "rand_time": "0s"}}
    slow = {"ike": {"rekey_time": "10h"}}
    a = {"dpd": {"delay": "30s", "action": "clear"}, **(fast if rekeyer == "A" else slow)}
    b = fast if rekeyer == "B" else slow
    r = run(one_sided(2, a, b, duration="4h"))
    rekeys = r.events_named("ike_sa_rekeyed", "A")
    # A's SAs: established 0.02 s, each rekey 10 ms after the last (request, response): 3600.02,
    # 7200.03 and 10800.04 s within the 4 h; B's: 0.015 s + 3600 s each, seen at A 5 ms later
    assert len(rekeys) == 3
    assert all(e.get("initiator") is (rekeyer == "A") for e in rekeys)
    probes = assert_dpd_rhythm(r, "A", DELAY, 4 * 3600.0)
    # the first check on each new IKE SA: dpd_delay after the SA was made (the rekey message
    # that made it is the last one heard; the old SA's Delete travels on the old SA)
    for e in rekeys:
        new = (str(e.get("new_spi_i")), str(e.get("new_spi_r")))
        on_new = [p for p in probes if sa_key(p) == new]
        if e.t + DELAY < 4 * 3600.0:
            assert on_new, f"no DPD check on the IKE SA made at {e.t}"
            assert on_new[0].t == pytest.approx(e.t + DELAY, abs=1e-6)
    assert not r.events_named("peer_dead")


def test_ikev1_dpd_runs_on_every_isakmp_sa_after_reauthentication() -> None:
    """IKEv1: the ISAKMP SA is replaced by a new main mode every hour; A's R-U-THERE checks move
    to each new ISAKMP SA and keep the dpd_delay rhythm."""
    a = {"dpd": {"delay": "30s", "action": "clear"}, "ike": {"rekey_time": "1h", "rand_time": "0s"}}
    r = run(one_sided(1, a, {}, duration="4h"))
    assert len(r.events_named("ike_sa_rekeyed", "A")) == 3  # 3600.03, 7200.06, 10800.09 s
    probes = assert_dpd_rhythm(r, "A", DELAY, 4 * 3600.0)
    established = [sa_key(e) for e in r.events_named("ike_sa_established", "A")]
    assert len(established) == 4 and {sa_key(p) for p in probes} == set(established), \
        "a check on each of the 4 ISAKMP SAs"


# --- DPD on the SA kept after an IKE rekey collision (RFC 7296 2.8.1) ----------------------

def collision(dpd_on: str) -> Result:
    """Both ends rekey the IKE SA within 10 ms of each other (rand_time 0) over a 50 ms link:
    each request is sent before the other arrives. DPD (30 s) runs on ``dpd_on`` only."""
    dpd = {"dpd": {"delay": "30s", "action": "clear"}}
    # 599.96 s is not a swanctl.conf value (whole seconds): exact timer arithmetic keeps the offset
    a = {"ike": {"version": 2, "rekey_time": "599.96s", "rand_time": "0s", "life_time": "15m"}, "timers": "exact"}
    b = {"ike": {"version": 2, "rekey_time": "10m", "rand_time": "0s", "life_time": "15m"}, "timers": "exact"}
    (a if dpd_on == "A" else b).update(dpd)
    return run(scenario_dict(a, b, link={"delay": "50ms"}, duration="14m"))


def test_ikev2_dpd_runs_on_the_ike_sa_kept_after_a_collision_winner_and_loser() -> None:
    runs = {p: collision(p) for p in ("A", "B")}
    outcomes = {}
    for peer, r in runs.items():
        col = r.first("rekey_collision", peer, sa_type="ike")
        assert col is not None, f"{peer}: no IKE rekey collision"
        outcomes[peer] = col.get("outcome")
        kept = col.get("keeping")
        assert isinstance(kept, dict)
        made = next(e for e in r.events_named("ike_sa_rekeyed", peer)
                    if e.get("new_spi_i") == kept["spi_i"])
        probes = [p for p in r.events_named("dpd_probe_sent", peer) if p.get("retry") == 0
                  and sa_key(p) == (kept["spi_i"], kept["spi_r"])]
        assert probes, f"{peer} ({outcomes[peer]}) never checks the IKE SA it kept"
        # nothing arrives on the kept SA after it is made: first check dpd_delay later
        assert probes[0].t == pytest.approx(made.t + DELAY, abs=1e-6)
        assert_dpd_rhythm(r, peer, DELAY, 14 * 60.0, rtt=0.1)
    # DPD settings draw nothing from the seeded streams: the same nonces, one winner, one loser
    assert sorted(outcomes.values()) == ["lost", "won"]


# --- DPD after a reboot (restart fault) ---------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2])
def test_dpd_runs_on_the_sa_made_after_a_reboot(version: int) -> None:
    """B reboots at 100 s (fresh state, start respond); A's DPD (action restart) finds it dead
    and negotiates anew. B's own DPD (30 s, clear) must run on that new SA."""
    a = {"dpd": {"delay": "60s", "action": "restart"}}
    b = {"dpd": {"delay": "30s", "action": "clear"}}
    r = run(one_sided(version, a, b, duration="30m", faults=[{"at": "100s", "kind": "restart", "peer": "B"}]))
    assert r.first("peer_dead", "A", action="restart") is not None
    up = [e for e in r.events_named("ike_sa_established", "B") if e.t > 100]
    assert len(up) == 1
    new = sa_key(up[0])
    probes = [p for p in r.events_named("dpd_probe_sent", "B") if sa_key(p) == new and p.get("retry") == 0]
    assert probes and probes[0].t > up[0].t
    assert_dpd_rhythm(r, "B", DELAY, 30 * 60.0)
    assert r.summary()["peers"]["B"]["tunnel"]["state"] == "up"


# --- message ids and hard expiry ------------------------------------------------------------

def hard_expiry_after_dpd_gave_up() -> Result:
    """A: DPD 30 s with action none, IKE hard lifetime 30 min, no rekey; the link goes down at
    1750 s, so the check A starts at its last inbound + 30 s is still being retransmitted when
    the hard lifetime ends the SA at 1800.02 s (established 0.02 s)."""
    a = {"ike": {"rekey_time": "0s", "life_time": "30m"}, "dpd": {"delay": "30s", "action": "none",
                                                                   "gave_up_deletes": False}}
    b = {"ike": {"rekey_time": "10h"}}
    return run(one_sided(2, a, b, duration="1h", faults=[{"at": "1750s", "kind": "link_down"}]))


def test_message_ids_grow_per_ike_sa_and_direction() -> None:
    """RFC 7296 2.2: each new request on an IKE SA takes the next message id, also after a
    request whose retransmissions gave up (here the Delete sent at hard expiry after a
    liveness check that was never answered)."""
    # and a CHILD rekey at 600.02 s on an IKE SA whose liveness check (from ~300 s) gave up at ~495 s
    # (gave_up_deletes off: a vendor whose action none keeps the IKE SA, unlike strongSwan)
    rekey_after = one_sided(2, {"dpd": {"delay": "30s", "action": "none", "gave_up_deletes": False},
                                "child": {"rekey_time": "10m", "rand_time": "0s"}}, {},
                            duration="20m", faults=[{"at": "5m", "kind": "link_down"}])
    gave_up_run = run(rekey_after)
    gave_up = gave_up_run.first("retransmit_gave_up", "A", task="ike_dpd")
    assert gave_up is not None and gave_up_run.first("sa_expired", "A", sa_type="child", kind="soft") is not None
    for r in (hard_expiry_after_dpd_gave_up(), gave_up_run):
        last: dict[tuple[str, str, str], int] = {}
        for e in r.events_named("message_sent"):
            if e.get("response") or e.get("retransmit") or e.get("exchange") == "IKE_SA_INIT":
                continue
            key = (e.peer, *sa_key(e))
            msg_id = int(e.get("msg_id"))
            if key in last:
                assert msg_id == last[key] + 1, f"{e.peer} request {msg_id} after {last[key]} on {key[1:]} at {e.t}"
            last[key] = msg_id


def test_an_ike_sa_at_its_hard_lifetime_stops_its_exchange_and_sends_the_delete_at_once() -> None:
    r = hard_expiry_after_dpd_gave_up()
    hard = r.first("sa_expired", "A", sa_type="ike", kind="hard")
    assert hard is not None and hard.t == pytest.approx(1800.02)
    after = [e for e in r.events_named("message_sent", "A") if e.t >= hard.t]
    # only the Delete and its retransmissions (RFC 7296 1.4.1), at once and on the schedule
    assert after and all(e.get("payloads") == ["D"] for e in after)
    # task_manager_v2.c retransmit(): waits of whole ms 4000, 7200, 12960, 23328, 41990
    assert [round(e.t - hard.t, 6) for e in after] == [0.0, 4.0, 11.2, 24.16, 47.488, 89.478]
    gone = r.first("ike_sa_deleted", "A")
    assert gone is not None and gone.get("reason") == "expired"
    assert gone.t == pytest.approx(hard.t + GIVE_UP)
    assert not [e for e in r.events if e.peer == "A" and e.t > gone.t and e.event == "message_sent"]


# --- events in time order ---------------------------------------------------------------------

def test_a_reboot_reports_the_drops_it_ends_when_it_ends_them() -> None:
    """A flow to B while B is crashed is dropped (peer_down); the restart at 110 s ends that
    interval. The event is recorded at 110 s, after the crash fault, not at the crash time."""
    r = run(scenario_dict(duration="3m", link={"delay": "5ms"},
                          traffic=[{"name": "f", "kind": "bulk", "from": "A", "to": "B", "rate": "8Mbit/s",
                                    "start": "1s"}],
                          faults=[{"at": "100s", "kind": "crash", "peer": "B", "duration": "10s"}]))
    times = [e.t for e in r.events]
    assert times == sorted(times)
    drop = r.first("traffic_dropped", "B", reason="peer_down")
    assert drop is not None and drop.t == pytest.approx(110.0) and drop.get("end") == pytest.approx(109.995)


# --- unilateral tunnels in the final state --------------------------------------------------

def test_unilateral_tunnel_is_named_whatever_its_cause() -> None:
    # one side without DPD: the shipped FAQ case, cut at 10 min (the cloud cleared, the customer not)
    faq = run_shipped("unilateral-tunnel-no-dpd", duration=600)
    t = faq.summary()["peers"]
    assert (t["customer"]["tunnel"]["state"], t["cloud"]["tunnel"]["state"]) == ("unilateral", "unilateral")
    assert t["customer"]["tunnel"]["believes_up"] and not t["cloud"]["tunnel"]["believes_up"]
    customer_out = [c["spi_out"] for c in t["customer"]["child_sas"]]
    assert t["customer"]["tunnel"]["black_hole"] == customer_out and t["cloud"]["tunnel"]["black_hole"] == []
    # a crash and a reboot as responder only: B lost everything, A (no DPD) still sends
    r = run(one_sided(2, {}, {}, duration="5m", faults=[{"at": "60s", "kind": "restart", "peer": "B"}]))
    p = r.summary()["peers"]
    assert p["A"]["tunnel"]["state"] == "unilateral" and p["A"]["tunnel"]["believes_up"]
    assert p["B"]["status"] == "ike_sa_not_established"
    # DPD on both sides: both cleared, the tunnel is down, not unilateral
    both = {"dpd": {"delay": "30s", "action": "clear"}}
    r = run(one_sided(2, both, both, duration="10m", faults=[{"at": "60s", "kind": "link_down"}]))
    assert {p["tunnel"]["state"] for p in r.summary()["peers"].values()} == {"down"}


def test_final_state_text_names_the_unilateral_tunnel() -> None:
    proc = subprocess.run([sys.executable, "-m", "ipsecsim", "run", str(SCENARIOS / "unilateral-tunnel-no-dpd.yaml"),
                           "--duration", "10m"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    state = proc.stdout.split("Final state", 1)[1]
    assert "unilateral tunnel: customer believes it up and sends on" in state
    assert "cloud has no inbound SA for: cloud drops that traffic" in state
    proc = subprocess.run([sys.executable, "-m", "ipsecsim", "run", str(SCENARIOS / "unilateral-tunnel-no-dpd.yaml"),
                           "--duration", "10m", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout)["peers"]["customer"]["tunnel"]["state"] == "unilateral"


def test_ikev2_inbound_flow_keeps_dpd_quiet_on_the_ike_sa_after_a_rekey() -> None:
    """swanctl.conf dpd_delay: checks are "only sent if no other traffic was received". A steady
    flow arrives at A the whole time; the IKE SA is rekeyed at 1 h; the new IKE SA knows the
    flow is still arriving and sends no check either. When the flow stops (at 1 h 30 min, the
    last packets arriving 5 ms later) A checks dpd_delay after that."""
    a = {"dpd": {"delay": "30s", "action": "clear"}, "ike": {"rekey_time": "1h", "rand_time": "0s"}}
    flow = {"kind": "bulk", "from": "B", "to": "A", "rate": "1Mbit/s", "start": "1s", "stop": "90m"}
    r = run(one_sided(2, a, {}, duration="2h", traffic=[flow]))
    assert len(r.events_named("ike_sa_rekeyed", "A")) == 1  # 3600.02 s
    probes = [p.t for p in r.events_named("dpd_probe_sent", "A") if p.get("retry") == 0]
    # strongSwan's check job (ike_sa.c send_dpd) runs every 30 s from the new IKE SA's creation
    # (the rekey response reaches A at 3600.03 s); while the flow arrives diff = 0. The last
    # packets arrive at 5400.005 s (whole second 5400): the job at 5400.03 s finds diff 0, the
    # one at 5430.03 s diff = 5430 - 5400 = 30 and sends the check (the idle rule would say
    # 5400.005 + 30 = 5430.005 s).
    made = r.first("ike_sa_rekeyed", "A")
    assert made is not None and made.t == pytest.approx(3600.03)
    assert probes and probes[0] == pytest.approx(3600.03 + 61 * DELAY, abs=1e-6), probes[:3]
