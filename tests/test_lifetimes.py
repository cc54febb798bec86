"""Soft and hard lifetimes: the styles of the vendor documents (proto/lifetime.py,
config/lifetimes.py) and the shipped profile values with their sources."""

from __future__ import annotations

import random

import pytest
from factory import scenario_dict, two_peers

from ipsecsim import simulate
from ipsecsim.config.loader import load_scenario
from ipsecsim.errors import ConfigError
from ipsecsim.proto.lifetime import Lifetime, Limit, retry_delay


def draws(limit: Limit, initiator: bool = True, n: int = 2000) -> list[float]:
    rng = random.Random(7)
    return [limit.draw(rng, initiator)[0] for _ in range(n)]  # type: ignore[misc]


def test_strongswan_defaults_from_swanctl() -> None:
    """swanctl.conf: CHILD rekey_time 1h, life_time = rekey_time + 10 %, rand_time = life - rekey;
    IKE rekey_time 4h, over_time 10 % of rekey_time, rand_time = over_time."""
    a, _ = two_peers()
    t = a.child.lifetime.time
    assert (t.life, t.rekey, t.rand) == (3960.0, 3600.0, 360.0)
    assert a.child.life_time == 3960.0
    i = a.ike.lifetime.time
    assert (i.life, i.rekey, i.rand) == (15840.0, 14400.0, 1440.0)
    assert a.child.lifetime.bytes.rekey is None and a.child.delete_rekeyed_delay == 5.0
    d = draws(t)
    assert min(d) >= 3240 and max(d) <= 3600 and max(d) - min(d) > 300


def test_strongswan_rekey_time_moves_life_time() -> None:
    """DESIGN.md's `child: {rekey_time: 1h}` and any other rekey_time: life follows (+10 %)."""
    a, _ = two_peers({"child": {"rekey_time": "4h"}})
    assert (a.child.lifetime.time.life, a.child.lifetime.time.rand) == (15840.0, 1440.0)


def test_huawei_cloud_rekeys_at_minute_54() -> None:
    """Huawei Cloud CN FAQ: a 3600 s IPsec SA is renegotiated at the 54th minute (90 %)."""
    a, _ = two_peers({"profile": "huawei-cloud"})
    t = a.child.lifetime.time
    assert (t.life, t.rekey, t.rand) == (3600.0, 54 * 60.0, 0.0)
    a, _ = two_peers({"profile": "huawei-cloud", "child": {"life_time": "2h"}})
    assert a.child.lifetime.time.rekey == 0.9 * 7200
    b = a.child.lifetime.bytes
    assert (b.life, b.rekey) == (20e9, 18e9)
    ike = a.ike.lifetime.time  # 9/10 of 86400 s +- random (modelled 88-92 %)
    lo, hi = ike.soft_range()  # type: ignore[misc]
    assert (lo, hi) == (0.88 * 86400, 0.92 * 86400)


def test_margin_fuzz_legacy_ipsec_conf() -> None:
    """ipsec.conf / Libreswan: rekey = life - margin - random(0, margin * fuzz); Libreswan
    defaults rekeymargin 9m, rekeyfuzz 100 %: soft in [life - 18m, life - 9m]."""
    a, _ = two_peers({"child": {"life_time": "8h", "rekey_margin": "9m", "rekey_fuzz": "100%"}})
    t = a.child.lifetime.time
    d = draws(t)
    assert min(d) >= 8 * 3600 - 18 * 60 and max(d) <= 8 * 3600 - 9 * 60
    assert t.follows == "margin"
    assert t.with_life(3600).soft_range() == (3600 - 18 * 60, 3600 - 9 * 60)


def test_libreswan_role_dependent_margin_and_volume() -> None:
    """Libreswan rekeyfuzz.c: the initiator's margin grows by up to fuzz, the responder's is
    halved; byte soft limits 12.5-25 % (initiator) and 37.5-50 % (responder) of the hard limit."""
    a, _ = two_peers({"child": {"life_time": "8h", "rekey_margin": {"initiator": "9m", "responder": "4.5m"},
                                "rekey_fuzz": {"initiator": "100%", "responder": "0%"},
                                "life_bytes": "1GB", "rekey_bytes": {"initiator": "25%", "responder": "50%"},
                                "rand_bytes": "12.5%"}})
    t, b = a.child.lifetime.time, a.child.lifetime.bytes
    assert t.soft_range(False) == (8 * 3600 - 270, 8 * 3600 - 270)
    assert b.soft_range(True) == (125e6, 250e6)
    assert b.soft_range(False) == (375e6, 500e6)
    assert all(375e6 <= x <= 500e6 for x in draws(b, initiator=False))


def test_percentage_follows_a_negotiated_lifetime() -> None:
    """Huawei: the soft lifetime is a share of the hard one, whatever lifetime an IKEv1 peer
    settles on (Limit.with_life is what an IKEv1 engine calls)."""
    lim = Limit(3600.0, 3240.0, 0.0, follows="fraction")
    assert lim.with_life(28800).soft_range() == (25920.0, 25920.0)
    assert Lifetime(lim).with_life_time(1800).time.rekey == 1620.0


