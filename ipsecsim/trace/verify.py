"""``ipsecsim verify TRACE --keys KEYS``: does Wireshark decrypt and verify every packet of a trace?

Runs tshark (Wireshark 4.0's dissectors, an implementation independent of ours) over a
written trace with the keys file's decryption tables (``trace.wireshark``, the same files
``ipsecsim run --keys`` writes for users) and reads back, frame by frame:

* **no frame is malformed** and none has an expert error (with or without keys);
* **ESP** (RFC 4303): the packet decrypts and its ICV verifies (``esp.icv_good``: the HMAC of
  RFC 4868 / 2404 / 2403, or the AEAD tag of RFC 4106); with no integrity algorithm and no
  AEAD there is nothing to verify and a decoded inner packet is the proof;
* **IKEv2 Encrypted (SK / SKF) payloads** (RFC 7296 3.14, RFC 7383): decrypted (the padding
  length is read from the plaintext) with a correct integrity checksum or AEAD tag (RFC 5282);
* **encrypted IKEv1 messages** (RFC 2408 3.1 E flag, RFC 2409 Appendix B): decrypted into a
  chain of known ISAKMP payload types without a malformed payload (IKEv1 has no integrity
  check of its own in Wireshark, so a wrong key shows as garbage payloads).

A frame that fails is expected, not a failure, when the trace says Wireshark 4.0 cannot
decrypt it: its packet comment carries a ``NOT decryptable in Wireshark`` mark (pcapng), or
its SA is listed under ``undecryptable`` in the keys file with no row in the tables (SM4, SM3,
ChaCha20-Poly1305, single DES for IKEv2 ...). The mark of an IKEv1 frame Wireshark 4.0
cannot follow (a repeated copy, interleaved exchanges, a second key for one cookie) is only
in the pcapng comment: classic pcap has none, so such frames fail there.

Exit status: 0 everything verified (or expected), 1 a frame failed, 2 bad input.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import wireshark

MARK = "NOT decryptable in Wireshark"
"""The packet-comment mark of a frame Wireshark cannot decrypt (trace.keyfile, trace.ikev1_view)."""
INSTALL = ("install tshark (Debian/Ubuntu: sudo apt-get install tshark; Fedora: sudo dnf install wireshark-cli; "
           "macOS: brew install wireshark) or give its path with --tshark")
FIELDS = ("frame.number", "frame.protocols", "frame.comment", "_ws.malformed", "_ws.expert.severity",
          "_ws.expert.group", "_ws.expert.message", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "esp.spi",
          "esp.sequence", "esp.icv_good", "esp.icv_bad", "esp.protocol", "isakmp.version", "isakmp.ispi",
          "isakmp.rspi", "isakmp.exchangetype", "isakmp.messageid", "isakmp.flags", "isakmp.nextpayload",
          "isakmp.typepayload", "isakmp.enc.pad_length", "isakmp.ikev2.integrity_checksum")
_MARK_RE = re.compile(re.escape(MARK) + r"(?: [0-9.]+)?: (.*)$", re.S)
AGGREGATE = "\x1e"
"""Separates the occurrences of one field (comments contain commas)."""
PI_WARN, PI_ERROR = 0x00600000, 0x00800000
"""epan/proto.h severities: an expert item of PI_ERROR is an error ..."""
PI_CHECKSUM, PI_MALFORMED = 0x01000000, 0x07000000
"""... and so is a warning of these groups (a bad checksum, a pad length too big)."""
TSHARK_OPTIONS = ("-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE")
"""Checksums Wireshark does not check by default: every IPv4 header and UDP datagram, outer and inner."""
INNER = {1: "ICMP", 4: "IPv4", 6: "TCP", 17: "UDP", 41: "IPv6", 58: "ICMPv6"}
"""ESP next headers of a packet that decrypted: tunnel mode (IPv4, IPv6) or transport mode."""
IKEV1_PAYLOADS = frozenset(range(1, 21)) | {130, 131}
"""RFC 2408 3.1 payload types 1-13, RFC 2407 / 3947 and later up to 20, and the NAT-T drafts' 130 / 131."""

