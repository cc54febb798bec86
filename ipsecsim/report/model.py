"""The data of an HTML report: what the page draws, as one JSON-ready dict.

Read from the Result only (``events``, ``summary()``, ``transmissions`` and the key records):

* ``messages``: every IKE datagram put on the wire (``Result.transmissions``), in time order,
  with sender, receiver, exchange, request / response, message id, retransmission count,
  payloads in strongSwan's notation, arrival time or why it was lost; the first
  ``DETAIL_CAP`` also carry their decoded contents (``decode.decode``) and keys. More than
  ``MESSAGE_CAP`` messages are cut, and the page says so.
* ``bars``: per peer, each IKE SA and CHILD SA from establishment to deletion (or the end of
  the run), labelled with its SPIs, with the SA it replaced (rekeys link old to new).
* ``marks``: per peer, DPD probes and verdicts, NQA / health-check results, faults,
  failures and lifetimes reached.
* ``outages``: per traffic flow, the periods its packets were dropped (not counting loss).
* ``summary``: the final state per peer in the simulator's and the vendors' vocabulary, and
  the traffic totals.

A report can also be made from a saved events file (``ipsecsim run --events F``): then the
messages come from the ``message_sent`` / ``message_lost`` events and carry no decoded
contents (the events do not keep the payload fields), and there is no final state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..proto.events import Event
from ..trace.timefmt import TimeFormat
from .decode import KeyBook, decode

if TYPE_CHECKING:
    from ..result import Result

MESSAGE_CAP = 20_000
"""Messages listed in the sequence diagram at most (header and payload list each)."""
DETAIL_CAP = 400
"""Messages whose decoded contents the report carries (the first ones of the run)."""

_MARKS = {"dpd_probe_sent": "dpd", "dpd_probe_acked": "dpd", "peer_dead": "verdict", "nqa_state": "nqa",
          "nqa_probe_lost": "nqa", "route_revoked": "nqa", "route_restored": "nqa", "fault": "fault",
          "negotiation_failed": "failure", "retransmit_gave_up": "failure", "sa_expired": "lifetime",
          "rekey_collision": "lifetime", "ha_switch": "fault"}
_CLOSES_ALL = ("crash", "restart")


def _mark_text(e: Event) -> str:
    from rich.text import Text

    from ..trace.timeline import FORMATTERS
    fmt = FORMATTERS.get(e.event)
    if fmt is None:
        return e.event
    return Text.from_markup(fmt(e, {})[1]).plain


class _Bars:
    def __init__(self) -> None:
        self.bars: list[dict[str, Any]] = []
        self.open: dict[tuple[str, str, str], dict[str, Any]] = {}

    def start(self, peer: str, kind: str, key: str, t: float, label: str, prev: str | None = None,
              detail: str = "") -> None:
        if (peer, kind, key) in self.open:
            return
        bar = {"peer": peer, "kind": kind, "id": f"{peer}:{kind}:{key}", "start": t, "end": None, "label": label,
               "prev": f"{peer}:{kind}:{prev}" if prev else None, "detail": detail, "end_reason": None}
        self.bars.append(bar)
        self.open[(peer, kind, key)] = bar

    def end(self, peer: str, kind: str, key: str, t: float, reason: str) -> None:
        bar = self.open.pop((peer, kind, key), None)
        if bar is not None:
            bar["end"], bar["end_reason"] = t, reason

    def end_all(self, peer: str, t: float, reason: str) -> None:
        for k in [k for k in self.open if k[0] == peer]:
            self.end(*k, t, reason)


def sa_bars(events: Iterable[Event], duration: float) -> list[dict[str, Any]]:
    """The IKE and CHILD SAs of each peer as bars (RFC 7296 1.3 / 2.8: a rekey makes a new SA
    and deletes the old one; the bar of the new SA names the old one in ``prev``)."""
    b = _Bars()
    for e in events:
        g = e.get
        if e.event == "ike_sa_established":
            b.start(e.peer, "ike", f"{g('spi_i')}_{g('spi_r')}", e.t, f"IKE {g('spi_i')}_i {g('spi_r')}_r",
                    detail=str(g("proposal")))
        elif e.event == "ike_sa_rekeyed":
            b.start(e.peer, "ike", f"{g('new_spi_i')}_{g('new_spi_r')}", e.t,
                    f"IKE {g('new_spi_i')}_i {g('new_spi_r')}_r", prev=f"{g('spi_i')}_{g('spi_r')}",
                    detail=f"rekey of {g('spi_i')}_i {g('spi_r')}_r")
        elif e.event == "ike_sa_deleted":
            b.end(e.peer, "ike", f"{g('spi_i')}_{g('spi_r')}", e.t, str(g("reason")))
        elif e.event == "child_sa_established":
            b.start(e.peer, "child", str(g("spi_in")), e.t, f"CHILD {g('spi_in')}_i {g('spi_out')}_o",
                    detail=f"{g('proposal')} {', '.join(g('local_ts') or [])} === {', '.join(g('remote_ts') or [])}")
        elif e.event == "child_sa_rekeyed":
            b.start(e.peer, "child", str(g("spi_in")), e.t, f"CHILD {g('spi_in')}_i {g('spi_out')}_o",
                    prev=str(g("old_spi_in")), detail=f"rekey of {g('old_spi_in')}_i {g('old_spi_out')}_o")
        elif e.event == "child_sa_deleted":
            b.end(e.peer, "child", str(g("spi_in")), e.t, str(g("reason")))
        elif e.event == "fault" and g("kind") in _CLOSES_ALL and not g("undo"):
            b.end_all(e.peer, e.t, f"fault {g('kind')}")
    for bar in b.bars:
        if bar["end"] is None:
            bar["end"], bar["end_reason"] = duration, "still up at the end"
    return b.bars


def marks(events: Iterable[Event]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        kind = _MARKS.get(e.event)
        if kind is None:
            continue
        bad = e.event in ("peer_dead", "route_revoked", "negotiation_failed", "retransmit_gave_up", "nqa_probe_lost") \
            or (e.event == "nqa_state" and e.get("state") != "up")
        out.append({"t": e.t, "peer": e.peer, "kind": kind, "event": e.event, "bad": bad, "text": _mark_text(e)})
    return out


def _message_row(i: int, t: float, sender: str, receiver: str, f: dict[str, Any], retransmit: int,
                 arrival: float | None, lost: str | None) -> dict[str, Any]:
    return {"i": i, "t": t, "from": sender, "to": receiver, "ex": f.get("exchange"), "resp": bool(f.get("response")),
            "mid": f.get("msg_id"), "rt": retransmit, "pl": list(f.get("payloads") or []), "arr": arrival,
            "lost": lost, "v": f.get("ike_version"), "enc": bool(f.get("encrypted"))}


def _receiver(result: Result, sender: str, dst: str) -> str:
    sc = result.scenario
    at = [n for n, s in sc.peers.items() if s.address == dst and n != sender]
    if len(at) == 1:
        return at[0]
    return sc.spec.partner.get(sender, at[0] if at else dst)


def messages_from_result(result: Result) -> tuple[list[dict[str, Any]], dict[int, list[Any]], int]:
    from ..sim.link import message_fields
    from ..trace.keyfile import records
    book = KeyBook(records(result))
    rows: list[dict[str, Any]] = []
    details: dict[int, list[Any]] = {}
    txs = sorted(result.transmissions, key=lambda tx: tx.t)
    for i, tx in enumerate(txs[:MESSAGE_CAP]):
        msg = tx.dgram.message
        f = {**message_fields(msg), "encrypted": bool(getattr(msg, "encrypted", False))}
        rows.append(_message_row(i, tx.t, tx.sender, _receiver(result, tx.sender, tx.dgram.dst), f,
                                 tx.dgram.retransmit, tx.arrival, tx.lost))
        if i < DETAIL_CAP:
            details[i] = decode(msg, book.for_message(msg, tx.dgram.keys))
    return rows, details, len(txs)


def messages_from_events(events: Sequence[Event], peers: Sequence[str]) -> tuple[list[dict[str, Any]], int]:
    lost = {(e.peer, e.get("exchange"), e.get("msg_id"), bool(e.get("response")), round(e.t, 6)): e.get("reason")
            for e in events if e.event == "message_lost"}
    rows: list[dict[str, Any]] = []
    sent = [e for e in events if e.event == "message_sent"]
    for i, e in enumerate(sent[:MESSAGE_CAP]):
        key = (e.peer, e.get("exchange"), e.get("msg_id"), bool(e.get("response")), round(e.t, 6))
        other = [p for p in peers if p != e.peer]
        rows.append(_message_row(i, e.t, e.peer, other[0] if other else "?", e.fields, int(e.get("retransmit", 0)),
                                 None, lost.get(key)))
    return rows, len(sent)


def outages(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, f in ((summary.get("traffic") or {}).get("flows") or {}).items():
        for o in f.get("outages") or []:
            out.append({"flow": name, "from": f.get("from"), "to": f.get("to"), "start": o["start"], "end": o["end"],
                        "reasons": o["reasons"]})
    return out


def final_state(summary: dict[str, Any], tf: TimeFormat) -> list[dict[str, Any]]:
    """Per peer: status, the vendors' words for it, its SAs and failures."""
    out = []
    for name, p in (summary.get("peers") or {}).items():
        vendor = {v: (s.get("text") or s.get("status") or "") if isinstance(s, dict) else str(s)
                  for v, s in (p.get("vendor_status") or {}).items()}
        out.append({"peer": name, "status": p.get("status"), "vendor": vendor, "down": p.get("down"),
                    "ike": [f"IKE SA {s['spi_i']}_i {s['spi_r']}_r {s['state']} {s.get('proposal') or ''}"
                            for s in p.get("ike_sas") or []],
                    "child": [f"CHILD SA {c['spi_in']}_i {c['spi_out']}_o {c['proposal']} {', '.join(c['local_ts'])}"
                              f" === {', '.join(c['remote_ts'])}" for c in p.get("child_sas") or []],
                    "failures": [f"{tf.at(f['t'])}{tf.unit()}: {f.get('notify') or ''} {f.get('reason')}"
                                 for f in p.get("failures") or []]})
    return out


