"""``ipsecsim overhead``: what tunnel-mode ESP adds to a packet, per algorithm, and the largest
packet and TCP MSS that still cross a path MTU unfragmented.

For each ESP proposal (strongSwan syntax; every cipher x integrity combination it lists):
the IV (RFC 3602 3, RFC 3686 3, RFC 4106 3.1, RFC 7634 2), the ICV (RFC 2403/2404, RFC 4868
2.3, RFC 4106 6), the padding unit (cipher block, at least 4, RFC 4303 2.4), then the
largest inner packet whose ESP packet - outer IPv4 20 + [UDP 8 for NAT traversal, RFC
3948] + SPI 4 + Seq 4 + IV + inner + padding + 2 + ICV - fits the MTU, and the TCP MSS of
that packet (minus IPv4 20 and TCP 20). The last columns check one MSS (default 1300, the
Huawei Cloud FAQ's "set the customer-side TCP MAX-MSS to 1300", Huawei Cloud API): the size of its
largest segment's ESP packet. The arithmetic is ``proto.esp_size``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .errors import ConfigError
from .proto.algorithms import Algorithm
from .proto.cipher import esp_overhead
from .proto.esp_size import IPV4_HEADER, MIN_MTU, TCP_HEADER, largest_inner, outer_size
from .proto.proposals import ProposalError, Protocol, parse

DEFAULT_PROPOSALS = ("aes128-sha1", "aes128-sha256", "aes256-sha256", "aes256-sha384", "aes256-sha512",
                     "aes128gcm16", "aes256gcm16", "aes128ctr-sha256", "chacha20poly1305", "3des-sha1",
                     "aes128-md5", "sm4-sm3")
"""Common ESP choices: the AES-CBC / HMAC-SHA family of the cloud defaults (Huawei Cloud API: aes-128 with
sha2-256), AES-GCM, the legacy 3DES / MD5, and the Chinese SM4 / SM3 of "GM" gateways."""

FAQ_MSS = 1300
"""Huawei Cloud FAQ ("VPN连接保活"): set the customer gateway's TCP MAX-MSS to 1300."""

HEADERS = IPV4_HEADER + TCP_HEADER  # an MSS-sized segment is MSS + 40 octets of IP packet


@dataclass(frozen=True, slots=True)
class Row:
    """One cipher / integrity combination."""

    name: str
    encr: Algorithm
    integ: Algorithm | None
    fixed: int
    """ESP octets besides padding: SPI + Seq + IV + Pad Length + Next Header + ICV."""
    align: int
    """The padding unit: plaintext | padding | 2 ends on a multiple of it."""

    def largest(self, mtu: int, nat: bool) -> int | None:
        return largest_inner(self.encr, self.integ, mtu, nat)

    def outer(self, inner: int, nat: bool) -> int:
        return outer_size(self.encr, self.integ, inner, nat)


def rows(proposals: list[str] | tuple[str, ...]) -> list[Row]:
    """One row per cipher x integrity combination of each proposal; ConfigError if one does not parse."""
    out = []
    for i, text in enumerate(proposals):
        try:
            p = parse(text, Protocol.ESP)
        except ProposalError as e:
            raise ConfigError(None, f"PROPOSAL {i + 1} ({text!r})", str(e)) from None
        integs: list[Algorithm | None] = [None] if p.aead else list(p.integ)
        for encr, integ in itertools.product(p.encr, integs):
            name = encr.name if integ is None else f"{encr.name}-{integ.name}"
            icv = encr.icv_bytes if encr.aead else (integ.icv_bytes if integ is not None else 0)
            # padding of an empty payload: -(0 + 2) mod align = align - 2
            align = esp_overhead(encr, integ, 0) - (8 + encr.iv_bytes + 2 + icv) + 2
            out.append(Row(name, encr, integ, 8 + encr.iv_bytes + 2 + icv, align))
    return out


def report(proposals: list[str] | tuple[str, ...], mtu: int, mss: int, nat_only: bool = False) -> list[str]:
    """The table and a verdict on ``mss``, as lines of text."""
    if not MIN_MTU <= mtu <= 65535:
        raise ConfigError(None, "--mtu", f"{mtu} is not an IPv4 MTU; allowed: {MIN_MTU}-65535 (RFC 791)")
    if not 1 <= mss <= 65535 - HEADERS:
        raise ConfigError(None, "--mss", f"{mss} is not a TCP MSS; allowed: 1-{65535 - HEADERS}")
    table = rows(list(proposals) or list(DEFAULT_PROPOSALS))
    modes = (True,) if nat_only else (False, True)
    width = max(12, *(len(r.name) for r in table))
    label = {False: "ESP", True: "NAT-T"}
    lines = [f"Tunnel-mode ESP over a path MTU of {mtu} octets: outer IPv4 header 20"
             + (", UDP 8 (NAT traversal, RFC 3948)." if nat_only else "; NAT-T: ESP in UDP, 8 more (RFC 3948)."),
             "ESP octets = SPI 4 + Seq 4 + IV + Pad Length 1 + Next Header 1 + ICV, plus padding to the pad unit "
             "(RFC 4303 2).", f"MSS = packet - 40 (IPv4 20 + TCP 20); MSS {mss} = {mss + HEADERS}-octet packets.", ""]
    cols = "".join(f"  {label[n]:>11}" for n in modes)
    group1, group2 = ("largest packet / MSS", f"MSS {mss} on the wire") if len(modes) == 2 else \
        ("largest/MSS", f"MSS {mss}")
    lines.append(f"{'':<{width}}  {'':>3}  {'':>3}  {'pad':>4}  {'ESP':>9}  {group1:>{13 * len(modes) - 2}}"
                 f"  {group2:>{13 * len(modes) - 2}}")
    lines.append(f"{'proposal':<{width}}  {'IV':>3}  {'ICV':>3}  {'unit':>4}  {'octets':>9}{cols}{cols}")
    lines.append("-" * len(lines[-1]))
    worst: tuple[int, str, bool] | None = None
    for r in table:
        line = (f"{r.name:<{width}}  {r.encr.iv_bytes:>3}  {r.fixed - 10 - r.encr.iv_bytes:>3}  {r.align:>4}  "
                f"{f'{r.fixed}+0..{r.align - 1}':>9}")
        for nat in modes:
            big = r.largest(mtu, nat)
            shown = "none" if big is None else f"{big}/{big - HEADERS}" if big > HEADERS else f"{big}/-"
            line += f"  {shown:>11}"
        for nat in modes:
            wire = r.outer(mss + HEADERS, nat)
            if worst is None or mtu - wire < worst[0]:
                worst = (mtu - wire, r.name, nat)
            line += f"  {f'{wire} ' + ('ok' if wire <= mtu else 'BIG'):>11}"
        lines.append(line)
    assert worst is not None
    spare, name, nat = worst
    where = f"{name}{' with NAT-T' if nat else ''}"
    if spare >= 0:
        modes_text = " with NAT-T" if nat_only else ", with and without NAT-T"
        lines += ["", f"MSS {mss} fits every proposal listed{modes_text}: the tightest is {where}, "
                      f"{mtu - spare} octets on the wire, {spare} to spare."]
    else:
        lines += ["", f"MSS {mss} does NOT fit every proposal: {where} needs {mtu - spare} octets on the wire, "
                      f"{-spare} more than the MTU (with DF set such packets are dropped)."]
    return lines
