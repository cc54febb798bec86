"""Processing time (proto/cpu.py, a peer's ``cpu:``): a gateway computes before it acts.

Expected instants are the configured costs added up along the exchange (docs/cpu.md), and the
real strongSwan 5.9.8 captures of scenarios/captures/strongswan-5.9.8 (README there).
"""

from __future__ import annotations

import pytest
from factory import scenario_dict

from ipsecsim import load_scenario, simulate
from ipsecsim.errors import ConfigError
from ipsecsim.proto.cpu import COST_TABLES, STRONGSWAN_LAB1

C = STRONGSWAN_LAB1  # the table "strongswan-5.9.8" names (docs/cpu.md)
LINK = 0.005  # factory scenarios: the default link delay
# Lab 1's fit puts policy installation at 0 ms; the policy tests give it 4 ms (a per-peer cost,
# docs/cpu.md) so that whether a CHILD SA installs its policies shows in the instants.
POLICY = 0.004
WITH_POLICY = {"costs": "strongswan-5.9.8", "policy": "4ms"}


def _sent(result, peer, exchange, response):
    return [e for e in result.select("message_sent", peer=peer) if e.get("exchange") == exchange
            and e.get("response") == response]


def test_without_a_cpu_model_a_peer_answers_at_once():
    r = simulate(load_scenario(scenario_dict(link={"delay": "5ms"})))
    (resp,) = _sent(r, "B", "IKE_SA_INIT", True)
    assert resp.t == pytest.approx(LINK)


def test_the_ikev2_responder_answers_ike_sa_init_after_its_key_and_computes_the_secret_at_ike_auth():
    """MODP-2048 (group 14), strongSwan 5.9.8: the responder generates its key for the IKE_SA_INIT
    response (sa/ikev2/tasks/ike_init.c process_payloads: create_ke) and derives the IKE keys only
    when the next request arrives (ike_init.c build_r: "key derivation is done before the next
    request is processed"; task_manager_v2.c parse_message -> derive_keys, before the IKE_AUTH
    body is decrypted; since 5.9.7, commit 44629bbadb). The initiator derives them before it
    builds IKE_AUTH (task_manager_v2.c initiate -> derive_keys). charon's logs of S5-S8 show the
    3-4 ms of the responder's shared secret between "received packet" and "parsed IKE_AUTH
    request"."""
    cpu = {"costs": "strongswan-5.9.8"}
    r = simulate(load_scenario(scenario_dict(a={"cpu": cpu}, b={"cpu": cpu}, link={"delay": "5ms"})))
    # A's request leaves once A has made its own key (its own work, Cpu.outbound)
    (req,) = _sent(r, "A", "IKE_SA_INIT", False)
    assert req.t == pytest.approx(C.keygen)
    (resp,) = _sent(r, "B", "IKE_SA_INIT", True)
    b_work = C.message + C.keygen
    assert resp.t - req.t == pytest.approx(LINK + b_work)
    # the initiator: shared secret, key derivation and its AUTH before IKE_AUTH leaves
    (auth,) = _sent(r, "A", "IKE_AUTH", False)
    assert auth.t - resp.t == pytest.approx(LINK + C.message + C.secret + C.prf + C.auth)
    # the responder: shared secret and key derivation, verify and compute AUTH, install the
    # CHILD SA and its policies
    (done,) = _sent(r, "B", "IKE_AUTH", True)
    assert done.t == pytest.approx(auth.t + LINK + C.message + C.secret + C.prf + 2 * C.auth + C.install
                                   + C.policy)


def test_strongswan_s_key_generation_and_shared_secret_cost_the_same():
    """strongSwan 5.9.8 computes MODP groups with its gmp plugin, loaded before openssl (the
    captures' strongswan.conf: load = ... gmp openssl ...; crypto_factory.c add_entry keeps the
    registration order and create_ke takes the first constructor that succeeds): gmp_diffie_hellman.c
    computes the public value g^xa in its constructor and the secret yb^xa in get_shared_secret,
    each one mpz_powm_sec with the same exponent of exp_len = 256 octets (key_exchange.c
    diffie_hellman_init: dh_exponent_ansi_x9_42 defaults to yes). mpz_powm_sec takes the same
    time for any base (scripts/gmp-powm.c: 3.0 / 3.0 ms on the lab 2 machine, whose charon logged
    3 ms for each)."""
    for table in ("strongswan-5.9.8-lab1", "strongswan-5.9.8-lab2"):
        t = COST_TABLES[table]
        assert t.ikev2_secret_at_auth and not t.responder_secret_later
    assert C.keygen == C.secret


