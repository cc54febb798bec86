"""Which encrypted IKEv1 frames of a trace Wireshark 4.0 can decrypt, and why not the others.

Wireshark's IKEv1 decryption (epan/dissectors/packet-isakmp.c, ``decrypt_payload``) keeps
one state per initiator cookie, fed with the one key its "IKEv1 Decryption Table" holds for
that cookie, and derives each IV from the frames in capture order:

* the first encrypted frame of a cookie: hash(g^xi | g^xr), from the KE payloads it saw
  (RFC 2409 Appendix B, phase 1 IV);
* a frame whose message id differs from the previous encrypted frame's: hash(last phase 1
  CBC block | M-ID), the phase 1 block being the last block seen before the first change of
  message id (the phase 2 IV of Appendix B);
* otherwise the last CBC block of the previous encrypted frame.

That is exactly RFC 2409 for a clean conversation, but not for three things real
conversations have: a retransmitted copy (its IV is taken from the previous copy's last
block), exchanges interleaved on one ISAKMP SA (a chain is resumed from the wrong block),
and two sides holding different keys (different pre-shared keys: one key per cookie).
``Ikev1Decryption`` replays that bookkeeping over the frames as they are written, decrypts
each encrypted frame with the keys file's key and the IV Wireshark would use, and names the
cause when the result is not the message the sender encrypted. The trace marks those frames
in their comments; everything else decrypts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..proto import cipher, kdf
from ..proto.ikev1.message import KE, PHASE1_EXCHANGES, Message
from ..proto.keylog import Ikev1Keys

HEADER_LEN = 28  # RFC 2408 3.1


@dataclass(slots=True)
class _Chain:
    """Wireshark's decrypt_data_t of one initiator cookie."""

    gi: bytes = b""
    gr: bytes = b""
    started: bool = False
    last_mid: int = 0
    last_cbc: bytes = b""
    last_p1_cbc: bytes = b""


@dataclass
class Ikev1Decryption:
    """Feed every IKEv1 frame in capture order; ``reason`` says why Wireshark would fail on
    an encrypted one (None: it decrypts)."""

    table: Mapping[bytes, Ikev1Keys]
    """The keys file's IKEv1 rows: initiator cookie -> key."""
    chains: dict[bytes, _Chain] = field(default_factory=dict)
    seen: set[bytes] = field(default_factory=set)

    def reason(self, msg: Message, sender: str, sender_keys: object, data: bytes) -> str | None:
        chain = self.chains.setdefault(msg.cky_i, _Chain())
        if not msg.encrypted:
            if msg.exchange in PHASE1_EXCHANGES:
                for p in msg.payloads:
                    if isinstance(p, KE):
                        if msg.response:
                            chain.gr = p.data
                        else:
                            chain.gi = p.data
            return None
        repeated = data in self.seen
        self.seen.add(data)
        key = self.table.get(msg.cky_i)
        if key is None or key.prf is None:
            return None  # not in the table (marked elsewhere) or no hash to follow the chain with
        block = key.encr.block_bytes
        if not chain.started:
            iv = kdf.v1_phase1_iv(key.prf, chain.gi, chain.gr, block)
            chain.started, chain.last_mid = True, msg.msg_id
        elif msg.msg_id != chain.last_mid:
            if not chain.last_p1_cbc:
                chain.last_p1_cbc = chain.last_cbc
            iv = kdf.v1_phase2_iv(key.prf, chain.last_p1_cbc, msg.msg_id.to_bytes(4, "big"), block)
            chain.last_mid = msg.msg_id
        else:
            iv = chain.last_cbc
        body = data[HEADER_LEN:]
        chain.last_cbc = body[-block:]
        try:
            plain = cipher.decrypt_block(key.encr, key.enc_key, iv, body)
        except cipher.CryptoError:
            plain = b""
        if plain[:len(msg.plain)] == msg.plain:
            return None
        if isinstance(sender_keys, Ikev1Keys) and sender_keys.enc_key != key.enc_key:
            return (f"encrypted with {sender}'s key, which is not the one in the keys file: the two sides derived "
                    f"different keys (the pre-shared keys differ) and Wireshark's IKEv1 table holds one key per "
                    f"initiator cookie")
        if repeated:
            return ("a repeated copy: Wireshark 4.0 chains IKEv1 IVs per initiator cookie in capture order and takes "
                    "the previous copy's last CBC block as this copy's IV")
        return ("exchanges on this ISAKMP SA are interleaved: Wireshark 4.0 chains IKEv1 IVs per initiator cookie in "
                "capture order and resumes the wrong chain")


def marker(reason: str) -> str:
    return f"IKEv1 NOT decryptable in Wireshark 4.0: {reason}"
