"""The measured cost tables of proto/cpu.py against the real runs they come from.

strongSwan 5.9.8: scenarios/captures/strongswan-5.9.8 (README there): S1-S4c recorded on one
machine (lab 1), S5-S9 on another (lab 2, with charon's logs beside the captures). Expected
values come from the captures' packets and the daemons' logs, never from the program.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import pytest
from conftest import SCENARIOS

from ipsecsim import load_scenario
from ipsecsim.config.loader import read_yaml
from ipsecsim.proto.cpu import COST_TABLES
from ipsecsim.sim.runner import simulate
from ipsecsim.trace.capture import read_ike_messages
from ipsecsim.trace.compare import compare_run

SWAN = SCENARIOS / "captures" / "strongswan-5.9.8"
RUNS = {  # scenario -> (capture, compared up to this many seconds)
    "s1-ikev2-establish": ("S1_ikev2_establish_psk_modp2048.pcap", None),
    "s2a-ikev2-dpd-clear": ("S2a_ikev2_dpd_clear_rt1_1.8_3.pcap", None),
    "s3-ikev1-dpd-timeout": ("S3_ikev1_dpd_delay5_timeout20.pcap", None),
    "s4c-child-rekey-mismatch": ("S4c_rekey_mismatch_childA20_childB40_rand0.pcap", None),
    # S5 up to 38 s: the captured check at 39.017 s left 25 ms late, the recording machine stalled
    # (its logs; not repeated in S5b-S5e: tests/test_compare_timer_captures.py)
    "s5-ikev2-dpd-restart": ("S5_ikev2_dpd_restart_rt1_1.8_3.pcap", 38.0),
    "s6-ikev2-no-responder": ("S6_ikev2_no_responder_rt1_1.8_5.pcap", None),
    "s7-child-rekey-rand": ("S7_child_rekey_rand_A20_rand5.pcap", 1.0),  # its rekeys are random draws
    "s8-child-rekey-equal": ("S8_child_rekey_equal_A20_B20_rand0.pcap", None),
    "s9-ike-and-child-rekey": ("S9_ike_and_child_rekey_A20_rand0.pcap", None),
    "s10-ikev2-silent-responder": ("S10_ikev2_silent_responder_default_rt.pcapng", None),
}
# S9b and S11 were recorded on a heavily loaded machine (README there: sequence references only)
LAB1 = ("s1-ikev2-establish", "s2a-ikev2-dpd-clear", "s3-ikev1-dpd-timeout", "s4c-child-rekey-mismatch")


def largest(scenario: str, table: str) -> float:
    """The largest time difference over the messages before the first difference in sequence
    (what follows depends on behaviour, not on costs: S5, S9)."""
    capture, until = RUNS[scenario]
    data = read_yaml(SWAN / f"{scenario}.yaml")
    peers = {n: {**p, "cpu": {**p["cpu"], "costs": table}} for n, p in data["peers"].items()}
    sc = load_scenario({**data, "peers": peers})
    result = simulate(sc)
    c = compare_run(result.transmissions, read_ike_messages(SWAN / capture),
                    {n: s.address for n, s in sc.peers.items()}, run_end=result.duration)
    worst = 0.0
    for kind, cap, sim in c.rows:
        if kind != "match" or cap is None or sim is None or (until is not None and cap.t > until):
            break
        worst = max(worst, abs(sim.t - cap.t))
    return worst


def test_each_capture_is_held_within_10_ms_by_the_table_of_its_machine():
    for scenario in RUNS:
        table = "strongswan-5.9.8-lab1" if scenario in LAB1 else "strongswan-5.9.8-lab2"
        assert read_yaml(SWAN / f"{scenario}.yaml")["peers"]["A"]["cpu"]["costs"] == table
        assert largest(scenario, table) <= 0.010, scenario


def test_the_default_strongswan_table_is_the_one_that_holds_for_more_captures():
    within = {t: sum(largest(s, t) <= 0.010 for s in RUNS) for t in ("strongswan-5.9.8-lab1", "strongswan-5.9.8-lab2")}
    best = max(within, key=lambda t: within[t])
    assert within[best] > min(within.values())
    assert COST_TABLES["strongswan-5.9.8"] is COST_TABLES[best]


def _log_time(line: str) -> float:
    t = datetime.strptime(line[:12], "%H:%M:%S.%f")
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def test_lab2_key_generation_is_what_charon_logged():
    """S9, A's charon.log: 'initiating IKE_SA lab[1]' at 22:44:27.603 and 'generating
    IKE_SA_INIT request 0 [ SA KE ... ]' at 22:44:27.606 (the MODP-2048 key made in between);
    the IKE rekey likewise: 'initiating IKE_SA lab[2]' 22:44:47.620, 'generating
    CREATE_CHILD_SA request 2 [ SA No KE ]' 22:44:47.623. Millisecond log stamps: +-1 ms."""
    log = (SWAN / "S9_ike_and_child_rekey_A20_rand0" / "runA" / "charon.log").read_text().splitlines()
    starts = [_log_time(x) for x in log if re.search(r"initiating IKE_SA lab\[[12]\]", x)]
    sends = [_log_time(x) for x in log if "<lab|1>" in x and ("generating IKE_SA_INIT request 0" in x
             or "generating CREATE_CHILD_SA request 2 [ SA No KE ]" in x)]
    assert len(starts) == len(sends) == 2
    for start, send in zip(starts, sends, strict=True):
        assert COST_TABLES["strongswan-5.9.8-lab2"].keygen == pytest.approx(send - start, abs=0.0011)