def test_a_cheaper_group_costs_less():
    """ECP-256 (group 19) is far cheaper than MODP-2048 (proto/cpu.py GROUP_FACTOR)."""
    cpu = {"costs": "strongswan-5.9.8"}
    ecp = {"ike": {"proposals": ["aes128-sha256-ecp256"]}, "cpu": cpu}
    r = simulate(load_scenario(scenario_dict(a=ecp, b=ecp, link={"delay": "5ms"})))
    (resp,) = _sent(r, "B", "IKE_SA_INIT", True)
    assert LINK < resp.t < LINK + (C.keygen + C.secret) / 5


def test_a_slow_responder_makes_the_initiator_retransmit_and_answers_the_copy_from_its_cache():
    """A 600 times slower responder needs 600 x (message + key generation) = 600 x 8.2 ms = 4.92 s
    for IKE_SA_INIT: strongSwan's first retransmission (4 s) reaches it while it computes; it
    waits, and once the response is out the copy costs one message and gets the cached response
    again (RFC 7296 2.1)."""
    slow = {"cpu": {"costs": "strongswan-5.9.8", "scale": 600}}
    r = simulate(load_scenario(scenario_dict(b=slow, link={"delay": "5ms"})))
    reqs = _sent(r, "A", "IKE_SA_INIT", False)
    assert [round(e.t, 3) for e in reqs] == [0.0, 4.0]
    resps = _sent(r, "B", "IKE_SA_INIT", True)
    first = LINK + 600 * (C.message + C.keygen)
    assert first > 4.0 + LINK
    assert [round(e.t, 4) for e in resps] == [round(first, 4), round(first + 600 * C.message, 4)]
    assert [e.get("retransmit") for e in resps] == [0, 1]
    assert r.status("A") == "ipsec_sa_established" and r.status("B") == "ipsec_sa_established"


def test_jitter_is_seeded():
    jit = {"cpu": {"costs": "strongswan-5.9.8", "jitter": 20}}
    runs = [simulate(load_scenario(scenario_dict(a=jit, b=jit, seed=s))) for s in (1, 1, 2)]
    times = [_sent(r, "B", "IKE_SA_INIT", True)[0].t - _sent(r, "A", "IKE_SA_INIT", False)[0].t for r in runs]
    assert times[0] == times[1] != times[2]
    nominal = LINK + C.message + C.keygen
    assert all(abs(t - nominal) <= 0.2 * (nominal - LINK) + 1e-9 for t in times)


def test_a_rekey_reuses_the_policies_of_the_child_sa_it_replaces():
    """strongSwan installs policies for a new CHILD SA only: a CHILD rekey costs the SA pair."""
    cpu = WITH_POLICY
    a = {"cpu": cpu, "child": {"rekey_time": "20s", "rand_time": "0s"}}
    r = simulate(load_scenario(scenario_dict(a=a, b={"cpu": cpu}, link={"delay": "5ms"})))
    req = _sent(r, "A", "CREATE_CHILD_SA", False)[0]
    resp = _sent(r, "B", "CREATE_CHILD_SA", True)[0]
    assert resp.t - req.t == pytest.approx(LINK + C.message + C.prf + C.install)  # no POLICY


def test_a_rekey_started_by_the_other_peer_also_reuses_the_policies():
    """The same selector pair arrives as TSi/TSr swapped when the peer that did not initiate
    the IKE SA starts the rekey (RFC 7296 2.9: TSi is the initiator's side). The real strongSwan
    capture S8 (scenarios/captures/strongswan-5.9.8, README: equal CHILD rekey timers, B's timer
    first) shows A answering B's CREATE_CHILD_SA in 0.6 ms: no policy installation (4 ms)."""
    cpu = WITH_POLICY
    child = {"rekey_time": "20s", "rand_time": "0s"}
    r = simulate(load_scenario(scenario_dict(a={"cpu": cpu}, b={"cpu": cpu, "child": child},
                                             link={"delay": "5ms"})))
    req = _sent(r, "B", "CREATE_CHILD_SA", False)[0]
    resp = _sent(r, "A", "CREATE_CHILD_SA", True)[0]
    assert resp.t - req.t == pytest.approx(LINK + C.message + C.prf + C.install)  # no POLICY


