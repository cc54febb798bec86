"""The keys file as Wireshark's own decryption tables: UAT files of a configuration directory.

Wireshark keeps its decryption keys in "UAT" tables (Edit > Preferences > Protocols), each
saved as a file of the same name in the configuration directory, one quoted, comma-separated
record per line (epan/uat.c): ``esp_sa`` (ESP > ESP SAs), ``ikev2_decryption_table`` (ISAKMP >
IKEv2 Decryption Table), ``ikev1_decryption_table`` (ISAKMP > IKEv1 Decryption Table). ESP is
only decrypted and authenticated with two preferences set, which ``preferences`` carries.

``ipsecsim run --keys S.keys.json`` writes these four files into ``S.keys.wireshark/``, so
``WIRESHARK_CONFIG_DIR=S.keys.wireshark tshark -r S.pcapng -V`` shows every packet decrypted
(Wireshark reads its whole configuration from that directory, nothing from the user's own).
``ipsecsim verify`` runs tshark on the same files.

The algorithm strings are the value strings of Wireshark 4.0's tables (packet-ipsec.c,
packet-isakmp.c; checked with tshark 4.0.17). An ESP SA whose sender truncates HMAC-SHA-256 to
96 bits is kept under ``undecryptable`` in the keys file (its ``esp`` section names RFC 4868
algorithms only) with the row Wireshark takes for it (``wireshark_auth_alg``); that row is
written here too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

ESP_ENC = {"null": "NULL", "aes-cbc": "AES-CBC [RFC3602]", "aes-ctr": "AES-CTR [RFC3686]",
           "3des-cbc": "TripleDES-CBC [RFC2451]", "des-cbc": "DES-CBC [RFC2405]",
           **{f"aes-gcm-{n}": f"AES-GCM with {n} octet ICV [RFC4106]" for n in (8, 12, 16)}}
ESP_AUTH = {"null": "NULL", "hmac-md5-96": "HMAC-MD5-96 [RFC2403]", "hmac-sha1-96": "HMAC-SHA-1-96 [RFC2404]",
            "hmac-sha2-256-128": "HMAC-SHA-256-128 [RFC4868]", "hmac-sha2-384-192": "HMAC-SHA-384-192 [RFC4868]",
            "hmac-sha2-512-256": "HMAC-SHA-512-256 [RFC4868]"}
ESP_AUTH_BY_HAND = frozenset({"HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]"})
"""ESP authentication rows the keys file lists under ``undecryptable`` with ``wireshark_auth_alg``."""

IKEV2_ENC = {"null": "NULL [RFC2410]", "3des": "3DES [RFC2451]", "aes-cbc": "AES-CBC-{bits} [RFC3602]",
             "aes-ctr": "AES-CTR-{bits} [RFC5930]",
             **{f"aes-{m}-{n}": f"AES-{m.upper()}-{{bits}} with {n} octet ICV [RFC5282]"
                for m in ("gcm", "ccm") for n in (8, 12, 16)}}
IKEV2_SALT = {name: (3 if "ccm" in name else 4) for name in IKEV2_ENC if name.startswith(("aes-ctr", "aes-gcm",
                                                                                          "aes-ccm"))}
"""Octets of salt / nonce at the end of SK_e (RFC 5930 2, RFC 5282 7.1): not part of the AES key."""
IKEV2_INTEG = {"none": "NONE [RFC4306]", "hmac-md5-96": "HMAC_MD5_96 [RFC2403]",
               "hmac-sha1-96": "HMAC_SHA1_96 [RFC2404]", "hmac-sha2-256-128": "HMAC_SHA2_256_128 [RFC4868]",
               "hmac-sha2-384-192": "HMAC_SHA2_384_192 [RFC4868]", "hmac-sha2-512-256": "HMAC_SHA2_512_256 [RFC4868]"}

PREFERENCES = ("# ipsecsim: decrypt ESP with the esp_sa table and check its ICVs\n"
               "esp.enable_encryption_decode: TRUE\n"
               "esp.enable_authentication_check: TRUE\n")
TABLES = ("esp_sa", "ikev2_decryption_table", "ikev1_decryption_table")
SECTIONS = ("ikev2", "esp", "ikev1", "undecryptable")


def profile_dir(keys: str | Path) -> Path:
    """Where the Wireshark files of a keys file go: ``S.keys.json`` -> ``S.keys.wireshark``."""
    p = Path(keys)
    return p.with_suffix(".wireshark") if p.suffix == ".json" else p.with_name(p.name + ".wireshark")


def tshark_line(pcap: str | Path, keys: str | Path) -> str:
    """The command that shows ``pcap`` decrypted with the files written for ``keys``."""
    return f"WIRESHARK_CONFIG_DIR={profile_dir(keys)} tshark -r {pcap} -V"


# --- reading a keys file ------------------------------------------------------------------

_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})*$")


class _Doc:
    """One keys file being checked: every error names the file and the field."""

    def __init__(self, file: str | None):
        self.file = file

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.file, path, message)

    def text(self, entry: Mapping[str, Any], path: str, key: str, required: bool = True) -> str:
        if key not in entry:
            if required:
                raise self.error(f"{path}.{key}", "missing")
            return ""
        value = entry[key]
        if not isinstance(value, str):
            raise self.error(f"{path}.{key}", f"must be a string, not {type(value).__name__}")
        return value

    def hex(self, entry: Mapping[str, Any], path: str, key: str, size: int | None = None,
            required: bool = True) -> str:
        value = self.text(entry, path, key, required)
        if not _HEX.match(value):
            raise self.error(f"{path}.{key}", f"must be hex octets without 0x, got {value[:40]!r}")
        if size is not None and len(value) != 2 * size:
            raise self.error(f"{path}.{key}", f"must be {size} octets ({2 * size} hex digits), got {len(value) // 2}")
        return value.lower()

    def choice(self, entry: Mapping[str, Any], path: str, key: str, allowed: Mapping[str, str],
               default: str | None = None) -> str:
        if key not in entry and default is not None:
            return default
        value = self.text(entry, path, key)
        if value not in allowed:
            raise self.error(f"{path}.{key}", f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def address(self, entry: Mapping[str, Any], path: str, key: str) -> str:
        value = self.text(entry, path, key)
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise self.error(f"{path}.{key}", f"{value!r} is not an IPv4 or IPv6 address") from None

    def spi(self, entry: Mapping[str, Any], path: str) -> int:
        value = entry.get("spi")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32:
            return value
        if isinstance(value, str):
            try:
                n = int(value, 16)
            except ValueError:
                n = -1
            if 0 <= n < 2**32:
                return n
        raise self.error(f"{path}.spi", f"must be a 32-bit SPI, hex ('0x04f8dd42') or an integer, got {value!r}")


def check_keys(doc: Any, file: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The keys file ``doc`` with every field checked (ConfigError naming the first bad one),
    sections missing in it present and empty. SPIs become integers (``spi``)."""
    d = _Doc(file)
    if not isinstance(doc, dict):
        raise d.error("", f"a keys file is a JSON object with the sections {', '.join(SECTIONS)}")
    unknown = [k for k in doc if k not in SECTIONS]
    if unknown:
        raise d.error(unknown[0], f"unknown section; a keys file has {', '.join(SECTIONS)}")
    out: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        entries = doc.get(section, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise d.error(section, "must be a list of objects")
        out[section] = [_check_entry(d, section, f"{section}[{i}]", e) for i, e in enumerate(entries)]
    return out


def _check_entry(d: _Doc, section: str, path: str, e: dict[str, Any]) -> dict[str, Any]:
    if section == "ikev2":
        enc = d.choice(e, path, "enc_alg", IKEV2_ENC)
        integ = d.choice(e, path, "integ_alg", IKEV2_INTEG)
        v2 = {"spi_i": d.hex(e, path, "spi_i", 8), "spi_r": d.hex(e, path, "spi_r", 8),
               "sk_ei": d.hex(e, path, "sk_ei"), "sk_er": d.hex(e, path, "sk_er"),
               "sk_ai": d.hex(e, path, "sk_ai", required=False), "sk_ar": d.hex(e, path, "sk_ar", required=False),
               "enc_alg": enc, "integ_alg": integ}
        if len(v2["sk_ei"]) // 2 <= IKEV2_SALT.get(enc, 0) and enc != "null":
            raise d.error(f"{path}.sk_ei", f"too short for {enc}")
        return v2
    if section == "esp":
        return {"src": d.address(e, path, "src"), "dst": d.address(e, path, "dst"), "spi": d.spi(e, path),
                "enc_alg": d.choice(e, path, "enc_alg", ESP_ENC),
                "enc_key_hex": d.hex(e, path, "enc_key_hex", required=False),
                "auth_alg": d.choice(e, path, "auth_alg", ESP_AUTH, default="null"),
                "auth_key_hex": d.hex(e, path, "auth_key_hex", required=False)}
    if section == "ikev1":
        return {"icookie": d.hex(e, path, "icookie", 8), "enc_key_hex": d.hex(e, path, "enc_key_hex")}
    kind = d.choice(e, path, "kind", {"esp": "", "ikev2": "", "ikev1": ""})
    row: dict[str, Any] = {"kind": kind, "reason": d.text(e, path, "reason", required=False),
           "algorithm": d.text(e, path, "algorithm", required=False)}
    if kind == "esp":
        row |= {"src": d.address(e, path, "src"), "dst": d.address(e, path, "dst"), "spi": d.spi(e, path)}
        if "wireshark_auth_alg" in e:
            row |= {"enc_alg": d.choice(e, path, "enc_alg", ESP_ENC),
                    "enc_key_hex": d.hex(e, path, "enc_key_hex", required=False),
                    "wireshark_auth_alg": d.choice(e, path, "wireshark_auth_alg", dict.fromkeys(ESP_AUTH_BY_HAND, "")),
                    "auth_key_hex": d.hex(e, path, "auth_key_hex")}
    elif kind == "ikev2":
        row |= {"spi_i": d.hex(e, path, "spi_i", 8), "spi_r": d.hex(e, path, "spi_r", 8)}
    else:
        row |= {"icookie": d.hex(e, path, "icookie", 8)}
    return row


# --- writing the tables -------------------------------------------------------------------

def _q(text: str) -> str:
    """A UAT string field: quoted, with quotes and backslashes escaped as \\xNN (epan/uat.c)."""
    return '"' + text.replace("\\", "\\x5c").replace('"', "\\x22") + '"'


def _key(hex_text: str) -> str:
    return _q("0x" + hex_text if hex_text else "")


def esp_row(sa: Mapping[str, Any], auth_name: str | None = None) -> str:
    """One ``esp_sa`` record: protocol, source, destination, SPI, encryption, key, authentication, key."""
    proto = "IPv6" if ":" in sa["src"] else "IPv4"
    auth = auth_name if auth_name is not None else ESP_AUTH[sa["auth_alg"]]
    return ",".join([_q(proto), _q(sa["src"]), _q(sa["dst"]), _q(f"0x{sa['spi']:08x}"), _q(ESP_ENC[sa["enc_alg"]]),
                     _key(sa["enc_key_hex"]), _q(auth), _key(sa["auth_key_hex"])])


def ikev2_row(sa: Mapping[str, Any]) -> str:
    """One ``ikev2_decryption_table`` record: SPIi, SPIr, SK_ei, SK_er, encryption, SK_ai, SK_ar,
    integrity; the AES key size in the encryption name is SK_ei without its salt."""
    bits = (len(sa["sk_ei"]) // 2 - IKEV2_SALT.get(sa["enc_alg"], 0)) * 8
    return ",".join([sa["spi_i"], sa["spi_r"], sa["sk_ei"], sa["sk_er"], _q(IKEV2_ENC[sa["enc_alg"]].format(bits=bits)),
                     sa["sk_ai"], sa["sk_ar"], _q(IKEV2_INTEG[sa["integ_alg"]])])


def ikev1_row(sa: Mapping[str, Any]) -> str:
    """One ``ikev1_decryption_table`` record: initiator cookie, encryption key (RFC 2409 App. B)."""
    return f"{sa['icookie']},{sa['enc_key_hex']}"


def tables(keys: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """The records of each UAT table for a checked keys file (``check_keys``)."""
    esp = [esp_row(sa) for sa in keys["esp"]]
    esp += [esp_row(u, u["wireshark_auth_alg"]) for u in keys["undecryptable"] if "wireshark_auth_alg" in u]
    return {"esp_sa": esp, "ikev2_decryption_table": [ikev2_row(sa) for sa in keys["ikev2"]],
            "ikev1_decryption_table": [ikev1_row(sa) for sa in keys["ikev1"]]}


def write_profile(directory: str | Path, keys: Mapping[str, list[dict[str, Any]]]) -> Path:
    """Write the three tables and ``preferences`` into ``directory`` (created if needed).
    Only these four files are written; anything else in the directory is left alone."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    head = "# Written by ipsecsim from its keys file; Wireshark reads this as its own table.\n"
    for name, rows in tables(keys).items():
        (d / name).write_text(head + "".join(r + "\n" for r in rows), encoding="utf-8")
    (d / "preferences").write_text(PREFERENCES, encoding="utf-8")
    return d
