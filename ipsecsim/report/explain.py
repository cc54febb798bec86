"""``ipsecsim explain``: a run told step by step, for teaching.

Each step is one IKE message on the wire (from ``Result.transmissions``) or one thing a peer
did or concluded (from ``Result.events``): what the message carries and why, with the RFC
section that defines it (RFC 7296 for the IKEv2 exchanges, RFC 2409 for the IKEv1 modes,
RFC 3706 for IKEv1 dead peer detection, RFC 4303 for the ESP SAs), which timer was armed and
why it fired, and what each side concludes. Events that happen at the same simulated time as
a message and at its receiver are told in that message's step. With ``step`` the narration
waits for Enter between steps (``q`` and Enter stops it; the end of input stops waiting).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from ..proto.events import Event
from ..trace.timefmt import CURRENT, TimeFormat, at, span

if TYPE_CHECKING:
    from ..result import Result

_QUIET = {"message_sent", "message_received", "message_lost", "nqa_probe_sent", "nat_keepalive_sent",
          "nat_mapping_created"}


def _labels(f: dict[str, Any]) -> list[str]:
    return [str(x) for x in f.get("payloads") or []]


def _v2(f: dict[str, Any]) -> tuple[str, str]:
    """(what the message carries and why, RFC section) of an IKEv2 message."""
    ex, resp, pl = f.get("exchange"), f.get("response"), _labels(f)
    errors = [p for p in pl if p.startswith("N(") and p[2:-1] in ("NO_PROP", "AUTH_FAILED", "TS_UNACCEPT", "INVAL_KE",
                                                                  "NO_ADD_SAS", "TEMP_FAILURE", "CHILD_SA_NOT_FOUND")]
    if errors:
        return (f"an error notification {', '.join(errors)}: the responder refuses the request and says why; the "
                f"initiator gives up this exchange (RFC 7296 3.10.1 lists the error types)", "RFC 7296 2.21")
    if ex == "IKE_SA_INIT":
        if not resp:
            return ("opens a new IKE SA in the clear: SA offers the initiator's cryptographic suites (encryption, "
                    "PRF, integrity, DH group), KE its Diffie-Hellman public value for the first group, No a fresh "
                    "nonce, N(NATD_*) hashes of the addresses and ports so that both sides can tell whether a NAT "
                    "is on the path. No keys exist yet, so nothing is encrypted", "RFC 7296 1.2, 2.10, 2.23")
        if any("INVAL_KE" in p for p in pl):
            return ("asks for another DH group (INVALID_KE_PAYLOAD names the one the responder wants); the "
                    "initiator starts IKE_SA_INIT again with a KE payload for it", "RFC 7296 1.2, 3.10.1")
        return ("accepts: SA names the one suite chosen from the offer, KE and No are the responder's DH value and "
                "nonce. From g^ir and both nonces each side now computes SKEYSEED and the keys SK_d, SK_ai/ar, "
                "SK_ei/er, SK_pi/pr: everything from here on is encrypted", "RFC 7296 1.2, 2.14")
    if ex == "IKE_AUTH":
        if not resp:
            return ("encrypted and integrity-protected in SK { }: IDi says who the initiator is, AUTH proves it (a MAC "
                    "with the pre-shared key over the first message, the responder's nonce and IDi), SA and TSi/TSr "
                    "ask for the first CHILD SA (ESP) and the traffic it should carry", "RFC 7296 1.2, 2.15, 2.9")
        return ("the responder's identity IDr and its AUTH, the ESP suite it chose (SA) and the traffic selectors "
                "it accepts (TSi/TSr, possibly narrowed). When this arrives, both sides have an authenticated IKE "
                "SA and the first CHILD SA", "RFC 7296 1.2, 2.9, 2.15")
    if ex == "CREATE_CHILD_SA":
        if "N(REKEY_SA)" in pl:
            return ("rekeys a CHILD SA: N(REKEY_SA) names the SA being replaced, SA a fresh SPI and proposal, No a "
                    "fresh nonce" + (", KE a new DH value (PFS)" if "KE" in pl else "") + ", TSi/TSr the same traffic."
                    " The new SA is installed before the old one is deleted (make before break)", "RFC 7296 1.3.3")
        if "TSi" not in pl:
            return ("rekeys the IKE SA itself: SA with IKE proposals and new SPIs, KE and No; the new IKE SA's keys "
                    "come from the old SK_d, and its CHILD SAs move over to it", "RFC 7296 1.3.2, 2.18")
        return ("creates another CHILD SA under the IKE SA: SA, No, optional KE, and the traffic selectors",
                "RFC 7296 1.3.1")
    if ex == "INFORMATIONAL":
        if "D" in pl:
            return ("deletes an SA: D names the SPIs (or the IKE SA itself); the peer deletes its side and answers "
                    "with D for the paired SAs", "RFC 7296 1.4.1")
        if not pl:
            return ("an empty INFORMATIONAL" + (" answer" if resp else " request") + ": a liveness check. A peer that "
                    "has heard nothing for a while asks; any authenticated answer proves the peer is alive",
                    "RFC 7296 1.4, 2.4")
        return ("carries notifications " + ", ".join(pl), "RFC 7296 1.4")
    return ("an IKEv2 message", "RFC 7296")


def _v1(f: dict[str, Any]) -> tuple[str, str]:
    ex, pl = f.get("exchange"), _labels(f)
    if ex == "IDENTITY_PROTECTION":
        if "SA" in pl:
            return ("main mode, messages 1-2: SA offers (or accepts) the ISAKMP SA's transforms with their "
                    "lifetimes; V announces extensions (DPD, NAT traversal)", "RFC 2409 5, RFC 2408 3.4")
        if "KE" in pl:
            return ("main mode, messages 3-4: KE is the Diffie-Hellman public value and No the nonce; after them "
                    "both sides derive SKEYID and the encryption key", "RFC 2409 5")
        return ("main mode, messages 5-6, encrypted: the ID of the sender and HASH_I / HASH_R proving it knows the "
                "pre-shared key; afterwards phase 1 (the ISAKMP SA) is complete", "RFC 2409 5")
    if ex == "AGGRESSIVE":
        return ("aggressive mode: three messages with SA, KE, nonce and ID together (identities in the clear), the "
                "last one with HASH_I", "RFC 2409 5")
    if ex == "QUICK_MODE":
        return ("quick mode (phase 2), encrypted under the ISAKMP SA: HASH authenticates the message, SA the IPsec "
                "(ESP) proposal with its SPI, No a nonce, ID ID the traffic (proxy IDs); the third message "
                "confirms, and both sides install the IPsec SA pair", "RFC 2409 5.5")
    if ex == "INFORMATIONAL":
        if any(p in ("N(DPD)", "N(DPD_ACK)") for p in pl):
            which = "R-U-THERE" if "N(DPD)" in pl else "R-U-THERE-ACK"
            return (f"dead peer detection: {which} with a sequence number, protected by HASH; an R-U-THERE is "
                    "answered by an R-U-THERE-ACK with the same number", "RFC 3706 5")
        if "D" in pl:
            return ("a delete notification: the sender has removed the SA named by its SPIs", "RFC 2408 3.15, "
                    "RFC 2409 5.7")
        return ("an informational exchange with notifications " + ", ".join(pl), "RFC 2408 4.8, RFC 2409 5.7")
    return ("an IKEv1 message", "RFC 2409")


def message_story(f: dict[str, Any]) -> tuple[str, str]:
    """What an IKE message (its event fields) carries and why, and the RFC section."""
    return _v1(f) if f.get("ike_version") == 1 else _v2(f)


def _ev(e: Event) -> str | None:
    """The sentence for one event, or None when it is not worth a step."""
    n = e.event
    story = _STORIES.get(n)
    if story is not None:
        return story(e)
    if n in _QUIET:
        return None
    from rich.text import Text

    from ..trace.timeline import FORMATTERS
    fmt = FORMATTERS.get(n)
    return f"{e.peer}: " + (Text.from_markup(fmt(e, {})[1]).plain if fmt else n)


def _ike_established(e: Event) -> str:
    g = e.get
    return (f"{e.peer} concludes: the IKE SA {g('spi_i')}_i {g('spi_r')}_r is established ({g('proposal')}); "
            f"the peer {g('remote_id')} is authenticated")


def _child_established(e: Event) -> str:
    g = e.get
    return (f"{e.peer} concludes: the CHILD SA is installed, ESP SPIs {g('spi_in')} in / {g('spi_out')} out "
            f"({g('proposal')}); packets between {', '.join(g('local_ts') or [])} and "
            f"{', '.join(g('remote_ts') or [])} are now encrypted (ESP, RFC 4303)")


def _sa_expired(e: Event) -> str:
    g = e.get
    what = "IKE SA" if g("sa_type") == "ike" else f"CHILD SA {g('spi_in')}"
    lim = span(g("limit")) if g("by") == "time" and g("limit") is not None else f"{g('limit')} {g('by')}"
    if g("kind") == "soft":
        return (f"timer at {e.peer}: the soft lifetime of the {what} ({lim}, armed when the SA was made) has "
                f"fired, so {e.peer} starts a rekey while the SA still works (RFC 7296 2.8)")
    return f"timer at {e.peer}: the hard lifetime of the {what} ({lim}) has fired: the SA is deleted (RFC 7296 2.8)"


def _child_rekeyed(e: Event) -> str:
    g = e.get
    return (f"{e.peer} concludes: the CHILD SA is rekeyed, {g('old_spi_in')} → {g('spi_in')}"
            + (f" with PFS {g('pfs')}" if g("pfs") else "") + "; the old one stays a few seconds for late packets")


def _ike_rekeyed(e: Event) -> str:
    g = e.get
    return (f"{e.peer} concludes: the IKE SA is rekeyed, {g('spi_i')}_i → {g('new_spi_i')}_i; message ids "
            "restart at 0 on the new one")


def _dpd_probe(e: Event) -> str:
    g = e.get
    rfc = " (RFC 7296 2.4)" if g("msg_id") is not None else " (RFC 3706 5)"
    if g("retry"):
        return (f"timer at {e.peer}: the probe was not answered within the retransmission timeout, so {e.peer} "
                f"sends it again (retry {g('retry')}){rfc}")
    return f"timer at {e.peer}: nothing was heard from the peer for the DPD delay, so {e.peer} sends a probe{rfc}"


def _gave_up(e: Event) -> str:
    g = e.get
    return (f"timer at {e.peer}: the last retransmission of {g('exchange')} request {g('msg_id')} went "
            f"unanswered; after {g('transmissions')} transmissions {e.peer} gives up (RFC 7296 2.1)")


def _failed(e: Event) -> str:
    g = e.get
    return f"{e.peer} concludes: negotiation failed" + (f" with {g('notify')}" if g("notify") else "") + \
        f": {g('reason')}"


def _dropped(e: Event) -> str:
    g = e.get
    return (f"traffic {g('flow')}: {g('packets')} packet(s) dropped ({g('reason')}) between {at(g('start'))} and "
            f"{at(g('end'))}")


_STORIES: dict[str, Callable[[Event], str]] = {
    "ike_sa_established": _ike_established,
    "child_sa_established": _child_established,
    "sa_expired": _sa_expired,
    "child_sa_rekeyed": _child_rekeyed,
    "ike_sa_rekeyed": _ike_rekeyed,
    "ike_sa_deleted": lambda e: f"{e.peer} removes the IKE SA {e.get('spi_i')}_i {e.get('spi_r')}_r "
                                f"({e.get('reason')})",
    "child_sa_deleted": lambda e: f"{e.peer} removes the CHILD SA {e.get('spi_in')}_i {e.get('spi_out')}_o "
                                  f"({e.get('reason')})",
    "dpd_probe_sent": _dpd_probe,
    "dpd_probe_acked": lambda e: f"{e.peer} concludes: the peer answered the probe, it is alive",
    "peer_dead": lambda e: (f"{e.peer} concludes: the peer is dead (DPD: no answer through the whole "
                            f"retransmission schedule); action {e.get('action')}"),
    "retransmit_gave_up": _gave_up,
    "negotiation_failed": _failed,
    "negotiation_retry": lambda e: f"{e.peer} tries again: attempt {e.get('attempt')} of {e.get('keyingtries')}",
    "fault": lambda e: f"fault injected: {e.get('kind')}" + (" ends" if e.get("undo") else "") + f" ({e.peer})",
    "traffic_started": lambda e: f"traffic {e.get('flow')} starts: {e.get('src')} → {e.get('dst')} "
                                 f"({e.get('kind')})",
    "traffic_dropped": _dropped,
}
"""The teaching sentence of each event that has one of its own (others: the timeline's line)."""


def steps(result: Result) -> list[tuple[float, list[str]]]:
    """The narration as (time, lines) steps, in time order."""
    from ..sim.link import message_fields
    items: list[tuple[float, int, Any]] = []
    for k, tx in enumerate(result.transmissions):
        items.append((tx.t, 0, (k, tx)))
    for k, e in enumerate(result.events):
        items.append((e.t, 1, (k, e)))
    items.sort(key=lambda x: (x[0], x[1], x[2][0]))
    out: list[tuple[float, list[str]]] = []
    for t, kind, (_, obj) in items:
        if kind == 0:
            tx = obj
            f = message_fields(tx.dgram.message)
            story, rfc = message_story(f)
            enc = getattr(tx.dgram.message, "encrypted", False)
            pl = " ".join(_labels(f))
            what = "response" if f.get("response") else "request"
            pl = pl + " " if pl else ""
            body = ("[ " + pl + "]" if not enc else "encrypted [ " + pl + "]" if f.get("ike_version") == 1
                    else "SK { " + pl + "}")
            head = f"{tx.sender} → {_receiver(result, tx)}: {f.get('exchange')} {what} {f.get('msg_id')}  {body}"
            lines = [head, f"  carries: {story}", f"  see: {rfc}"]
            if tx.dgram.retransmit:
                lines.insert(1, f"  retransmission {tx.dgram.retransmit}: no answer came within the retransmission "
                             "timeout, so the same message is sent again; the timeout grows each time (RFC 7296 2.1)")
            if tx.lost:
                lines.append(f"  lost on the way ({tx.lost}): the receiver never sees it")
            out.append((t, lines))
            continue
        text = _ev(obj)
        if text is None:
            continue
        if out and abs(out[-1][0] - t) < 1e-9:
            out[-1][1].append("  → " + text)
        else:
            out.append((t, [text]))
    return out


def _receiver(result: Result, tx: Any) -> str:
    from .model import _receiver as recv
    return recv(result, tx.sender, tx.dgram.dst)


def narrate(result: Result, console: Console, step: bool = False, stdin: IO[str] | None = None,
            wait: Callable[[], str] | None = None) -> int:
    """Print the steps; with ``step`` wait for a line of ``stdin`` after each. Returns the number of
    steps told."""
    tf = TimeFormat.for_run(result.duration)
    token = CURRENT.set(tf)
    try:
        sc = result.scenario
        console.print(f"[bold]{escape(sc.name)}[/]  seed {result.seed}, {tf.span(result.duration)} simulated")
        if sc.spec.description:
            console.print(f"[dim]{escape(sc.spec.description.strip())}[/]")
        for n, s in sc.peers.items():
            console.print(f"  {n}: {s.address}, {s.profile}, IKEv{s.ike.version}, start {s.start}")
        all_steps = steps(result)
        told = 0
        for i, (t, lines) in enumerate(all_steps, 1):
            console.print()
            console.print(f"[bold cyan]Step {i} of {len(all_steps)}[/]  [bold]{tf.at(t)}{tf.unit()}[/]  "
                          f"{escape(lines[0])}")
            for line in lines[1:]:
                console.print(escape(line))
            told += 1
            if step and i < len(all_steps):
                console.print("[dim](Enter: next step, q: stop)[/]", end="")
                answer = wait() if wait else (stdin.readline() if stdin else "")
                if answer == "":  # end of input: tell the rest without waiting
                    step = False
                    console.print()
                elif answer.strip().lower() == "q":
                    console.print(f"stopped at step {i} of {len(all_steps)}")
                    return told
        console.print()
        from ..trace.timeline import render_state
        render_state(result, console)
        return told
    finally:
        CURRENT.reset(token)