def test_a_rekey_with_ke_leaves_after_the_initiator_made_its_key_and_retransmits_from_then():
    """A timer job's own work: an IKE SA rekey carries a fresh KE (RFC 7296 1.3.2), which the
    initiator makes before the request can leave. charon's S9 log shows it (A: 'initiating
    IKE_SA lab[2]' 22:44:47.620, the CREATE_CHILD_SA request with KE 22:44:47.623; lab 2's key
    generation is 3 ms). The request's retransmission timer starts when it leaves: with B
    frozen, the first copy follows 4 s later (strongswan.conf retransmit_timeout 4 s)."""
    cpu = {"costs": "strongswan-5.9.8-lab2"}
    lab2 = COST_TABLES["strongswan-5.9.8-lab2"]
    a = {"cpu": cpu, "ike": {"rekey_time": "20s", "rand_time": "0s", "over_time": "60s"}}
    r = simulate(load_scenario(scenario_dict(a=a, b={"cpu": cpu}, link={"delay": "5ms"}, duration="30s",
                                             faults=[{"at": "19s", "kind": "freeze", "peer": "B"}])))
    (established,) = [e for e in r.select("ike_sa_established", peer="A")]
    reqs = _sent(r, "A", "CREATE_CHILD_SA", False)
    assert reqs[0].t == pytest.approx(established.t + 20.0 + lab2.keygen)
    assert reqs[1].get("retransmit") == 1 and reqs[1].t == pytest.approx(reqs[0].t + 4.0)


def test_a_child_rekey_without_pfs_costs_the_initiator_nothing_before_it_leaves():
    """No KE, no key to make: the CREATE_CHILD_SA request leaves when the rekey timer fires
    (real capture S8: A's rekey at 40.017 s, 20.001 s after it installed the CHILD SA at
    20.016 s)."""
    cpu = {"costs": "strongswan-5.9.8-lab2"}
    a = {"cpu": cpu, "child": {"rekey_time": "20s", "rand_time": "0s"}}
    r = simulate(load_scenario(scenario_dict(a=a, b={"cpu": cpu}, link={"delay": "5ms"}, duration="25s")))
    (installed,) = [e for e in r.select("child_sa_established", peer="A")][:1]
    req = _sent(r, "A", "CREATE_CHILD_SA", False)[0]
    assert req.t == pytest.approx(installed.t + 20.0)


def _hub(workers: int | None, branches: int = 3) -> dict:
    """A hub terminating ``branches`` tunnels (one peer per tunnel, all at the hub's address,
    config/topology.py); every branch initiates at 0 s."""
    d = scenario_dict(link={"delay": "5ms"}, duration="5s")
    a, b = d["peers"].pop("A"), d["peers"].pop("B")
    cpu = {"costs": "strongswan-5.9.8", **({"workers": workers} if workers else {})}
    for k in range(1, branches + 1):
        d["peers"][f"hub{k}"] = {**b, "remote_peer": f"branch{k}", "cpu": cpu,
                                 "remote_subnets": [f"10.{110 + k}.0.0/24"]}
        d["peers"][f"branch{k}"] = {**a, "address": f"10.99.1.{k}", "remote_peer": f"hub{k}",
                                    "local_subnets": [f"10.{110 + k}.0.0/24"], "cpu": {"costs": "strongswan-5.9.8"}}
    return d


def test_a_hub_computes_for_different_tunnels_in_parallel_up_to_its_workers():
    """strongSwan's thread pool runs jobs of different IKE SAs at once (strongswan.conf
    ``charon.threads``, default 16, docs.strongswan.org strongswanConf); each IKE SA is checked
    out to one thread (ike_sa_manager.c checkout). Three branches' IKE_SA_INIT requests reach
    the hub together: with the default the three answers leave together, one worker's cost
    after the requests arrive; with one worker they leave one cost apart."""
    b_work = C.message + C.keygen  # the shared secret waits for IKE_AUTH
    arrive = C.keygen + LINK  # each branch made its own key first
    for workers, expected in ((None, [1, 1, 1]), (1, [1, 2, 3])):
        r = simulate(load_scenario(_hub(workers)))
        sent = sorted(e.t for k in range(1, 4) for e in _sent(r, f"hub{k}", "IKE_SA_INIT", True))
        assert sent == pytest.approx([arrive + n * b_work for n in expected])
        assert all(r.status(f"hub{k}") == "ipsec_sa_established" for k in range(1, 4))


