"""Processing time: what a gateway spends computing before it acts on an IKE message.

A real IKE daemon is not instantaneous. In real strongSwan 5.9.8 captures (scenarios/captures/
strongswan-5.9.8/, lab 1) the responder's IKE_SA_INIT response leaves 6-13 ms after the request (it
generates its MODP-2048 key), the initiator's IKE_AUTH request 5-13 ms after that (shared secret,
SKEYSEED / prf+, AUTH), the responder's IKE_AUTH response 5-9 ms after that (its shared secret,
computed only now), an IKEv1 main mode and quick mode take 31-45 ms, and every timer a daemon
arms (DPD, rekey, retransmission) starts from the instant it finished. A driver charges these
costs before it hands a message to the core: the core then runs, sends and arms its timers at
the end of the computation.

strongSwan processes the jobs of one IKE SA one at a time (its IKE SA manager checks an IKE SA
out to the one thread working on it, libcharon/sa/ike_sa_manager.c ``checkout``): a peer (one
IKE connection) computes one thing at a time, and a message arriving meanwhile waits
(``sim.node``); the peers (tunnels) of one gateway address share its ``workers`` threads
(``sim.workers``; strongswan.conf ``charon.threads`` = 16).

What a message costs is read from the message itself (a pure function of its exchange, role,
payloads and the peer's settings), before the core processes it:

* IKEv2 IKE_SA_INIT request at the responder: key generation of the KE group it accepts, and
  (``ikev2_secret_at_auth`` and ``responder_secret_later`` off) the shared secret and key
  derivation; a KE group it does not accept costs one message (it answers INVALID_KE_PAYLOAD);
* IKEv2 IKE_SA_INIT response at the initiator: shared secret, key derivation, its AUTH;
* IKE_AUTH request at the responder: (with either flag) the shared secret and key derivation,
  verify AUTH, compute its own, install the CHILD SA and its policies; IKE_AUTH response at the
  initiator: verify AUTH, install the CHILD SA and its policies;
* CREATE_CHILD_SA: a KE payload costs a shared secret (and a key generation at the
  responder), a new SA its key derivation and (CHILD) installation; policies only for
  traffic selectors this peer has not installed yet (a rekey reuses them);
* IKEv1 main mode: message 2 makes the initiator generate its key, message 3 the responder
  its key and the shared secret, message 4 the initiator the shared secret and SKEYID, 5 and
  6 a HASH each (strongSwan 5.9.8 sa/ikev1/tasks/main_mode.c: build_i MM_SA create_dh,
  process_r MM_SA create_dh, build_r / process_i MM_KE derive_keys -> keymat_v1.c
  derive_ike_keys, which computes the secret on first use); quick mode: KEYMAT and
  installation (PFS adds DH);
* everything else (INFORMATIONAL, DPD, a retransmitted copy): one message.

Work a peer starts on its own is charged when it needs a key no inbound message paid for
(``Cpu.outbound``: an IKE_SA_INIT request, a rekey or PFS CREATE_CHILD_SA, a PFS quick mode):
the request leaves, and its retransmission timer starts, when the key is made. Other work a
timer starts (a liveness check, a Delete) costs nothing: the message leaves when the timer fires.

Costs are seconds on one worker; ``scale`` multiplies all of them (a what-if for a slow or
loaded gateway), ``jitter`` varies each by up to that fraction, from the peer's seeded stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from .dh import DhError, public_length

# Relative cost of one modular exponentiation / scalar multiplication per DH group, MODP-2048 =
# 1. MODP groups scale with the modulus: a full-size exponent costs ~ bits^2.6 with GMP; ECP and
# Curve25519 from OpenSSL's `openssl speed` ratios (ECDH P-256 is ~20x cheaper than a MODP-2048
# exponentiation with a full exponent on x86-64; P-384 ~8x, P-521 ~3x, X25519 ~30x). Estimates,
# not measurements of a particular gateway.
GROUP_FACTOR: dict[int, float] = {
    1: 0.15, 2: 0.3, 5: 0.55, 14: 1.0, 15: 2.9, 16: 6.1, 17: 17.0, 18: 36.0,
    22: 0.3, 23: 1.0, 24: 1.0,
    19: 0.05, 20: 0.12, 21: 0.33, 25: 0.04, 26: 0.05, 27: 0.04, 28: 0.06, 29: 0.15, 30: 0.4,
    31: 0.03, 32: 0.08,
}


@dataclass(frozen=True, slots=True)
class CpuCosts:
    """Seconds per operation on one worker, and what varies them."""

    message: float = 0.0001
    """Parse, decrypt, build, encrypt and send one IKE message."""
    keygen: float = 0.0105
    """Generate a MODP-2048 private value and public key (other groups: ``GROUP_FACTOR``)."""
    secret: float = 0.0045
    """Compute a MODP-2048 shared secret."""
    prf: float = 0.0001
    """Derive keys (SKEYSEED / prf+, SKEYID, KEYMAT)."""
    auth: float = 0.0004
    """Compute or verify one PSK AUTH payload / HASH_I / HASH_R."""
    install: float = 0.0003
    """Install a CHILD SA's IPsec SA pair in the data plane."""
    policy: float = 0.004
    """Install the policies of a CHILD SA's traffic selectors, the first time they are needed:
    a rekeyed CHILD SA keeps the policies of the one it replaces (strongSwan
    ``child_sa.install_policies`` runs for new CHILD SAs only)."""
    responder_secret_later: bool = False
    """The responder does not compute the shared secret before its IKE_SA_INIT response / main
    mode message 4 (Libreswan 4.10: IKEv2 computes it when IKE_AUTH arrives, ikev2_ike_auth.c;
    IKEv1 in the background while it waits for message 5, ikev1_main.c): IKEv2 charges it to
    the IKE_AUTH request, IKEv1 not at all."""
    ikev2_secret_at_auth: bool = False
    """The IKEv2 responder computes the shared secret (and SKEYSEED) only when the IKE_AUTH request
    arrives, its IKEv1 main mode still before message 4: strongSwan since 5.9.7 (commit 44629bbadb
    "ikev2: Delay IKE key derivation until next message"; 5.9.8 sa/ikev2/tasks/ike_init.c build_r:
    "key derivation is done before the next request is processed", task_manager_v2.c
    parse_message -> derive_keys before the IKE_AUTH body is decrypted). charon's logs of S5-S8 show
    it: 3-4 ms between B receiving the IKE_AUTH request and "parsed IKE_AUTH request"."""
    workers: int = 16
    """Computations of different peers (tunnels) of one gateway that run at once (strongSwan's
    thread pool, strongswan.conf ``charon.threads`` = 16); one peer computes one at a time."""
    scale: float = 1.0
    jitter: float = 0.0
    """Each cost varies uniformly by up to this fraction (0.1: +-10 %)."""
    source: str = ""
    """Where these numbers come from."""

    def scaled(self, factor: float) -> CpuCosts:
        return replace(self, scale=self.scale * factor)