PROTOCOLS = {"esp": "ESP", "ikev2": "IKEv2 SK", "ikev1": "IKEv1 encrypted"}


@dataclass
class Outcome:
    """One encrypted frame that did not verify."""

    frame: int
    protocol: str
    """esp, ikev2 or ikev1."""
    sa: str
    reason: str

    def text(self) -> str:
        return f"frame {self.frame}: {PROTOCOLS[self.protocol]} {self.sa}: {self.reason}"


@dataclass
class Tally:
    packets: int = 0
    verified: int = 0
    expected: int = 0
    """Not decrypted, as the trace or the keys file says it must be."""

    @property
    def failed(self) -> int:
        return self.packets - self.verified - self.expected


@dataclass
class Report:
    trace: str
    keys: str | None
    frames: int = 0
    protocols: collections.Counter[str] = field(default_factory=collections.Counter)
    tallies: dict[str, Tally] = field(default_factory=lambda: {p: Tally() for p in PROTOCOLS})
    failures: list[Outcome] = field(default_factory=list)
    """Frames that failed although nothing said they would, and malformed frames."""
    expected: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Frame-level problems (malformed, expert errors), and an empty trace."""

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    @property
    def status(self) -> int:
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        return {"trace": self.trace, "keys": self.keys, "ok": self.ok, "frames": self.frames,
                "protocols": dict(sorted(self.protocols.items())),
                "decryption": None if self.keys is None else {
                    p: {"packets": t.packets, "verified": t.verified, "expected_undecryptable": t.expected,
                        "failed": t.failed} for p, t in self.tallies.items()},
                "failures": [vars(o) for o in self.failures],
                "expected_undecryptable": [vars(o) for o in self.expected],
                "problems": self.problems}

    def lines(self) -> list[str]:
        out = [f"{self.trace}: {self.frames} frames; "
               + ", ".join(f"{p} {n}" for p, n in sorted(self.protocols.items(), key=lambda x: (-x[1], x[0])))]
        if self.keys is None:
            out.append("no keys file: frames dissected, nothing decrypted")
        else:
            for p, t in self.tallies.items():
                extra = f", {t.expected} expected undecryptable" if t.expected else ""
                extra += f", {t.failed} FAILED" if t.failed else ""
                out.append(f"  {PROTOCOLS[p]:<16} {t.verified}/{t.packets} decrypted and verified{extra}")
        out += [f"expected: {o.text()}" for o in self.expected]
        out += [f"FAIL {o.text()}" for o in self.failures]
        out += [f"FAIL {p}" for p in self.problems]
        n = len(self.failures) + len(self.problems)
        out.append("RESULT: OK" if not n else f"RESULT: FAIL ({n} problem{'s' if n != 1 else ''})")
        return out


# --- input --------------------------------------------------------------------------------

def load_keys(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The keys file, every field checked; ConfigError (one line naming file and field) if not."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "no such keys file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(p), "", f"cannot read the keys file: {getattr(e, 'strerror', None) or e}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(str(p), "", f"not JSON (line {e.lineno}, column {e.colno}: {e.msg}); a keys file is "
                          "what ipsecsim run --keys writes") from None
    return wireshark.check_keys(doc, str(p))


MAGIC = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"}
"""The first four octets of a classic pcap (micro- and nanosecond, either byte order) and of pcapng."""


def check_trace_file(p: Path) -> None:
    """ConfigError unless ``p`` is a pcap or pcapng file (tshark opens other formats too)."""
    try:
        with p.open("rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise ConfigError(str(p), "", "no such trace file") from None
    except OSError as e:
        raise ConfigError(str(p), "", f"cannot read the trace: {e.strerror or e}") from None
    if head not in MAGIC:
        raise ConfigError(str(p), "", "not a pcap or pcapng file (what ipsecsim run --pcap writes)")


def find_tshark(tshark: str | None = None) -> str:
    found = shutil.which(tshark or "tshark")
    if found is None:
        raise ConfigError(None, "tshark", f"{tshark or 'tshark'} not found: {INSTALL}")
    return found


def _num(text: str) -> int:
    """tshark prints numbers in decimal or 0x-hex depending on the field; '' is 0."""
    try:
        return int(text, 0) if text else 0
    except ValueError:
        return -1


def run_tshark(trace: str | Path, keys: dict[str, list[dict[str, Any]]] | None,
               tshark: str | None = None) -> list[dict[str, list[str]]]:
    """One dict per frame: field -> every occurrence (outer first). tshark reads its whole
    configuration from a fresh directory holding the keys' tables, never the user's."""
    p = Path(trace)
    check_trace_file(p)
    exe = find_tshark(tshark)
    cmd = [exe, "-n", "-r", str(p), *TSHARK_OPTIONS, "-T", "fields", "-E", "occurrence=a",
           "-E", f"aggregator={AGGREGATE}", "-E", "separator=/t", "-E", "quote=n"]
    for f in FIELDS:
        cmd += ["-e", f]
    with tempfile.TemporaryDirectory(prefix="ipsecsim-wireshark-") as cfg:
        if keys is not None:
            wireshark.write_profile(cfg, keys)
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": cfg}
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace", env=env)
        except OSError as e:
            raise ConfigError(None, "tshark", f"cannot run {exe}: {e.strerror or e}: {INSTALL}") from None
    if res.returncode != 0:
        err = [ln.strip() for ln in res.stderr.splitlines() if ln.strip() and "Running as user" not in ln]
        raise ConfigError(str(p), "", f"tshark cannot read it: {err[0] if err else f'exit status {res.returncode}'}")
    rows = []
    for line in res.stdout.split("\n"):
        if not line:
            continue
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        rows.append({f: (c.split(AGGREGATE) if c else []) for f, c in zip(FIELDS, cols, strict=False)})
    return rows


# --- checking -----------------------------------------------------------------------------

@dataclass
class _Expectations:
    """What the keys file says about each SA: in a table, or undecryptable and why."""

    esp: dict[int, dict[str, Any]]
    ikev2: set[tuple[str, str]]
    ikev1: set[str]
    undecryptable_esp: dict[int, str]
    undecryptable_ikev2: dict[tuple[str, str], str]
    undecryptable_ikev1: dict[str, str]

    @classmethod
    def of(cls, keys: dict[str, list[dict[str, Any]]]) -> _Expectations:
        esp = {sa["spi"]: sa for sa in keys["esp"]}
        hand = {u["spi"]: u for u in keys["undecryptable"] if u["kind"] == "esp" and "wireshark_auth_alg" in u}
        ikev1 = {sa["icookie"] for sa in keys["ikev1"]}
        und = keys["undecryptable"]
        return cls({**hand, **esp}, {(sa["spi_i"], sa["spi_r"]) for sa in keys["ikev2"]}, ikev1,
                   {u["spi"]: u["reason"] for u in und if u["kind"] == "esp" and u["spi"] not in hand},
                   {(u["spi_i"], u["spi_r"]): u["reason"] for u in und if u["kind"] == "ikev2"},
                   # a cookie with a table row fails only where a packet comment says so
                   {u["icookie"]: u["reason"] for u in und if u["kind"] == "ikev1" and u["icookie"] not in ikev1})


def _first(row: dict[str, list[str]], name: str) -> str:
    v = row[name]
    return v[0] if v else ""


def _hexid(text: str) -> str:
    return text.replace(":", "").lower()


def _errors(row: dict[str, list[str]]) -> list[str]:
    """Malformed packets and expert errors of one frame."""
    out = []
    messages = row["_ws.expert.message"]
    if row["_ws.malformed"]:
        out.append("malformed: " + ("; ".join(m for m in messages if "Malformed" in m) or "malformed packet"))
    for sev, group, msg in zip(row["_ws.expert.severity"], row["_ws.expert.group"], messages, strict=False):
        if "Malformed" in msg and row["_ws.malformed"]:
            continue
        if _num(sev) >= PI_ERROR or (_num(group) in (PI_CHECKSUM, PI_MALFORMED) and _num(sev) >= PI_WARN):
            out.append(f"expert error: {msg}")
    return out


def _mark(row: dict[str, list[str]]) -> str | None:
    """The reason a packet comment gives for Wireshark not decrypting the frame, if any."""
    for c in row["frame.comment"]:
        m = _MARK_RE.search(c)
        if m:
            return m.group(1).strip()
    return None


def check(rows: list[dict[str, list[str]]], keys: dict[str, list[dict[str, Any]]] | None,
          trace: str, keys_name: str | None) -> Report:
    """The verdict on tshark's rows (``run_tshark``) for a trace and its checked keys file."""
    report = Report(trace, keys_name, frames=len(rows))
    exp = _Expectations.of(keys) if keys is not None else None
    for row in rows:
        n = _num(_first(row, "frame.number"))
        protos = _first(row, "frame.protocols").split(":")
        report.protocols.update(set(protos) - {""})
        version = _num(_first(row, "isakmp.version"))
        if version in (0x10, 0x20):
            report.protocols[f"isakmp(IKEv{version >> 4})"] += 1
        errors = _errors(row)
        outcomes: list[tuple[Outcome, str | None]] = []  # (failure, why it is expected or None)
        if exp is not None:
            outcomes = _esp(row, n, exp, report, bool(errors)) + _ike(row, n, version, exp, report, bool(errors))
        mark = _mark(row)
        for o, expected in outcomes:
            why = expected or mark
            if why:
                report.tallies[o.protocol].expected += 1
                report.expected.append(Outcome(o.frame, o.protocol, o.sa, why))
            else:
                report.failures.append(o)
        if errors and not outcomes:  # else a consequence of the failed decryption, reported above
            report.problems += [f"frame {n}: {e}" for e in errors]
    if not rows:
        report.problems.append("the trace contains no packets")
    return report