def test_peers_of_one_gateway_must_agree_on_its_workers():
    d = _hub(2)
    d["peers"]["hub2"]["cpu"] = {"costs": "strongswan-5.9.8", "workers": 4}
    with pytest.raises(ConfigError, match=r"cpu\.workers"):
        load_scenario(d)


def test_measured_vendors_compute_by_default_and_cpu_none_answers_at_once():
    """The strongswan and libreswan profiles turn on the tables measured on real charon and
    pluto runs (docs/cpu.md); the other vendors have no measurement and say cpu: none; a peer
    that writes cpu: none answers at once whatever its profile."""
    from ipsecsim.config import profiles
    tables = {n: profiles.load(n).nested().get("cpu") for n in profiles.names()}
    assert tables.pop("strongswan") == {"costs": "strongswan-5.9.8"}
    assert tables.pop("libreswan") == {"costs": "libreswan-4.10"}
    assert set(tables.values()) == {"none"}
    d = scenario_dict(link={"delay": "5ms"})
    for p in d["peers"].values():
        del p["cpu"]  # the profile's default
    r = simulate(load_scenario(d))
    assert _sent(r, "A", "IKE_SA_INIT", False)[0].t == pytest.approx(C.keygen)
    instant = scenario_dict(a={"cpu": "none"}, b={"cpu": "none"}, link={"delay": "5ms"})
    assert _sent(simulate(load_scenario(instant)), "B", "IKE_SA_INIT", True)[0].t == pytest.approx(LINK)


def test_ikev1_main_mode_charges_each_computation_where_strongswan_does_it():
    """strongSwan 5.9.8, MODP-2048, PSK. The initiator generates its key while it builds message
    3 (sa/ikev1/tasks/main_mode.c build_i, state MM_SA: phase1.c create_dh; the gmp plugin computes
    g^xa in its constructor, gmp_diffie_hellman.c create_generic). The responder generates its key on
    message 3 (process_r MM_SA: create_dh) and computes the shared secret and SKEYID while it
    builds message 4 (build_r MM_KE: phase1.c derive_keys -> keymat_v1.c derive_ike_keys ->
    get_shared_secret; set_public_key only stores the peer's value, the secret is computed on
    first use). On message 4 the initiator computes the shared secret and SKEYID (process_i
    MM_KE: derive_keys) and HASH_I (build_i MM_KE: build_auth): no key generation there."""
    peer = {"ike": {"version": 1}, "cpu": {"costs": "strongswan-5.9.8"}}
    r = simulate(load_scenario(scenario_dict(a=peer, b=peer, link={"delay": "5ms"})))
    mm_a = _sent(r, "A", "IDENTITY_PROTECTION", False)
    mm_b = _sent(r, "B", "IDENTITY_PROTECTION", True)
    m1, m3, m5 = (m.t for m in mm_a[:3])
    m2, m4, m6 = (m.t for m in mm_b[:3])
    assert m2 - m1 == pytest.approx(LINK + C.message)
    assert m3 - m2 == pytest.approx(LINK + C.message + C.keygen)
    assert m4 - m3 == pytest.approx(LINK + C.message + C.keygen + C.secret + C.prf)
    assert m5 - m4 == pytest.approx(LINK + C.message + C.secret + C.prf + C.auth)
    assert m6 - m5 == pytest.approx(LINK + C.message + 2 * C.auth)


