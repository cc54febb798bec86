"""strongSwan proposal syntax (docs.strongswan.org "Algorithm Proposals") and RFC 7296 2.7 choice."""

import pytest

from ipsecsim.proto.algorithms import ALGORITHMS, Kind, lookup
from ipsecsim.proto.proposals import ProposalError, Protocol, choose, match, parse


def names(algs):
    return [a.name for a in algs]


def test_single_ike_proposal_derives_prf_from_integrity():
    p = parse("aes128-sha256-modp2048", Protocol.IKE)
    assert names(p.encr) == ["aes128"] and names(p.integ) == ["sha256"]
    assert names(p.prf) == ["prfsha256"] and names(p.dh) == ["modp2048"]
    assert p.dh[0].ikev2_id == 14  # RFC 3526 group 14


def test_aead_ike_proposal_with_explicit_prf():
    # the docs' example: aes256gcm16-prfsha384-ecp384
    p = parse("aes256gcm16-prfsha384-ecp384", Protocol.IKE)
    assert p.aead and p.integ == () and names(p.prf) == ["prfsha384"] and p.dh[0].ikev2_id == 20
    assert p.encr[0].ikev2_id == 20 and p.encr[0].key_bits == 256  # ENCR_AES_GCM_16 (RFC 5282)


def test_alternatives_in_one_proposal_keep_their_order():
    # docs: "aes256gcm16-aes192gcm16-prfsha384-prfsha256-ecp384-modp3072" - order of kinds is irrelevant
    a = parse("aes256gcm16-aes192gcm16-prfsha384-prfsha256-ecp384-modp3072", Protocol.IKE)
    b = parse("aes256gcm16-prfsha384-ecp384-aes192gcm16-prfsha256-modp3072", Protocol.IKE)
    assert a == b
    assert names(a.encr) == ["aes256gcm16", "aes192gcm16"] and names(a.dh) == ["ecp384", "modp3072"]


def test_esp_proposals_default_to_no_esn_and_take_optional_pfs_group():
    p = parse("aes128-sha256", Protocol.ESP)
    assert names(p.esn) == ["noesn"] and p.dh == ()
    assert names(parse("aes128-sha256-modp2048", Protocol.ESP).dh) == ["modp2048"]
    assert parse("aes256gcm16", Protocol.ESP).integ == ()


@pytest.mark.parametrize("vendor_name,keyword", [
    # Huawei Cloud API enums and their strongSwan keywords
    ("aes256gcm16", "aes256gcm16"), ("aes128gcm16", "aes128gcm16"), ("aes256", "aes256"), ("aes192", "aes192"),
    ("aes128", "aes128"), ("3des", "3des"), ("sm4", "sm4"), ("sha512", "sha512"), ("sha384", "sha384"),
    ("sha256", "sha256"), ("sha1", "sha1"), ("md5", "md5"), ("sm3", "sm3"), ("modp768", "modp768"),
    ("modp1024", "modp1024"), ("modp1536", "modp1536"), ("modp2048", "modp2048"), ("modp3072", "modp3072"),
    ("modp4096", "modp4096"), ("ecp256", "ecp256"), ("ecp384", "ecp384"), ("ecp521", "ecp521"),
    # Alibaba (Alibaba Cloud API): aes, des, group2
    ("aes", "aes128"), ("des", "des"),
])
def test_every_seed_algorithm_is_known(vendor_name, keyword):
    assert lookup(vendor_name) is ALGORITHMS[keyword]


def test_huawei_dh_groups_map_to_iana_numbers():
    # Huawei Cloud API: group1, 2, 5, 14, 15, 16, 19, 20, 21
    groups = {a.ikev2_id for a in ALGORITHMS.values() if a.kind is Kind.DH}
    assert {1, 2, 5, 14, 15, 16, 19, 20, 21} <= groups


def test_sm_algorithms_are_marked_as_not_decryptable_by_wireshark():
    assert not ALGORITHMS["sm4"].iana and not ALGORITHMS["sm4"].wireshark
    assert not ALGORITHMS["sm3"].wireshark


@pytest.mark.parametrize("text,proto,fragment", [
    ("aes129-sha256-modp2048", Protocol.IKE, "unknown algorithm 'aes129'"),
    ("aes128-modp2048", Protocol.IKE, "no integrity"),
    ("aes128-sha256", Protocol.IKE, "no DH group"),
    ("aes128gcm16-modp2048", Protocol.IKE, "needs a PRF"),
    ("aes128gcm16-sha256", Protocol.ESP, "takes no integrity"),
    ("sha256-modp2048", Protocol.ESP, "no encryption"),
    ("aes128-sha256-prfsha256", Protocol.ESP, "IKE only"),
    ("", Protocol.ESP, "empty"),
])
def test_bad_proposals_explain_themselves(text, proto, fragment):
    with pytest.raises(ProposalError, match=fragment):
        parse(text, proto)


def test_unknown_algorithm_message_lists_the_allowed_keywords():
    with pytest.raises(ProposalError) as e:
        parse("aes128-sha257-modp2048", Protocol.IKE)
    assert "sha256" in str(e.value) and "modp2048" in str(e.value)


def test_responder_takes_first_initiator_proposal_it_accepts():
    """RFC 7296 2.7: the responder selects one proposal from the initiator's list."""
    offered = (parse("aes256-sha512-modp4096", Protocol.IKE), parse("aes128-sha256-modp2048", Protocol.IKE))
    accepted = (parse("aes128-sha256-modp2048", Protocol.IKE), parse("aes256-sha512-modp4096", Protocol.IKE))
    num, chosen = choose(offered, accepted)
    assert num == 1 and str(chosen) == "aes256-sha512-prfsha512-modp4096"


def test_within_a_proposal_the_initiators_transform_order_wins():
    offered = (parse("aes256-aes128-sha256-modp2048-ecp256", Protocol.IKE),)
    accepted = (parse("aes128-aes256-sha256-ecp256-modp2048", Protocol.IKE),)
    _, chosen = choose(offered, accepted)
    assert names(chosen.encr) == ["aes256"] and names(chosen.dh) == ["modp2048"]


def test_no_common_transform_means_no_proposal():
    assert choose((parse("aes128-sha256-modp2048", Protocol.IKE),),
                  (parse("aes128-sha1-modp2048", Protocol.IKE),)) is None


def test_pfs_group_is_ignored_when_no_key_exchange_happens():
    """IKE_AUTH carries no KE (RFC 7296 1.2): a PFS mismatch cannot show there."""
    with_pfs = parse("aes128-sha256-modp2048", Protocol.ESP)
    without = parse("aes128-sha256", Protocol.ESP)
    assert match(with_pfs, without) is None
    assert match(with_pfs, without, ignore_dh=True) is not None