def _esp(row: dict[str, list[str]], n: int, exp: _Expectations, report: Report,
         errors: bool) -> list[tuple[Outcome, str | None]]:
    out: list[tuple[Outcome, str | None]] = []
    src = _first(row, "ip.src") or _first(row, "ipv6.src")
    dst = _first(row, "ip.dst") or _first(row, "ipv6.dst")
    for i, spi_text in enumerate(row["esp.spi"][:1]):  # the outer ESP header; an inner one is not ours
        spi = _num(spi_text)
        tally = report.tallies["esp"]
        tally.packets += 1
        seq = row["esp.sequence"][i] if len(row["esp.sequence"]) > i else "?"
        sa = f"SPI 0x{spi:08x} seq {seq} ({src} -> {dst})"
        sa_keys = exp.esp.get(spi)
        good = row["esp.icv_good"][:1] in (["1"], ["True"])
        bad = row["esp.icv_bad"][:1] in (["1"], ["True"])
        if sa_keys is None:
            why = exp.undecryptable_esp.get(spi)
            out.append((Outcome(n, "esp", sa, "no ESP SA with this SPI in the keys file"), why))
            continue
        aead = sa_keys["enc_alg"].startswith("aes-gcm")
        integrity = aead or sa_keys.get("auth_alg", "null") != "null" or "wireshark_auth_alg" in sa_keys
        protos = _first(row, "frame.protocols").split(":")
        inner = protos[protos.index("esp") + 1:] if "esp" in protos else []
        next_header = _num(row["esp.protocol"][0]) if row["esp.protocol"] else None
        if bad or (integrity and not good):
            what = "AEAD tag" if aead else "ICV"
            out.append((Outcome(n, "esp", sa, f"the {what} does not verify (wrong key, or the packet was altered)"),
                        None))
        elif next_header not in INNER or not inner or errors:
            got = "nothing" if next_header is None else f"next header {next_header}"
            out.append((Outcome(n, "esp", sa, f"decrypted into garbage ({got}{', malformed' if errors else ''}): "
                                              "wrong encryption key"), None))
        else:
            tally.verified += 1
    return out