def test_retry_delay_is_strongswan_10_to_30s() -> None:
    rng = random.Random(1)
    d = [retry_delay(rng) for _ in range(500)]
    assert 10 <= min(d) and max(d) <= 30


def test_scenario_margin_replaces_profile_rekey_time() -> None:
    """The strongswan profile sets rekey_time; a scenario using rekey_margin replaces it."""
    a, _ = two_peers({"child": {"life_time": "1h", "rekey_margin": "5m", "rekey_fuzz": 0}})
    assert a.child.lifetime.time.soft_range() == (3300.0, 3300.0)
    a, _ = two_peers({"ike": {"rekey_time": "1h", "life_time": "2h"}})  # life_time replaces over_time 10 %
    assert (a.ike.lifetime.time.life, a.ike.lifetime.time.rekey) == (7200.0, 3600.0)


@pytest.mark.parametrize(("child", "path", "words"), [
    ({"rekey_time": "2h", "life_time": "1h"}, "peers.A.child.rekey_time", "must be below life_time"),
    ({"rekey_time": "90%", "life_time": "110%"}, "peers.A.child.life_time", "absolute"),
    ({"rekey_time": "1h", "life_time": "90%"}, "peers.A.child.life_time", "more than 100 %"),
    ({"rekey_bytes": "50%"}, "peers.A.child.rekey_bytes", "life_bytes, which is not set"),
    ({"rekey_margin": "9m", "life_time": "5m"}, "peers.A.child.rekey_margin", "shorter than life_time"),
    ({"rand_time": "2h"}, "peers.A.child.rand_time", "larger than rekey_time"),
    ({"rekey_time": {"initiator": "1h"}}, "peers.A.child.rekey_time", "initiator and responder"),
    ({"rekey_margin": "10%"}, "peers.A.child.rekey_margin", "not a percentage"),
    ({"rekey_fuzz": "lots"}, "peers.A.child.rekey_fuzz", "percentage"),
])
def test_bad_lifetimes_name_field_and_reason(child: dict, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario_dict({"child": child}))
    assert err.value.path == path and words in str(err.value)


def test_huawei_range_checked_on_effective_value() -> None:
    """Huawei Cloud API: ipsecpolicy lifetime_seconds 30-604800, checked after percentages resolve."""
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario_dict({"profile": "huawei-cloud", "child": {"life_time": "8d"}}))
    assert err.value.path == "peers.A.child.life_time" and "30s-604800s" in str(err.value)


def test_margin_longer_than_an_adopted_ikev1_lifetime_keeps_its_share() -> None:
    """AWS (EC2 API: Phase2LifetimeSeconds 3600, RekeyMarginTimeSeconds 270, RekeyFuzzPercentage
    100) adopting a peer's 90 s IPsec SA lifetime (RFC 2409 4.5 / RFC 2407 4.5: the responder may
    use the proposed lifetime). A 270 s margin does not fit below 90 s, so the soft point keeps
    the share of the lifetime AWS's own values give (docs/lifetimes.md, IKEv1): rekey at
    3330/3600 of 90 s = 83.25 s, fuzz 270/3600 of 90 s = 6.75 s; a margin that fits stays."""
    _, aws = two_peers(None, {"profile": "aws-site-to-site"})
    t = aws.child.lifetime.time
    assert (t.life, t.rekey, t.rand, t.follows) == (3600.0, 3330.0, 270.0, "margin")
    assert t.with_life(90).soft_range() == pytest.approx((76.5, 83.25))
    assert t.with_life(90).soft_range(False) == pytest.approx((76.5, 83.25))
    assert t.with_life(900).soft_range() == (900 - 540, 900 - 270)


def test_ikev1_peer_adopting_a_shorter_lifetime_rekeys_before_it() -> None:
    """Both peers initiate IKEv1; Alibaba Cloud proposes a 90 s IPsec SA lifetime, AWS takes it
    (RFC 2409 4.5) and so draws its soft point within 76.5-83.25 s of each SA it installs (AWS
    margin 270 s of 3600 s, fuzz 100 %, as a share of 90 s): no SA reaches its hard limit."""
    result = simulate(load_scenario(scenario_dict(
        {"profile": "alibaba-cloud", "ike": {"version": 1}, "dpd": {"delay": 0},
         "child": {"life_time": 90, "rekey_time": "80%"}},
        {"profile": "aws-site-to-site", "start": "initiate", "ike": {"version": 1}, "dpd": {"delay": 0}},
        duration=180, seed=0)))
    hard = result.select("sa_expired", "B", kind="hard", sa_type="child")
    soft = [e.get("limit") for e in result.select("sa_expired", "B", kind="soft", sa_type="child")]
    assert soft and all(76.5 <= s <= 83.25 for s in soft) and not hard
