"""Reference HMAC-SHA-256 and prf+ (RFC 7296 2.13) for tests, written out independently of
ipsecsim.proto.kdf, so that a test's expected keys do not come from the code under test."""

from __future__ import annotations

import hashlib
import hmac


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def prf_plus(key: bytes, seed: bytes, n: int) -> bytes:
    """RFC 7296 2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), first n octets."""
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac_sha256(key, t + seed + bytes([i]))
        out += t
        i += 1
    return out[:n]