def _line_at(lines: list[str], text: str, start: int = 0) -> tuple[float, int]:
    """(log instant, index after it) of the first line from ``start`` on that holds ``text``."""
    k = next(i for i in range(start, len(lines)) if text in lines[i])
    return _log_time(lines[k]), k + 1


def test_the_strongswan_responder_computes_the_ikev2_shared_secret_when_ike_auth_arrives():
    """B's charon.log of every lab 2 run with logs: between "received supported signature hash
    algorithms" and "remote host is behind NAT" the responder makes its key (ike_init.c
    process_payloads -> create_ke), and the IKE_SA_INIT response is generated in the same
    millisecond as the NAT line: no shared secret before it. The secret comes between the worker's
    "received packet ... (288 bytes)" of IKE_AUTH and "parsed IKE_AUTH request 1"
    (task_manager_v2.c parse_message -> derive_keys, before the body is decrypted). On the
    unloaded runs (S5, S7, S8) each takes 3-4 ms, the same within the logs' millisecond
    resolution (gmp: one mpz_powm_sec each), the key generation the lab 2 table's; the runs
    recorded on a loaded machine (S5b-S5e, S9b, S11) take longer but never compute the secret
    before the response."""
    runs = ["S5", "S7", "S8", "S5b", "S5c", "S5d", "S5e", "S9b", "S11"]
    lab2 = COST_TABLES["strongswan-5.9.8-lab2"]
    assert lab2.ikev2_secret_at_auth
    for run in runs:
        (log,) = SWAN.glob(f"{run}_*/B.charon.log")
        lines = log.read_text().splitlines()
        hashes, i = _line_at(lines, "received supported signature hash algorithms")
        nat, i = _line_at(lines, "remote host is behind NAT", i)
        response, i = _line_at(lines, "generating IKE_SA_INIT response 0", i)
        received, i = _line_at(lines, "(288 bytes)", i)
        parsed, _ = _line_at(lines, "parsed IKE_AUTH request 1", i)
        assert response - nat <= 0.0011, run
        assert nat - hashes >= 0.002 and parsed - received >= 0.002, run
        if run in ("S5", "S7", "S8"):
            assert nat - hashes == pytest.approx(lab2.keygen, abs=0.0011)
            assert 0.002 <= parsed - received <= 0.005
            assert parsed - received == pytest.approx(nat - hashes, abs=0.0015)


SWAN_L = SCENARIOS / "captures" / "libreswan-4.10"
L_IKEV2 = ["L1_ikev2_establish_psk_modp2048"] + [f"L3_ikev2_establish_psk_modp2048_r{i}" for i in range(1, 5)]
L_IKEV1 = [f"L4_ikev1_main_quick_psk_modp2048_r{i}" for i in range(1, 4)]


def _gaps(capture: str, n: int) -> list[float]:
    t = [m.t for m in read_ike_messages(SWAN_L / f"{capture}.pcap")[:n]]
    return [b - a for a, b in itertools.pairwise(t)]


def test_the_libreswan_table_is_the_median_of_the_captured_ikev2_setups():
    """Five real pluto-pluto IKEv2 setups (README there). Libreswan's responder makes only its
    key for the IKE_SA_INIT response and computes the shared secret when IKE_AUTH arrives
    (``responder_secret_later``); the medians of the three intervals are what the table adds
    up to, within 0.3 ms."""
    from statistics import median
    gaps = [_gaps(c, 4) for c in L_IKEV2]
    r_init, i_auth, r_auth = (median(g[k] for g in gaps) for k in range(3))
    c = COST_TABLES["libreswan-4.10"]
    assert c.responder_secret_later
    assert c.message + c.keygen == pytest.approx(r_init, abs=0.0003)
    assert c.message + c.secret + c.prf + c.auth == pytest.approx(i_auth, abs=0.0003)
    assert c.message + c.secret + c.prf + 2 * c.auth + c.install + c.policy == pytest.approx(r_auth, abs=0.0003)


@pytest.mark.parametrize("scenario, capture", [("l3-ikev2-establish", f"L3_ikev2_establish_psk_modp2048_r{i}")
                                               for i in range(1, 5)]
                         + [("l4-ikev1-main-quick", c) for c in (L_IKEV1[0], L_IKEV1[2])])
def test_every_libreswan_setup_is_reproduced_within_10_ms(scenario, capture):
    sc = load_scenario(SWAN_L / f"{scenario}.yaml")
    result = simulate(sc)
    c = compare_run(result.transmissions, read_ike_messages(SWAN_L / f"{capture}.pcap"),
                    {n: s.address for n, s in sc.peers.items()}, run_end=result.duration)
    assert c.sequence_differences == 0 and not c.id_differences()
    assert len(c.pairs) == (4 if "ikev2" in capture else 9)
    assert max(abs(p.dt) for p in c.pairs) <= 0.010


def test_the_ikev1_runs_spread_wider_than_any_fixed_table_can_follow():
    """Main mode and quick mode (9 messages) took 9.1 ms in L4 r2 and 46.8 ms in L2, the same
    configuration on the same machine (README: the machine was loaded while recording): more than
    20 ms apart, so no table holds both within 10 ms; the table reproduces r1 and r3 (above),
    r2 is the fastest run and its last message comes more than 10 ms early in the capture."""
    fast = sum(_gaps("L4_ikev1_main_quick_psk_modp2048_r2", 9))
    slow = sum(_gaps("L2_ikev1_main_quick_psk_modp2048", 9))
    assert fast == pytest.approx(0.0091, abs=0.0002) and slow == pytest.approx(0.0468, abs=0.0002)
    assert slow - fast > 0.020