def traffic_rows(summary: dict[str, Any], tf: TimeFormat) -> list[dict[str, Any]]:
    out = []
    for name, d in ((summary.get("traffic") or {}).get("directions") or {}).items():
        out.append({"direction": name, "offered": d["offered_bytes"], "delivered": d["delivered_bytes"],
                    "dropped": d["dropped_bytes"], "outages": len(d["outages"]),
                    "outage_total": tf.span(d["outage_total"])})
    return out


def build(result: Result) -> dict[str, Any]:
    """The report of a run."""
    from .. import __version__
    sc = result.scenario
    tf = TimeFormat.for_run(result.duration)
    summary = result.summary()
    rows, details, total = messages_from_result(result)
    return {
        "meta": {"name": sc.name, "seed": result.seed, "duration": result.duration, "long": tf.long,
                 "description": sc.spec.description.strip(), "version": __version__,
                 "events": len(result.events), "source": "scenario",
                 "peers": [{"name": n, "address": s.address, "profile": s.profile, "ike": s.ike.version,
                            "start": s.start} for n, s in sc.peers.items()]},
        "messages": rows, "message_total": total, "detail_cap": DETAIL_CAP, "details": details,
        "bars": sa_bars(result.events, result.duration), "marks": marks(result.events),
        "outages": outages(summary), "state": final_state(summary, tf), "traffic": traffic_rows(summary, tf),
    }


def build_from_events(events: Sequence[Event], name: str) -> dict[str, Any]:
    """The report of a saved events file: no decoded contents, no final state."""
    from .. import __version__
    peers = list(dict.fromkeys(e.peer for e in events if e.event.startswith("message_") or "sa_" in e.event))
    duration = max((e.t for e in events), default=0.0)
    tf = TimeFormat.for_run(duration)
    rows, total = messages_from_events(events, peers)
    return {
        "meta": {"name": name, "seed": None, "duration": duration, "long": tf.long, "description": "",
                 "version": __version__, "events": len(events), "source": "events",
                 "peers": [{"name": p, "address": "", "profile": "", "ike": None, "start": ""} for p in peers]},
        "messages": rows, "message_total": total, "detail_cap": 0, "details": {},
        "bars": sa_bars(events, duration), "marks": marks(events), "outages": [], "state": [], "traffic": [],
    }