STRONGSWAN_LAB1 = CpuCosts(
    message=0.0011, keygen=0.0071, secret=0.0071, prf=0.0002, auth=0.0, install=0.0, policy=0.0,
    ikev2_secret_at_auth=True,
    source="fitted with scripts/calibrate-cpu --equal keygen=secret (strongSwan's gmp plugin: one mpz_powm_sec "
           "each, scripts/gmp-powm.c) to the real strongSwan 5.9.8 runs S1-S4c (Debian 12 packages, "
           "kernel-libipsec, two network namespaces on one x86-64 machine, lab 1): "
           "scenarios/captures/strongswan-5.9.8")

STRONGSWAN_LAB2 = CpuCosts(
    message=0.0, keygen=0.003, secret=0.0045, prf=0.0001, auth=0.0004, install=0.0003, policy=0.0,
    ikev2_secret_at_auth=True,
    source="fitted with scripts/calibrate-cpu to the real strongSwan 5.9.8 runs S5-S9 (the same packages and "
           "namespaces on a 2-vCPU Intel Xeon 2.8 GHz KVM guest, lab 2; key generation 3 ms as charon's log of "
           "S9 shows it): scenarios/captures/strongswan-5.9.8")

STRONGSWAN_DEFAULT = "strongswan-5.9.8-lab1"
"""The strongSwan table ``strongswan-5.9.8`` names: the one that holds for more of the captures
within 10 ms (docs/cpu.md)."""

LIBRESWAN_LAB2 = CpuCosts(
    message=0.0001, keygen=0.003, secret=0.001, prf=0.0001, auth=0.0002, install=0.0002, policy=0.0003,
    responder_secret_later=True, workers=1,
    source="medians of nine real Libreswan 4.10 runs, pluto against pluto (Debian 12 package, NSS; two network "
           "namespaces on the machine of strongswan-5.9.8-lab2): scenarios/captures/libreswan-4.10; one worker: "
           "pluto's crypto helpers, ipsec.conf(5) nhelpers, default the number of CPUs minus one (that machine had "
           "two)")

