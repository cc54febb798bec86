"""Vendor ID payloads an IKEv1 peer may send (RFC 2408 3.16), named as strongSwan names them.

A Vendor ID the core does not know is accepted and ignored (RFC 2408 3.16: it announces
capabilities the receiver may not have). ``describe`` gives the name strongSwan 5.9.8 logs
for the known ones ("received DPD vendor ID"), from its table in
src/libcharon/sa/ikev1/tasks/isakmp_vendor.c (``vendor_ids`` and ``vendor_natt_ids``, with its
matching rules: some IDs are prefixes, Cisco Unity ignores its last two octets, FRAGMENTATION
its flags word). A strongSwan 5.9.8 main mode initiator sends XAuth, DPD, FRAGMENTATION, NAT-T
(RFC 3947) and draft-ietf-ipsec-nat-t-ike-02\\n (real capture: tests/data/strongswan-5.9.8).
"""

from __future__ import annotations

from typing import Final

# (name, id, is a prefix of longer IDs)
KNOWN: Final[tuple[tuple[str, bytes, bool], ...]] = (
    ("strongSwan", bytes.fromhex("882fe56d6fd20dbc2251613b2ebe5beb"), False),
    ("XAuth", bytes.fromhex("09002689dfd6b712"), False),
    ("DPD", bytes.fromhex("afcad71368a1f1c96b8696fc77570100"), False),  # RFC 3706 5.1
    ("MS NT5 ISAKMPOAKLEY", bytes.fromhex("1e2b516905991c7d7c96fcbfb587e461"), True),
    ("Cisco VPN Concentrator", bytes.fromhex("1f07f70eaa6514d3b0fa96542a50"), True),
    ("Cisco VPN 3000 client", bytes.fromhex("f6f7efc7f5aeb8cb158cb9d094ba69e7"), False),
    ("KAME/racoon", bytes.fromhex("7003cbc1097dbe9c2600ba6983bc8b35"), False),
    ("Fortigate", bytes.fromhex("1d6e178f6c2c0be284985465450fe9d4"), False),
    ("Checkpoint Firewall", bytes.fromhex("f4ed19e0c114eb516faaac0ee37daf2807b4381f"), True),
    ("NetScreen Technologies", bytes.fromhex("699369228741c6d4ca094c93e242c9de19e7b7c6"), True),
    ("Juniper SRX", bytes.fromhex("fd808804df73b15150709d878044cde0ac1efcde"), False),
    ("NAT-T (RFC 3947)", bytes.fromhex("4a131c81070358455c5728f20e95452f"), False),
    ("draft-ietf-ipsec-nat-t-ike-03", bytes.fromhex("7d9419a65310ca6f2c179d9215529d56"), False),
    ("draft-ietf-ipsec-nat-t-ike-02", bytes.fromhex("cd60464335df21f87cfdb2fc68b6a448"), False),
    ("draft-ietf-ipsec-nat-t-ike-02\\n", bytes.fromhex("90cb80913ebb696e086381b5ec427b1f"), False),
    ("draft-ietf-ipsec-nat-t-ike-08", bytes.fromhex("8f8d83826d246b6fc7a8a6a428c11de8"), False),
    ("draft-ietf-ipsec-nat-t-ike-07", bytes.fromhex("439b59f8ba676c4c7737ae22eab8f582"), False),
    ("draft-ietf-ipsec-nat-t-ike-06", bytes.fromhex("4d1e0e136deafa34c4f3ea9f02ec7285"), False),
    ("draft-ietf-ipsec-nat-t-ike-05", bytes.fromhex("80d0bb3def54565ee84645d4c85ce3ee"), False),
    ("draft-ietf-ipsec-nat-t-ike-04", bytes.fromhex("9909b64eed937c6573de52ace952fa6b"), False),
    ("draft-ietf-ipsec-nat-t-ike-00", bytes.fromhex("4485152d18b6bbcd0be8a8469579ddcc"), False),
    ("draft-ietf-ipsec-nat-t-ike", bytes.fromhex("4df37928e9fc4fd1b3262170d515c662"), False),
)
CISCO_UNITY: Final = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")
FRAGMENTATION: Final = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d3")
_FRAGMENTATION_IKE: Final = 0x80000000


def describe(data: bytes) -> str | None:
    """strongSwan's name of a Vendor ID, or None for one it does not know."""
    if len(data) == 16 and data[:14] == CISCO_UNITY[:14]:
        return "Cisco Unity"
    if len(data) == 20 and data[:16] == FRAGMENTATION:
        return "FRAGMENTATION" if int.from_bytes(data[16:], "big") & _FRAGMENTATION_IKE else None
    for name, vid, prefix in KNOWN:
        if (data[:len(vid)] if prefix else data) == vid:
            return name
    return None
