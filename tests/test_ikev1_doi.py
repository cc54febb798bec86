"""Attribute meanings (RFC 2409 Appendix A, RFC 2407 4.5), proxy identities (RFC 2407 4.6.2)
and the responder lifetime policies (racoon.conf(5) proposal_check)."""

from __future__ import annotations

import pytest

from ipsecsim.proto.ikev1 import doi
from ipsecsim.proto.ikev1.sa_life import DEFAULT_IPSEC_SECONDS, SaLife, decide
from ipsecsim.proto.proposals import Protocol, parse
from ipsecsim.proto.settings import Identity
from ipsecsim.proto.ts import TrafficSelector


def test_phase1_transform_attributes() -> None:
    """aes128-sha256-modp2048 with an 86400 s lifetime, PSK: Encryption Algorithm AES-CBC = 7
    (RFC 3602), Key Length 128, Hash SHA2-256 = 4 (RFC 4868), Authentication Method
    pre-shared key = 1, Group Description 14, Life Type seconds = 1 with a 4-octet Duration."""
    t = doi.phase1_transform(1, parse("aes128-sha256-modp2048", Protocol.IKE), SaLife(86400))
    assert t.transform_id == doi.KEY_IKE == 1
    assert t.attrs == ((1, 7), (14, 128), (2, 4), (3, 1), (4, 14), (11, 1), (12, (86400).to_bytes(4, "big")))
    prop, life = doi.parse_phase1(t)
    assert prop == parse("aes128-sha256-modp2048", Protocol.IKE)
    assert life == SaLife(86400)


def test_phase1_3des_sha1_group2() -> None:
    """3DES-CBC = 5, SHA = 2, group 2; a duration that fits 16 bits uses the basic form."""
    t = doi.phase1_transform(3, parse("3des-sha1-modp1024", Protocol.IKE), SaLife(28800))
    assert t.attrs == ((1, 5), (2, 2), (3, 1), (4, 2), (11, 1), (12, 28800))


def test_esp_transform_attributes() -> None:
    """ESP_AES = 12 (RFC 2407 4.4.4 / RFC 3602), Auth HMAC-SHA2-256 = 5 (RFC 4868), Key
    Length 128, Encapsulation tunnel = 1, Group 14 for PFS, lifetimes in seconds and KB."""
    p = parse("aes128-sha256-modp2048", Protocol.ESP)
    t = doi.esp_transform(1, p, SaLife(3600, 19531250))
    assert t.transform_id == 12
    assert dict((a, v) for a, v in t.attrs if a not in (1, 2)) == {3: 14, 4: 1, 5: 5, 6: 128}
    assert [a for a, _ in t.attrs][:4] == [1, 2, 1, 2]
    back, life, mode = doi.parse_esp(t)
    assert (back, life, mode) == (p, SaLife(3600, 19531250), doi.ENCAP_TUNNEL)


def test_esp_gcm_has_no_auth_attribute() -> None:
    """RFC 4106 8.4: AES-GCM-16 is ESP transform 20 with a Key Length and no Auth Algorithm."""
    t = doi.esp_transform(1, parse("aes256gcm16", Protocol.ESP), SaLife(3600))
    assert t.transform_id == 20 and t.attr(doi.P2_AUTH) is None and t.attr(doi.P2_KEY_LENGTH) == 256


def test_unknown_algorithms_are_refused() -> None:
    t = doi.phase1_transform(1, parse("aes128-sha256-modp2048", Protocol.IKE), SaLife())
    with pytest.raises(doi.DoiError, match="pre-shared"):
        doi.parse_phase1(doi.Transform(1, 1, tuple((a, 3 if a == 3 else v) for a, v in t.attrs)))
    with pytest.raises(doi.DoiError, match="ESP transform id"):
        doi.parse_esp(doi.Transform(1, 99, ()))


@pytest.mark.parametrize("net, id_type, data", [
    ("10.101.0.0/24", 4, bytes([10, 101, 0, 0, 255, 255, 255, 0])),   # ID_IPV4_ADDR_SUBNET
    ("192.0.2.7/32", 1, bytes([192, 0, 2, 7])),                        # ID_IPV4_ADDR
])
def test_proxy_identities(net: str, id_type: int, data: bytes) -> None:
    ts = TrafficSelector.from_network(net)
    p = doi.id_from_ts(ts)
    assert (p.id_type, p.data, p.protocol, p.port) == (id_type, data, 0, 0)
    assert doi.ts_from_id(p) == ts


def test_proxy_identity_range_and_port() -> None:
    """ID_IPV4_ADDR_RANGE (7) for a range that is no subnet; a single port is carried."""
    ts = TrafficSelector(int.from_bytes(bytes([10, 0, 0, 1]), "big"), int.from_bytes(bytes([10, 0, 0, 5]), "big"),
                         17, 500, 500)
    p = doi.id_from_ts(ts)
    assert (p.id_type, p.protocol, p.port) == (7, 17, 500)
    assert doi.ts_from_id(p) == ts


def test_phase1_identity_rules() -> None:
    """RFC 2407 4.6.2: phase 1 IDs carry protocol/port 0 or UDP 500; anything else is refused."""
    ident = Identity.parse("@vpn.example.com")
    p = doi.id_from_identity(ident)
    assert (p.id_type, p.data, p.protocol, p.port) == (2, b"vpn.example.com", 0, 0)
    assert doi.identity_from_id(p) == ident
    with pytest.raises(doi.DoiError):
        doi.identity_from_id(doi.ID(2, b"x", 6, 80))


# --- responder lifetime policies (racoon.conf(5) proposal_check; RFC 2407 4.6.3.1) -----------

@pytest.mark.parametrize("policy, proposed, own, ok, used, claimed", [
    ("obey", 28800, 3600, True, 28800, None),     # take the initiator's
    ("obey", 1800, 3600, True, 1800, None),
    ("strict", 28800, 3600, False, None, None),   # longer than ours: reject
    ("strict", 1800, 3600, True, 1800, None),     # shorter: use the initiator's
    ("claim", 28800, 3600, True, 3600, 3600),     # ours is shorter: use and announce it
    ("claim", 1800, 3600, True, 1800, None),
    ("exact", 1800, 3600, False, None, None),     # not equal: reject even if shorter
    ("exact", 3600, 3600, True, 3600, None),
])
def test_lifetime_policies(policy: str, proposed: int, own: int, ok: bool, used: int | None,
                           claimed: int | None) -> None:
    d = decide(policy, SaLife(proposed), SaLife(own))
    assert d.ok is ok
    if ok:
        assert d.life.seconds == used
        assert (d.claimed.seconds if d.claimed else None) == claimed
    else:
        assert policy in d.reason


def test_kilobytes_are_judged_separately() -> None:
    """A proposal without a volume lifetime means no limit: claim announces ours."""
    d = decide("claim", SaLife(3600, None), SaLife(3600, 19531250))
    assert d.ok and d.life == SaLife(3600, 19531250) and d.claimed == SaLife(None, 19531250)
    assert not decide("strict", SaLife(3600, None), SaLife(3600, 1000)).ok


def test_ipsec_default_lifetime() -> None:
    """RFC 2407 4.5: an IPsec SA without a seconds lifetime lives 28800 s."""
    assert DEFAULT_IPSEC_SECONDS == 28800
    assert SaLife(None, 5).with_ipsec_default() == SaLife(28800, 5)
    assert SaLife.from_settings(3960.0, 20_000_000_000) == SaLife(3960, 19531250)
