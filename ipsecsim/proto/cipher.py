"""Encryption and integrity primitives for IKE SK payloads and ESP packets.

Models what goes on the wire once keys exist:

* integrity ICVs: HMAC truncated to the algorithm's ICV length (RFC 2403, 2404, 4868);
* CBC ciphers AES (RFC 3602), 3DES (RFC 2451), DES (RFC 2405), SM4; AES-CTR with the
  counter block nonce | IV | counter (RFC 3686 section 4);
* AEAD: AES-GCM with an 8, 12 or 16 octet ICV (RFC 4106, RFC 5282) and ChaCha20-Poly1305
  (RFC 7634), nonce = salt | IV, the salt being the last 4 octets of the keying material;
* the padding of the IKEv2 Encrypted payload body (RFC 7296 3.14);
* whole ESP packets, SPI | Sequence Number | IV | ciphertext | ICV (RFC 4303 2), with the
  RFC 4303 2.4 padding and the RFC 4106 5 AAD.

IVs always come from the caller, which draws them from a seeded RNG: nothing here touches a
random source, so traces are reproducible.
"""

from __future__ import annotations

import hmac as _stdlib_hmac
import math
import random
import struct
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .algorithms import Algorithm
from .kdf import hash_algorithm

try:  # cryptography >= 43 moved 3DES to the "decrepit" namespace
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
except ImportError:  # pragma: no cover - older cryptography
    _TripleDES = algorithms.TripleDES  # type: ignore[misc]


class CryptoError(ValueError):
    """Decryption or verification failed: bad ICV, bad padding, wrong key or length."""


_CBC: Final = frozenset({"aes-cbc", "3des", "des", "sm4"})
_ESP_HEADER: Final = 8  # SPI (4) + Sequence Number (4), RFC 4303 2
_ESP_ALIGN: Final = 4  # RFC 4303 2.4: the ciphertext ends on a 4-octet boundary


# --- integrity -----------------------------------------------------------------------------


def integ_icv(alg: Algorithm, key: bytes, data: bytes) -> bytes:
    """HMAC over ``data`` with ``alg.hash``, truncated to ``alg.icv_bytes`` (RFC 2104 5)."""
    if len(key) != alg.key_bytes:
        raise CryptoError(f"{alg.name}: integrity key is {len(key)} octets, expected {alg.key_bytes}")
    mac = hmac.HMAC(key, hash_algorithm(alg.hash))
    mac.update(data)
    return mac.finalize()[: alg.icv_bytes]


# --- block / stream ciphers ------------------------------------------------------------------


def _split_salt(alg: Algorithm, key_with_salt: bytes) -> tuple[bytes, bytes]:
    """(key, salt): the salt is the last ``alg.salt_bytes`` octets (RFC 4106 8.1, RFC 3686 5.1)."""
    want = alg.key_bytes + alg.salt_bytes
    if len(key_with_salt) != want:
        raise CryptoError(f"{alg.name}: key is {len(key_with_salt)} octets, expected {want}")
    return key_with_salt[: alg.key_bytes], key_with_salt[alg.key_bytes:]


def _block_cipher(alg: Algorithm, key: bytes) -> CipherAlgorithm:
    if len(key) != alg.key_bytes:
        raise CryptoError(f"{alg.name}: key is {len(key)} octets, expected {alg.key_bytes}")
    if alg.cipher in ("aes-cbc", "aes-ctr"):
        return algorithms.AES(key)
    if alg.cipher == "3des":
        return _TripleDES(key)
    if alg.cipher == "des":
        return _TripleDES(key * 3)  # EDE with K1 = K2 = K3 is single DES
    if alg.cipher == "sm4":
        return algorithms.SM4(key)
    raise ValueError(f"{alg.name} is not a block cipher")


def _mode(alg: Algorithm, key: bytes, iv: bytes) -> tuple[CipherAlgorithm, modes.CBC | modes.CTR]:
    if len(iv) != alg.iv_bytes:
        raise CryptoError(f"{alg.name}: IV is {len(iv)} octets, expected {alg.iv_bytes}")
    if alg.cipher in _CBC:
        return _block_cipher(alg, key), modes.CBC(iv)
    if alg.cipher == "aes-ctr":
        # RFC 3686 4: counter block = nonce (4, the salt) | IV (8) | block counter, from 1.
        k, salt = _split_salt(alg, key)
        return _block_cipher(alg, k), modes.CTR(salt + iv + b"\x00\x00\x00\x01")
    raise ValueError(f"{alg.name} is not a CBC or CTR cipher")


