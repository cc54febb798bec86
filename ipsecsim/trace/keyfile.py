"""The keys file (``--keys``): every SA of a run as JSON, one section per Wireshark decryption table.

Each section maps onto one of Wireshark's decryption tables (Preferences > Protocols):

* ``ikev2`` -> ISAKMP "IKEv2 Decryption Table": SPIi, SPIr, SK_ei, SK_er, encryption
  algorithm, SK_ai, SK_ar, integrity algorithm (RFC 7296 2.14);
* ``esp`` -> ESP "ESP SAs" (with "Attempt to detect/decode encrypted ESP payloads" and
  "Attempt to Check ESP Authentication"): protocol, source, destination, SPI, encryption
  algorithm and key, authentication algorithm and key (RFC 4303; AES-CTR/GCM keys end with
  their salt, RFC 3686 5.1 / RFC 4106 8.1);
* ``ikev1`` -> ISAKMP "IKEv1 Decryption Table": initiator cookie, encryption key
  (RFC 2409 Appendix B).

Algorithm names are short lowercase ones (``aes-cbc``, ``hmac-sha2-256-128``), mapped from our
transform registry; ``trace.wireshark`` turns them into Wireshark's own table files. An SA Wireshark 4.0
cannot decrypt (SM4, SM3, ChaCha20-Poly1305, single DES for IKEv2 ...) is listed under
``undecryptable`` with the reason instead, so that no table row ever claims a wrong algorithm.
ESP with HMAC-SHA-256 truncated to 96 bits (the ``sha256_96`` proposal keyword, or a side with
``child.sha256_96``) is listed there too, because the ``esp`` section names RFC 4868 algorithms
only, but with its keys and the name Wireshark's ESP table gives it (``wireshark_auth_alg``):
the Wireshark files written beside the keys file and ``ipsecsim verify`` use that row.

Each ESP direction is described as its sender installed it (``as_sent``): the receiver's own
record names the negotiated algorithm, which is not what arrives when the two ends truncate
HMAC-SHA-256 differently.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..proto.algorithms import Algorithm
from ..proto.ikev2.wire import IkeKeys
from ..proto.keylog import EspSaKeys, Ikev1Keys

if TYPE_CHECKING:
    from ..result import Result

# keys file names (trace.wireshark maps them onto Wireshark 4.0's), keyed by our registry's names.
INTEG_NAMES = {"md5": "hmac-md5-96", "sha1": "hmac-sha1-96", "sha256": "hmac-sha2-256-128",
               "sha384": "hmac-sha2-384-192", "sha512": "hmac-sha2-512-256"}
IKEV2_CIPHERS = {"aes-cbc": "aes-cbc", "aes-ctr": "aes-ctr", "3des": "3des"}
ESP_CIPHERS = {"aes-cbc": "aes-cbc", "aes-ctr": "aes-ctr", "3des": "3des-cbc", "des": "des-cbc", "null": "null"}
IKEV1_CIPHERS = frozenset({"aes-cbc", "3des", "des"})


class Cannot(NamedTuple):
    """Why Wireshark cannot decrypt an SA: the algorithm (our registry name) and a sentence."""

    algorithm: str
    reason: str
    by_hand: str | None = None
    """Wireshark can after all, with this authentication algorithm; only the keys file's ``esp``
    section has no name for it."""


SHA256_96_WIRESHARK = "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]"
"""Wireshark's ESP SA table entry for HMAC-SHA-256 truncated to 96 bits (checked with tshark 4.0)."""


def _cannot(alg: Algorithm, table: str) -> Cannot:
    if alg.name == "sha256_96" and table == "ESP SA table":
        return Cannot(alg.name, "the sender truncates HMAC-SHA-256 to 96 bits (a 12-octet ICV, not RFC 4868's 16), "
                      "which the keys file's esp section cannot name; Wireshark verifies it as "
                      f"'{SHA256_96_WIRESHARK}' (the row of its undecryptable entry, written to the esp_sa file "
                      "beside the keys file)", SHA256_96_WIRESHARK)
    return Cannot(alg.name, f"{alg.name} is not in Wireshark 4.0's {table} ({alg.description})")


def _encr_name(alg: Algorithm, table: dict[str, str]) -> str | None:
    if not alg.wireshark or not alg.iana:
        return None
    if alg.cipher == "aes-gcm":
        return f"aes-gcm-{alg.icv_bytes}"
    return table.get(alg.cipher)


def _names(encr: Algorithm, integ: Algorithm | None, ciphers: dict[str, str], table: str,
           no_integ: str) -> tuple[str, str] | Cannot:
    enc = _encr_name(encr, ciphers)
    if enc is None:
        return _cannot(encr, table)
    if integ is None:
        return enc, no_integ
    name = INTEG_NAMES.get(integ.name) if integ.wireshark and integ.iana else None
    if name is None:
        return _cannot(integ, table)
    return enc, name


def ikev2_names(k: IkeKeys) -> tuple[str, str] | Cannot:
    """(enc_alg, integ_alg) of an IKE SA in the keys file's names, or why Wireshark cannot decrypt it."""
    return _names(k.encr, None if k.encr.aead else k.integ, IKEV2_CIPHERS, "IKEv2 decryption table", "none")


def esp_names(k: EspSaKeys) -> tuple[str, str] | Cannot:
    """(enc_alg, auth_alg) of an ESP SA in the keys file's names, or why Wireshark cannot decrypt it."""
    return _names(k.encr, k.integ, ESP_CIPHERS, "ESP SA table", "null")