def _ike(row: dict[str, list[str]], n: int, version: int, exp: _Expectations, report: Report,
         errors: bool) -> list[tuple[Outcome, str | None]]:
    types = [_num(t) for t in row["isakmp.typepayload"]]
    flags = _num(_first(row, "isakmp.flags"))
    spi_i, spi_r = _hexid(_first(row, "isakmp.ispi")), _hexid(_first(row, "isakmp.rspi"))
    mid = _num(_first(row, "isakmp.messageid"))
    if version == 0x20 and (46 in types or 53 in types):
        tally = report.tallies["ikev2"]
        tally.packets += 1
        sa = f"SPIs {spi_i}_i {spi_r}_r message {mid}"
        if (spi_i, spi_r) not in exp.ikev2:
            why = exp.undecryptable_ikev2.get((spi_i, spi_r))
            return [(Outcome(n, "ikev2", sa, "no IKEv2 SA with these SPIs in the keys file"), why)]
        if row["isakmp.ikev2.integrity_checksum"]:
            return [(Outcome(n, "ikev2", sa, "the integrity checksum / AEAD tag does not verify (wrong SK_a or "
                                             "SK_e, or the message was altered)"), None)]
        if not row["isakmp.enc.pad_length"]:
            return [(Outcome(n, "ikev2", sa, "not decrypted"), None)]
        # the SK payload's Next Payload names the first payload inside (RFC 7296 3.14): it must be there
        nexts = [_num(t) for t in row["isakmp.nextpayload"]]
        if 46 in types and nexts[:1] == [46] and len(nexts) > 1 and nexts[1] and types[1:2] != nexts[1:2]:
            return [(Outcome(n, "ikev2", sa, f"decrypted, but the payload {nexts[1]} the SK payload announces is not "
                                             "inside (wrong SK_e?)"), None)]
        if errors:
            return [(Outcome(n, "ikev2", sa, "decrypted into a malformed message (wrong SK_e?)"), None)]
        tally.verified += 1
    elif version == 0x10 and flags & 1:
        tally = report.tallies["ikev1"]
        tally.packets += 1
        sa = f"cookie {spi_i} message {mid}"
        if spi_i not in exp.ikev1:
            why = exp.undecryptable_ikev1.get(spi_i)
            return [(Outcome(n, "ikev1", sa, "no key for this initiator cookie in the keys file"), why)]
        if not types:
            return [(Outcome(n, "ikev1", sa, "not decrypted"), None)]
        if errors or not set(types) <= IKEV1_PAYLOADS:
            return [(Outcome(n, "ikev1", sa, "decrypted into garbage (malformed or unknown payloads): wrong key, or "
                                             "a CBC IV Wireshark derives differently"), None)]
        tally.verified += 1
    return []


def verify(trace: str | Path, keys: str | Path | None = None, tshark: str | None = None) -> Report:
    """Check ``trace`` with tshark and the keys file ``keys`` (None: dissection only)."""
    doc = load_keys(keys) if keys is not None else None
    rows = run_tshark(trace, doc, tshark)
    return check(rows, doc, str(trace), str(keys) if keys is not None else None)


def main(trace: str, keys: str | None, as_json: bool = False, tshark: str | None = None) -> int:
    """The ``verify`` command: print the report, return the exit status (ConfigError: bad input)."""
    report = verify(trace, keys, tshark)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for line in report.lines():
            print(line)
    return report.status