def encrypt_block(alg: Algorithm, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """CBC (already padded plaintext) or CTR encryption; the identity for ENCR_NULL.

    For AES-CTR ``key`` is the key followed by the 4-octet nonce (RFC 3686 5.1).
    """
    if alg.cipher == "null":
        return plaintext
    if alg.cipher in _CBC and len(plaintext) % alg.block_bytes:
        raise ValueError(f"{alg.name}: plaintext is not a multiple of {alg.block_bytes} octets")
    cipher, mode = _mode(alg, key, iv)
    enc = Cipher(cipher, mode).encryptor()
    return enc.update(plaintext) + enc.finalize()


def decrypt_block(alg: Algorithm, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`encrypt_block`; CryptoError on a ciphertext of the wrong length."""
    if alg.cipher == "null":
        return ciphertext
    if alg.cipher in _CBC and len(ciphertext) % alg.block_bytes:
        raise CryptoError(f"{alg.name}: ciphertext is not a multiple of {alg.block_bytes} octets")
    cipher, mode = _mode(alg, key, iv)
    dec = Cipher(cipher, mode).decryptor()
    return dec.update(ciphertext) + dec.finalize()


# --- AEAD ----------------------------------------------------------------------------------------


def _aead_nonce(alg: Algorithm, key_with_salt: bytes, iv: bytes) -> tuple[bytes, bytes]:
    if not alg.aead:
        raise ValueError(f"{alg.name} is not an AEAD cipher")
    key, salt = _split_salt(alg, key_with_salt)
    if len(iv) != alg.iv_bytes:
        raise CryptoError(f"{alg.name}: IV is {len(iv)} octets, expected {alg.iv_bytes}")
    return key, salt + iv  # RFC 4106 4 / RFC 7634 2: nonce = salt | IV (12 octets)


def aead_seal(alg: Algorithm, key_with_salt: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """ciphertext | ICV for AES-GCM (ICV truncated to ``alg.icv_bytes``) or ChaCha20-Poly1305."""
    key, nonce = _aead_nonce(alg, key_with_salt, iv)
    if alg.cipher == "chacha20":
        return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)
    if alg.cipher != "aes-gcm":
        raise ValueError(f"{alg.name}: unsupported AEAD cipher {alg.cipher!r}")
    enc = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    # RFC 4106 3: the 8 and 12 octet ICVs are the leftmost octets of the 16-octet GCM tag.
    return ct + enc.tag[: alg.icv_bytes]


def aead_open(alg: Algorithm, key_with_salt: bytes, iv: bytes, ciphertext_and_tag: bytes,
              aad: bytes) -> bytes:
    """Verify and decrypt :func:`aead_seal` output; CryptoError on any authentication failure."""
    key, nonce = _aead_nonce(alg, key_with_salt, iv)
    if len(ciphertext_and_tag) < alg.icv_bytes:
        raise CryptoError(f"{alg.name}: message shorter than its {alg.icv_bytes}-octet ICV")
    try:
        if alg.cipher == "chacha20":
            return ChaCha20Poly1305(key).decrypt(nonce, ciphertext_and_tag, aad)
        if alg.cipher != "aes-gcm":
            raise ValueError(f"{alg.name}: unsupported AEAD cipher {alg.cipher!r}")
        split = len(ciphertext_and_tag) - alg.icv_bytes
        ct, tag = ciphertext_and_tag[:split], ciphertext_and_tag[split:]
        dec = Cipher(algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=len(tag))).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(ct) + dec.finalize()
    except InvalidTag:
        raise CryptoError(f"{alg.name}: ICV mismatch") from None


# --- IKEv2 Encrypted payload padding -----------------------------------------------------------


def ikev2_pad(plain: bytes, block: int, rng: random.Random | None = None) -> bytes:
    """payloads | Padding | Pad Length, a multiple of ``block`` octets (RFC 7296 3.14).

    The Padding "MAY contain any value chosen by the sender": zeros unless ``rng`` is given.
    Pass the cipher's ``block_bytes`` from the registry (16 for AES-CBC, 4 for GCM, 1 for
    CTR / ChaCha20); anything below 1 is treated as 1.
    """
    block = max(block, 1)
    pad_len = -(len(plain) + 1) % block
    padding = rng.randbytes(pad_len) if rng is not None else bytes(pad_len)
    return plain + padding + bytes([pad_len])


def ikev2_unpad(padded: bytes) -> bytes:
    """Strip the RFC 7296 3.14 padding; CryptoError if the Pad Length is impossible."""
    if not padded:
        raise CryptoError("empty Encrypted payload body")
    pad_len = padded[-1]
    if pad_len + 1 > len(padded):
        raise CryptoError(f"pad length {pad_len} exceeds the {len(padded)}-octet body")
    return padded[: len(padded) - pad_len - 1]


# --- ESP -------------------------------------------------------------------------------------------


def _esp_align(encr: Algorithm) -> int:
    # RFC 4303 2.4: the plaintext (payload | padding | pad length | next header) must fill
    # whole cipher blocks, and the ciphertext must end on a 4-octet boundary anyway.
    return math.lcm(max(encr.block_bytes, 1), _ESP_ALIGN)


def _esp_pad_len(encr: Algorithm, payload_len: int) -> int:
    return -(payload_len + 2) % _esp_align(encr)


def _esp_icv_len(encr: Algorithm, integ: Algorithm | None) -> int:
    if encr.aead:
        return encr.icv_bytes
    return integ.icv_bytes if integ is not None else 0


def _check_esp_suite(encr: Algorithm, integ: Algorithm | None) -> None:
    if encr.aead and integ is not None:
        # RFC 4106 / RFC 7634: combined-mode ciphers provide integrity; no separate INTEG.
        raise ValueError(f"{encr.name} is AEAD: it takes no separate integrity algorithm")
    if encr.cipher == "null" and integ is None:
        # RFC 4303 3.2: NULL encryption with no integrity is not allowed.
        raise ValueError("ESP with NULL encryption needs an integrity algorithm")


def esp_overhead(encr: Algorithm, integ: Algorithm | None, payload_len: int) -> int:
    """Octets ESP adds to a ``payload_len``-octet inner packet (tunnel-mode inner IP packet
    or transport-mode upper-layer data): SPI + Seq + IV + padding + 2 + ICV (RFC 4303 2)."""
    return (_ESP_HEADER + encr.iv_bytes + _esp_pad_len(encr, payload_len) + 2
            + _esp_icv_len(encr, integ))


def esp_encrypt(encr: Algorithm, integ: Algorithm | None, enc_key: bytes, auth_key: bytes, spi: int,
                seq: int, iv: bytes, payload: bytes, next_header: int) -> bytes:
    """A complete ESP packet: SPI | Seq | IV | ciphertext | ICV (RFC 4303 2).

    The plaintext is payload | Padding (1, 2, 3, ...) | Pad Length | Next Header, padded so
    that it fills whole cipher blocks and ends 4-octet aligned (RFC 4303 2.4). With AEAD
    the AAD is SPI | 32-bit Sequence Number (RFC 4106 5, RFC 7634 2.1) and the ICV is the
    cipher's tag; otherwise the ICV is the HMAC over SPI | Seq | IV | ciphertext (RFC 4303
    2.8, 3.3.4). ENCR_NULL has no IV (RFC 2410). Extended sequence numbers are not modelled:
    ``seq`` is the 32-bit on-the-wire value.
    """
    _check_esp_suite(encr, integ)
    if not 0 <= spi <= 0xFFFFFFFF or not 0 <= seq <= 0xFFFFFFFF:
        raise ValueError("SPI and sequence number are 32-bit values")
    if not 0 <= next_header <= 255:
        raise ValueError("next header is one octet")
    if len(iv) != encr.iv_bytes:
        raise ValueError(f"{encr.name}: IV is {len(iv)} octets, expected {encr.iv_bytes}")
    pad_len = _esp_pad_len(encr, len(payload))
    plain = payload + bytes(range(1, pad_len + 1)) + bytes([pad_len, next_header])
    header = struct.pack("!II", spi, seq)
    if encr.aead:
        return header + iv + aead_seal(encr, enc_key, iv, plain, header)
    body = header + iv + encrypt_block(encr, enc_key, iv, plain)
    if integ is None:
        return body
    return body + integ_icv(integ, auth_key, body)


def esp_decrypt(encr: Algorithm, integ: Algorithm | None, enc_key: bytes, auth_key: bytes,
                packet: bytes) -> tuple[int, int, bytes, int]:
    """(spi, seq, payload, next_header) of an :func:`esp_encrypt` packet.

    The ICV is checked before decryption (RFC 4303 3.4.4); a wrong ICV, a malformed length
    or padding that is not 1, 2, 3, ... (RFC 4303 2.4) raises CryptoError.
    """
    _check_esp_suite(encr, integ)
    icv_len = _esp_icv_len(encr, integ)
    align = _esp_align(encr)
    min_len = _ESP_HEADER + encr.iv_bytes + 2 + icv_len
    if len(packet) < min_len:
        raise CryptoError(f"ESP packet of {len(packet)} octets is shorter than {min_len}")
    ct_len = len(packet) - _ESP_HEADER - encr.iv_bytes - icv_len
    if ct_len % align:
        raise CryptoError(f"ESP ciphertext of {ct_len} octets is not a multiple of {align}")
    spi, seq = struct.unpack("!II", packet[:_ESP_HEADER])
    iv = packet[_ESP_HEADER:_ESP_HEADER + encr.iv_bytes]
    body_end = len(packet) - icv_len
    if encr.aead:
        plain = aead_open(encr, enc_key, iv, packet[_ESP_HEADER + encr.iv_bytes:], packet[:_ESP_HEADER])
    else:
        if integ is not None:
            icv = integ_icv(integ, auth_key, packet[:body_end])
            if not _stdlib_hmac.compare_digest(icv, packet[body_end:]):
                raise CryptoError(f"ESP ICV mismatch ({integ.name})")
        plain = decrypt_block(encr, enc_key, iv, packet[_ESP_HEADER + encr.iv_bytes:body_end])
    pad_len, next_header = plain[-2], plain[-1]
    if pad_len + 2 > len(plain):
        raise CryptoError(f"ESP pad length {pad_len} exceeds the {len(plain)}-octet plaintext")
    payload_end = len(plain) - 2 - pad_len
    if plain[payload_end:-2] != bytes(range(1, pad_len + 1)):
        raise CryptoError("ESP padding is not the default 1, 2, 3, ... sequence")
    return spi, seq, plain[:payload_end], next_header