def test_aggressive_mode_message_3_leaves_before_the_pfs_key_of_the_quick_mode_after_it():
    """strongSwan 5.9.8 sa/ikev1/task_manager_v1.c ``initiate``: aggressive mode message 3 expects
    no response, so it is sent (``send_packets``) and only then ``return initiate(this)`` builds
    quick mode message 1, whose PFS key is generated while it is built (quick_mode.c build_i ->
    create_dh). Message 3 does not wait for that key; quick mode message 1 does. MODP-3072 (group
    15): GROUP_FACTOR 2.9 x the MODP-2048 costs; the responder computes nothing (cpu: none)."""
    a = {"ike": {"version": 1, "mode": "aggressive", "proposals": ["aes128-sha256-modp3072"]},
         "child": {"proposals": ["aes128-sha256-modp3072"]}, "cpu": {"costs": "strongswan-5.9.8"}}
    b = {"ike": {"version": 1, "mode": "aggressive", "proposals": ["aes128-sha256-modp3072"]},
         "child": {"proposals": ["aes128-sha256-modp3072"]}, "cpu": "none"}
    r = simulate(load_scenario(scenario_dict(a=a, b=b, link={"delay": "5ms"})))
    keygen, secret = 2.9 * C.keygen, 2.9 * C.secret
    am1, am3 = (m.t for m in _sent(r, "A", "AGGRESSIVE", False))
    (qm1, _qm3) = (m.t for m in _sent(r, "A", "QUICK_MODE", False))
    assert am1 == pytest.approx(keygen)  # 30.45 ms: its own key first
    # message 2 back at 2 x 5 ms later; A: the secret, SKEYID, HASH_R and HASH_I, the message
    assert am3 == pytest.approx(am1 + 2 * LINK + C.message + secret + C.prf + 2 * C.auth)  # 54.5 ms
    assert r.first("ike_sa_established", "B").t == pytest.approx(am3 + LINK)
    assert qm1 == pytest.approx(am3 + keygen)  # 84.95 ms: the PFS key after message 3 left


def test_the_last_child_sa_deleted_takes_its_policies_and_the_next_one_installs_them_again():
    """strongSwan child_sa.c ``destroy`` -> ``del_policies``: the kernel interfaces refcount a
    policy and remove it with its last CHILD SA. A's DPD gives up on the frozen B and deletes
    its CHILD SA (action restart); the CHILD SA of the new IKE SA installs the policies again
    (docs/cpu.md: IKE_AUTH response = message + AUTH + CHILD SA + policies). B's old CHILD SA
    still exists when the new one is installed (INITIAL_CONTACT removes it afterwards): B reuses
    them. A rekeyed CHILD SA keeps them (test_a_rekey_reuses_the_policies_of_the_child_sa_it_replaces)."""
    cpu = WITH_POLICY
    a = {"cpu": cpu, "dpd": {"delay": "5s", "action": "restart"}, "retransmit": {"timeout": "1s", "base": 1.8,
                                                                             "tries": 3}}
    r = simulate(load_scenario(scenario_dict(a=a, b={"cpu": cpu}, link={"delay": "5ms"}, duration="1m",
                                             faults=[{"at": "12s", "kind": "freeze", "peer": "B",
                                                      "duration": "18s"}])))
    assert r.first("peer_dead", "A") is not None
    first, second = r.select("child_sa_established", "A")
    b_first, b_second = _sent(r, "B", "IKE_AUTH", True)
    assert first.t - (b_first.t + LINK) == pytest.approx(C.message + C.auth + C.install + POLICY)
    assert second.t - (b_second.t + LINK) == pytest.approx(C.message + C.auth + C.install + POLICY)
    _, a_second = _sent(r, "A", "IKE_AUTH", False)
    # B, the IKEv2 responder, computes the secret and the keys when IKE_AUTH arrives; no POLICY
    assert b_second.t - (a_second.t + LINK) == pytest.approx(C.message + C.secret + C.prf + 2 * C.auth
                                                             + C.install)


def test_a_negotiation_started_by_traffic_waits_for_its_key_like_any_other():
    """docs/cpu.md: an IKE_SA_INIT request leaves when its key is made, whatever started it. A
    packet that finds no SA (start: on-traffic, strongSwan start_action=trap: an acquire) starts
    the negotiation; its request leaves MODP-2048 key generation (7.1 ms) after the packet."""
    cpu = {"costs": "strongswan-5.9.8"}
    r = simulate(load_scenario(scenario_dict(
        a={"cpu": cpu, "start": "on-traffic"}, b={"cpu": cpu}, link={"delay": "5ms"}, duration="10s",
        traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": "1s", "start": "2s"}])))
    assert r.first("negotiation_triggered", "A").t == pytest.approx(2.0)
    (req,) = _sent(r, "A", "IKE_SA_INIT", False)
    assert req.t == pytest.approx(2.0 + C.keygen)