COST_TABLES = {"strongswan-5.9.8-lab1": STRONGSWAN_LAB1, "strongswan-5.9.8-lab2": STRONGSWAN_LAB2,
               "libreswan-4.10": LIBRESWAN_LAB2}
COST_TABLES["strongswan-5.9.8"] = COST_TABLES[STRONGSWAN_DEFAULT]


@dataclass
class Cpu:
    """One peer's worker: the cost of the next inbound message, and the jitter stream."""

    costs: CpuCosts
    rng: random.Random
    groups: frozenset[int] = field(default_factory=frozenset)
    """KE groups this peer accepts (from its IKE and CHILD proposals)."""
    policies: set[frozenset[str]] = field(default_factory=set)
    """Traffic selectors whose policies this peer has installed (a reboot forgets them)."""
    _later: int | None = None
    """The KE group of a shared secret left for IKE_AUTH (``responder_secret_later``)."""
    _seen: dict[tuple[Any, ...], None] = field(default_factory=dict)
    """The last messages this peer received (``inbound``: a copy of one of them is cheap)."""

    def _policy(self, m: Any, kind: str) -> float:
        # the policies are those of the selector pair, whichever peer sends the exchange: a
        # rekey the other peer starts carries our selectors in TSr, not TSi (RFC 7296 2.9), and
        # still reuses the installed policies (strongSwan kernel interfaces refcount a policy
        # that exists; real capture S8: the responder of the other side's rekey answers in 0.6 ms)
        key = frozenset(repr(getattr(p, "selectors", p)) for p in _payloads(m) if _kind(p) == kind)
        if key in self.policies:
            return 0.0
        self.policies.add(key)
        return self.costs.policy

    def _jit(self, seconds: float) -> float:
        c = self.costs
        if c.jitter and seconds:
            seconds *= 1.0 + c.jitter * (2.0 * self.rng.random() - 1.0)
        return seconds * c.scale

    def dh(self, group: int | None, keygen: bool) -> float:
        if group is None:
            return 0.0
        f = GROUP_FACTOR.get(group, 1.0)
        return f * (self.costs.secret + (self.costs.keygen if keygen else 0.0))

    def inbound(self, message: Any, retransmit: int = 0) -> float:
        """Seconds of work before the core acts on ``message`` (an IKEv2 or IKEv1 message object).
        A retransmitted copy of a message this peer has seen costs one message: a daemon
        recognises it and resends its cached response (RFC 7296 2.1) or drops it; a copy whose
        earlier transmissions never reached this peer (lost, or it was frozen) costs in full."""
        version = getattr(message, "version", None)
        key = _identity(message)
        seen = key in self._seen
        if not seen:
            self._seen[key] = None
            if len(self._seen) > 256:
                del self._seen[next(iter(self._seen))]
        if retransmit and seen:
            base = 0.0
        else:
            base = self._ikev2(message) if version == 2 else self._ikev1(message) if version == 1 else 0.0
        return self._jit(self.costs.message + base)

    def outbound(self, messages: Any) -> float:
        """Seconds of work before requests this peer builds on its own can leave: a key it
        generates for a KE payload that no inbound message paid for (an IKE_SA_INIT request, a
        CREATE_CHILD_SA request with KE: a rekey or PFS; IKEv1 aggressive mode message 1 and a
        PFS quick mode message 1). charon's S9 log: 3 ms between 'initiating IKE_SA' and the
        request with KE. A retransmitted copy and an IKE_SA_INIT retried with a COOKIE reuse the
        key; main mode message 3's key was paid for by message 2."""
        work = self.keys_to_make(messages)
        return self._jit(work) if work else 0.0

    def keys_to_make(self, messages: Any) -> float:
        """``outbound`` without jitter (draws nothing from the peer's stream)."""
        work = 0.0
        for m in messages:
            if getattr(m, "response", True):
                continue
            exchange, kinds = _name(m.exchange), _kinds(m)
            if "KE" not in kinds or "SA" not in kinds:
                continue
            if m.version == 2 and exchange in ("IKE_SA_INIT", "CREATE_CHILD_SA"):
                if exchange == "IKE_SA_INIT" and any(_kind(p) == "N" and getattr(p, "type", None) == _COOKIE
                                                     for p in _payloads(m)):
                    continue
                work += self.keygen_only(_ke_group(m))
            elif m.version == 1 and exchange in ("AGGRESSIVE", "QUICK_MODE"):
                work += self.keygen_only(self._v1_group(m))
        return work

    def _ikev2(self, m: Any) -> float:
        c = self.costs
        exchange = _name(m.exchange)
        kinds = _kinds(m)
        ke = _ke_group(m)
        if exchange == "IKE_SA_INIT":
            if ke is None or (self.groups and ke not in self.groups) or "SA" not in kinds:
                return 0.0  # INVALID_KE_PAYLOAD, COOKIE, an error notify
            if m.response:  # the initiator: shared secret, keys, then its AUTH
                return self.dh(ke, keygen=False) + c.prf + c.auth
            if c.responder_secret_later or c.ikev2_secret_at_auth:
                self._later = ke
                return self.keygen_only(ke)
            return self.dh(ke, keygen=True) + c.prf
        if exchange == "IKE_AUTH":
            if "AUTH" not in kinds:
                return 0.0
            later, self._later = (self.dh(self._later, keygen=False) + c.prf if self._later is not None
                                  and not m.response else 0.0), None
            return later + c.auth * (1 if m.response else 2) + (c.install + self._policy(m, "TS") if "SA" in kinds
                                                                else 0.0)
        if exchange == "CREATE_CHILD_SA":
            if "SA" not in kinds:
                return 0.0
            work = self.dh(ke, keygen=not m.response) if ke is not None else 0.0
            return work + c.prf + (c.install + self._policy(m, "TS") if "TS" in kinds else 0.0)
        return 0.0

    def _ikev1(self, m: Any) -> float:
        c = self.costs
        exchange = _name(m.exchange)
        kinds = _kinds(m)
        response = bool(m.response)
        group = self._v1_group(m)
        if exchange == "IDENTITY_PROTECTION":
            if "KE" in kinds:  # message 3 at the responder, 4 at the initiator
                if response:
                    return self.dh(group, keygen=False) + c.prf + c.auth
                return self.keygen_only(group) if c.responder_secret_later else self.dh(group, keygen=True) + c.prf
            if "SA" in kinds:  # message 2: the initiator generates the key it sends in message 3
                return self.keygen_only(group) if response else 0.0
            if "HASH" in kinds:  # message 5 (verify HASH_I, compute HASH_R), 6 (verify HASH_R)
                return c.auth * (1 if response else 2)
            return 0.0
        if exchange == "AGGRESSIVE":
            if "KE" in kinds:
                return (self.dh(group, keygen=False) + c.prf + 2 * c.auth if response
                        else self.dh(group, keygen=True) + c.prf + c.auth)
            return c.auth if "HASH" in kinds else 0.0
        if exchange == "QUICK_MODE":
            if "SA" in kinds:  # message 1 at the responder, 2 at the initiator (PFS: with KE)
                work = self.dh(group, keygen=not response) if "KE" in kinds else 0.0
                # the responder installs at message 3, its policies are charged here
                return work + c.prf + 2 * c.auth + (c.install if response else 0.0) + self._policy(m, "ID")
            return c.auth + c.install  # message 3: the responder installs
        return 0.0

    def keygen_only(self, group: int | None) -> float:
        return self.dh(group, keygen=True) - self.dh(group, keygen=False)

    def _v1_group(self, m: Any) -> int | None:
        """IKEv1 KE payloads carry no group: the one of this peer's groups whose public value has
        that length (else MODP-2048's cost)."""
        for p in _payloads(m):
            if _kind(p) == "KE":
                return next((g for g in sorted(self.groups) if _public_length(g) == len(p.data)), 14)
        return min(self.groups) if self.groups else 14


_COOKIE = 16390
"""The COOKIE notify type (RFC 7296 3.10.1)."""


def _public_length(group: int) -> int | None:
    try:
        return public_length(group)
    except DhError:
        return None


def _identity(m: Any) -> tuple[Any, ...]:
    """What makes a message the same message: exchange, direction, message id, SPIs/cookies."""
    return (getattr(m, "version", None), _name(getattr(m, "exchange", None)), bool(getattr(m, "response", False)),
            getattr(m, "msg_id", None), bytes(getattr(m, "spi_i", b"") or getattr(m, "cky_i", b"") or b""),
            bytes(getattr(m, "spi_r", b"") or getattr(m, "cky_r", b"") or b""))


def _name(exchange: Any) -> str:
    return str(getattr(exchange, "name", exchange))


def _payloads(m: Any) -> tuple[Any, ...]:
    return tuple(getattr(m, "payloads", ()) or ())


def _kind(p: Any) -> str:
    return type(p).__name__.upper()


def _kinds(m: Any) -> set[str]:
    return {_kind(p) for p in _payloads(m)}


def _ke_group(m: Any) -> int | None:
    for p in _payloads(m):
        if _kind(p) == "KE":
            g = getattr(p, "group", None)
            return int(g) if g is not None else None
    return None