def ikev1_reason(k: Ikev1Keys) -> Cannot | None:
    """None if Wireshark 4.0 decrypts this ISAKMP SA (AES-CBC, 3DES, DES), else why not."""
    if k.encr.cipher in IKEV1_CIPHERS and k.encr.wireshark and k.encr.iana:
        return None
    return _cannot(k.encr, "IKEv1 decryption")


def undecryptable_reason(what: str, why: Cannot) -> str:
    """The marker written on packets of an SA Wireshark cannot decrypt."""
    if why.by_hand is not None:
        return f"{what} with a row the keys file's tables cannot name: {why.reason}"
    return f"{what} NOT decryptable in Wireshark: {why.reason}; its keys are not in the keys file"


def as_sent(keylogs: list[list[Any]]) -> list[list[Any]]:
    """Every endpoint's key records with each ESP direction described as its sender logged it
    (same SPI: the receiver's record takes the sender's integrity algorithm)."""
    senders = {r.spi: r for log in keylogs for r in log if isinstance(r, EspSaKeys) and r.outbound}
    out = []
    for log in keylogs:
        fixed = []
        for r in log:
            s = senders.get(r.spi) if isinstance(r, EspSaKeys) and r.outbound is False else None
            fixed.append(replace(r, integ=s.integ) if s is not None and s.integ != r.integ else r)
        out.append(fixed)
    return out


def records(result: Result) -> list[Any]:
    """Every key record of the run, once each, in the order the SAs appeared."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Any] = []

    def add(r: Any) -> None:
        key: tuple[Any, ...]
        if isinstance(r, IkeKeys):
            key = ("ikev2", r.spi_i, r.spi_r)
        elif isinstance(r, EspSaKeys):
            key = ("esp", r.src, r.dst, r.spi)
        elif isinstance(r, Ikev1Keys):
            key = ("ikev1", r.icookie, r.enc_key)  # two keys for one cookie: the PSKs differ
        else:
            return
        if key not in seen:
            seen.add(key)
            out.append(r)

    for tx in result.transmissions:
        if tx.dgram.keys is not None:
            add(tx.dgram.keys)
    for log in as_sent([list(final.keylog) for final in result.peers.values()]):
        for r in log:
            add(r)
    return out


def build(result: Result) -> dict[str, Any]:
    """The keys file as a JSON-ready dict (sections always present, possibly empty)."""
    doc: dict[str, list[dict[str, Any]]] = {"ikev2": [], "esp": [], "ikev1": [], "undecryptable": []}
    for r in records(result):
        if isinstance(r, IkeKeys):
            names = ikev2_names(r)
            if isinstance(names, Cannot):
                doc["undecryptable"].append({"kind": "ikev2", "spi_i": r.spi_i.hex(), "spi_r": r.spi_r.hex(),
                                             "algorithm": names.algorithm, "reason": names.reason})
                continue
            doc["ikev2"].append({"spi_i": r.spi_i.hex(), "spi_r": r.spi_r.hex(), "sk_ei": r.sk_ei.hex(),
                                 "sk_er": r.sk_er.hex(), "sk_ai": r.sk_ai.hex(), "sk_ar": r.sk_ar.hex(),
                                 "enc_alg": names[0], "integ_alg": names[1]})
        elif isinstance(r, EspSaKeys):
            names = esp_names(r)
            if isinstance(names, Cannot):
                entry = {"kind": "esp", "src": r.src, "dst": r.dst, "spi": f"0x{r.spi.hex()}",
                         "algorithm": names.algorithm, "reason": names.reason}
                enc = _encr_name(r.encr, ESP_CIPHERS)
                if names.by_hand is not None and enc is not None:  # the row to enter in Wireshark by hand
                    entry |= {"enc_alg": enc, "enc_key_hex": r.enc_key.hex(), "wireshark_auth_alg": names.by_hand,
                              "auth_key_hex": r.auth_key.hex()}
                doc["undecryptable"].append(entry)
                continue
            doc["esp"].append({"src": r.src, "dst": r.dst, "spi": f"0x{r.spi.hex()}", "enc_alg": names[0],
                               "enc_key_hex": r.enc_key.hex(), "auth_alg": names[1],
                               "auth_key_hex": r.auth_key.hex()})
        else:
            reason = ikev1_reason(r)
            if reason is None and any(e["icookie"] == r.icookie.hex() for e in doc["ikev1"]):
                reason = Cannot(r.encr.name, SECOND_V1_KEY)
            if reason is not None:
                doc["undecryptable"].append({"kind": "ikev1", "icookie": r.icookie.hex(),
                                             "algorithm": reason.algorithm, "reason": reason.reason})
                continue
            doc["ikev1"].append({"icookie": r.icookie.hex(), "enc_key_hex": r.enc_key.hex()})
    return doc


SECOND_V1_KEY = ("a second key for this initiator cookie: the two sides derived different keys (the pre-shared "
                 "keys differ), and Wireshark's IKEv1 table holds one key per cookie")


def ikev1_table(result: Result) -> dict[bytes, Ikev1Keys]:
    """The IKEv1 rows of the keys file: initiator cookie -> the one key Wireshark gets."""
    out: dict[bytes, Ikev1Keys] = {}
    for r in records(result):
        if isinstance(r, Ikev1Keys) and ikev1_reason(r) is None:
            out.setdefault(r.icookie, r)
    return out


def write(path: str | Path, doc: dict[str, Any]) -> Path:
    """Write the keys file and, beside it, the same keys as Wireshark's table files
    (``trace.wireshark.profile_dir``); returns that directory."""
    from . import wireshark
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return wireshark.write_profile(wireshark.profile_dir(path), wireshark.check_keys(doc, str(path)))
