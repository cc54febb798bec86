"""Every state machine of the protocol core, listed from its table, and docs/machines.md.

    python -m ipsecsim.proto.machines               # each machine's rows as text
    python -m ipsecsim.proto.machines --markdown    # docs/machines.md (mermaid state diagrams)

The diagrams are drawn from the tables themselves (``sa.CHILD_SA``, ``ikev2.ikesa.IKE_SA``,
``ikev1.isakmpsa.ISAKMP_SA``, ``dpd.TRANSITIONS``, the IKEv1 flights ``ikev1.phase1.FLIGHTS`` and
``ikev1.quickmode.FLIGHTS``, ``bgp.fsm.TABLE``), so they cannot drift
from the code; a test checks that docs/machines.md is what this module prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import dpd
from .bgp import fsm as bgp_fsm
from .fsm import Table
from .ikev1 import phase1, quickmode
from .ikev1.isakmpsa import ISAKMP_SA
from .ikev2.ikesa import IKE_SA
from .sa import CHILD_SA

LIFECYCLES: tuple[Table[Any, Any], ...] = (CHILD_SA, IKE_SA, ISAKMP_SA)
"""The SA lifecycle tables: (state, input) -> next state."""


@dataclass(frozen=True, slots=True)
class Edge:
    state: str
    label: str
    next: str
    actions: str = ""


@dataclass(frozen=True, slots=True)
class Machine:
    name: str
    module: str
    what: str
    initial: str
    edges: tuple[Edge, ...]
    notes: tuple[tuple[str, str], ...]
    """(input, what it means)"""
    final: tuple[str, ...]


def _lifecycle(t: Table[Any, Any], module: str, what: str) -> Machine:
    edges = tuple(Edge(s.name, label, n.name) for s, label, n in t.edges())
    left = {e.state for e in edges}
    final = tuple(s.name for s in t.states if s.name not in left)
    return Machine(t.name, module, what, t.initial.name, edges, tuple((i.value, t.notes[i]) for i in t.inputs), final)


def _dpd() -> Machine:
    edges = []
    for (state, inp), (_handler, outcomes) in dpd.TRANSITIONS.items():
        for verdict, (acts, nxt) in outcomes.items():
            label = inp.value if verdict is dpd.Verdict.NONE else f"{inp.value} [{verdict.value}]"
            edges.append(Edge(state.name, label, nxt.name, ", ".join(a.value for a in acts)))
    notes = {dpd.DpdInput.TIMER: "the machine's deadline has passed",
             dpd.DpdInput.INBOUND: "an authenticated message (or counted ESP) arrived from the peer",
             dpd.DpdInput.TRAFFIC: "this side has outbound traffic to send (on-demand mode)",
             dpd.DpdInput.ACK: "the answer to our probe (IKEv2 INFORMATIONAL response, IKEv1 R-U-THERE-ACK)",
             dpd.DpdInput.GAVE_UP: "liveness style: the probe's retransmissions gave up",
             dpd.DpdInput.FAILED: "another exchange of the IKE SA gave up: it cannot carry requests",
             dpd.DpdInput.RESUME: "action none: the verdict was reported, watch again"}
    return Machine("DPD", "ipsecsim/proto/dpd.py",
                   "Dead peer detection of one IKE / ISAKMP SA (RFC 3706, RFC 7296 2.4). A row's handler "
                   "updates clocks and counters and returns a verdict in [brackets] (probe, dead); the verdict "
                   "picks the actions (after the slash) and the next state.",
                   dpd.DpdState.WATCHING.name, tuple(edges), tuple((i.value, notes[i]) for i in dpd.DpdInput), ())


def _flight(name: str, module: str, what: str, rows: dict[tuple[bool, int], tuple[Any, int]],
            first: dict[bool, int]) -> Machine:
    """A flight table keyed (this side initiated, message expected): one diagram, both roles."""
    def sid(initiator: bool, n: int) -> str:
        return f"{'initiator' if initiator else 'responder'}_expects_{n}"
    edges = [Edge(sid(i, n), f"message {n}", sid(i, then), handler.__name__)
             for (i, n), (handler, then) in rows.items()]
    ends = sorted({e.next for e in edges} - {e.state for e in edges})
    starts = (Edge("[*]", "start: message 1 sent", sid(True, first[True])),
              Edge("[*]", "", sid(False, first[False])))
    return Machine(name, module, what, "", (*starts, *edges), (), tuple(ends))


def _flights() -> tuple[Machine, ...]:
    out = []
    for mode, last in phase1.LAST.items():
        rows = {(i, n): row for (m, i, n), row in phase1.FLIGHTS.items() if m == mode}
        out.append(_flight(f"IKEv1 phase 1, {mode} mode", "ipsecsim/proto/ikev1/phase1.py",
                           f"The {mode} mode exchange (RFC 2409 5) of one ISAKMP SA, both roles: the state is the "
                           f"message this side expects next (`sa.next_msg`), {last + 1}: complete. The actions "
                           f"are the handlers of `ipsecsim/proto/ikev1/{mode}_mode.py`; one that fails leaves the "
                           f"state as it is. A message without a row is the peer's error, ignored with the reason.",
                           rows, {True: 2, False: 1}))
    out.append(_flight("IKEv1 quick mode", "ipsecsim/proto/ikev1/quickmode.py",
                       "One quick mode (RFC 2409 5.5), both roles: the state is the message this side expects next "
                       "(`qm.next_msg`), 4: complete.", quickmode.FLIGHTS, {True: 2, False: 1}))
    return tuple(out)


def _bgp() -> Machine:
    edges = tuple(Edge(s.name, e.value, n.name, ", ".join(acts))
                  for (s, e), (acts, n) in bgp_fsm.TABLE.items())
    return Machine("BGP session", "ipsecsim/proto/bgp/fsm.py",
                   "The BGP-4 session of RFC 4271 section 8 (inputs are the event names of 8.1).",
                   bgp_fsm.State.IDLE.name, edges, (), ())


def machines() -> tuple[Machine, ...]:
    return (
        _lifecycle(CHILD_SA, "ipsecsim/proto/sa.py",
                   "A CHILD SA (IKEv2) or IPsec SA pair (IKEv1 quick mode), from its installation to its "
                   "deletion; shared by both IKE versions."),
        _lifecycle(IKE_SA, "ipsecsim/proto/ikev2/ikesa.py", "An IKEv2 IKE SA (RFC 7296)."),
        _lifecycle(ISAKMP_SA, "ipsecsim/proto/ikev1/isakmpsa.py",
                   "An IKEv1 ISAKMP SA (phase 1, RFC 2409). A phase 1 rekey creates a new ISAKMP SA; "
                   "the old one is flagged superseded and waits for its Delete."),
        _dpd(),
        *_flights(),
        _bgp(),
    )


def _mermaid_id(name: str) -> str:
    return name.replace(" ", "_")


def _edge_label(e: Edge) -> str:
    return f"{e.label} / {e.actions}" if e.actions else e.label


def markdown() -> str:
    out = ["# State machines of the protocol core", "",
           "Generated from the transition tables by `python -m ipsecsim.proto.machines --markdown`; "
           "do not edit by hand (a test checks that this file is current).", "",
           "Each machine is one table `(state, input) -> next state` in one module. A state change "
           "goes through the table only, and an input the table has no row for in the current state "
           "raises an error naming the machine, the state and the input "
           "(`ipsecsim.proto.fsm.TransitionError`; BGP: `FsmError`).", ""]
    for m in machines():
        out += [f"## {m.name}", "", f"`{m.module}`: {m.what}", "", "```mermaid", "stateDiagram-v2"]
        if m.initial:
            out.append(f"    [*] --> {_mermaid_id(m.initial)}")
        out += [f"    {_mermaid_id(e.state)} --> {_mermaid_id(e.next)}" + (f": {_edge_label(e)}" if e.label else "")
                for e in m.edges]
        out += [f"    {_mermaid_id(s)} --> [*]" for s in m.final]
        out += ["```", ""]
        rows = [e for e in m.edges if e.state != "[*]"]
        if any(e.actions for e in rows):
            out += ["| state | input | actions | next state |", "|---|---|---|---|"]
            out += [f"| {e.state} | {e.label} | {e.actions} | {e.next} |" for e in rows]
        else:
            out += ["| state | input | next state |", "|---|---|---|"]
            out += [f"| {e.state} | {e.label} | {e.next} |" for e in rows]
        if m.notes:
            out += ["", "| input | meaning |", "|---|---|"]
            out += [f"| {i} | {what} |" for i, what in m.notes]
        out.append("")
    return "\n".join(out)


def text() -> str:
    lines = []
    for m in machines():
        lines.append(f"{m.name} ({m.module})")
        lines += [f"  {e.state} --{e.label}--> {e.next}" + (f"  [{e.actions}]" if e.actions else "") for e in m.edges]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ipsecsim.proto.machines", description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print docs/machines.md")
    args = ap.parse_args(argv)
    sys.stdout.write(markdown() if args.markdown else text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
