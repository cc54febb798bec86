"""Key records: what a packet trace needs to know about the SAs a peer set up.

The SSLKEYLOGFILE of ipsecsim. Engines append these to ``Endpoint.keylog`` as SAs are
created (a reference per SA, nothing computed), and ``trace.keyfile`` turns them into the
key file Wireshark's decryption tables take:

* ``EspSaKeys``: one direction of an ESP SA (RFC 4303), the row of Wireshark's "ESP SAs"
  table: outer source and destination, SPI, encryption and authentication algorithm and
  keys (AES-CTR / GCM keys end with their 4-octet salt, RFC 3686 5.1 / RFC 4106 8.1);
* ``Ikev1Keys``: an ISAKMP SA, the row of Wireshark's "IKEv1 Decryption Table": the
  initiator cookie and the phase-1 encryption key derived from SKEYID_e (RFC 2409
  Appendix B);
* IKEv2 SAs are described by ``ikev2.wire.IkeKeys``, which encrypted IKEv2 datagrams carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from .algorithms import Algorithm
from .esp_size import esp_integ
from .sa import ChildSa


@dataclass(frozen=True, slots=True)
class EspSaKeys:
    """One direction of an ESP SA, as the sender's SAD holds it."""

    src: str
    """Outer source address: the sending tunnel endpoint."""
    dst: str
    spi: bytes
    """4 octets, chosen by the receiver (RFC 4303 2.1)."""
    encr: Algorithm
    integ: Algorithm | None
    """None with an AEAD cipher (RFC 4106: no separate integrity algorithm)."""
    enc_key: bytes
    """Cipher key, followed by the salt for AES-CTR / AES-GCM / ChaCha20-Poly1305."""
    auth_key: bytes
    created_at: float
    sport: int | None = None
    """UDP encapsulation (RFC 3948) source port; None: plain ESP, IP protocol 50."""
    dport: int | None = None
    outbound: bool | None = None
    """Logged by the sender (True) or by the receiver (False); None: not known. The sender's
    record is the truth about the wire: a receiver cannot know how its peer truncates ICVs."""

    @property
    def spi_int(self) -> int:
        return int.from_bytes(self.spi, "big")


@dataclass(frozen=True, slots=True)
class Ikev1Keys:
    """An IKEv1 ISAKMP SA as Wireshark's IKEv1 decryption table keys it."""

    icookie: bytes
    rcookie: bytes
    encr: Algorithm
    enc_key: bytes
    """The phase-1 cipher key (RFC 2409 Appendix B), not SKEYID_e itself."""
    prf: Algorithm | None = None
    """The negotiated hash: with it a trace can follow the IV chain as Wireshark does
    (phase 1 IV = hash(g^xi | g^xr), phase 2 IV = hash(last phase 1 block | M-ID))."""


def child_records(child: ChildSa, local: str, remote: str, now: float,
                  encap: tuple[int, int] | None = None, sha256_96: bool = False) -> tuple[EspSaKeys, EspSaKeys]:
    """(outbound, inbound) ESP SAs of one CHILD / IPsec SA pair installed at ``local``.

    ``encap`` is (local port, remote port) when ESP travels in UDP (NAT-T, RFC 3948).
    ``sha256_96``: this side truncates HMAC-SHA-256 to 96 bits (``proto.esp_size``), so its
    outbound packets carry 12-octet ICVs; the inbound record keeps the negotiated algorithm,
    the peer's own record of that direction says what it really writes.
    """
    p = child.proposal
    encr, integ = p.encr[0], (p.integ[0] if p.integ else None)
    lport, rport = encap if encap is not None else (None, None)
    out = EspSaKeys(local, remote, child.spi_out, encr, esp_integ(integ, sha256_96), child.encr_key_out,
                    child.integ_key_out, now, lport, rport, outbound=True)
    inb = EspSaKeys(remote, local, child.spi_in, encr, integ, child.encr_key_in, child.integ_key_in, now,
                    rport, lport, outbound=False)
    return out, inb
