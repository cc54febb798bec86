"""The lifecycle tables of the protocol core (proto/fsm.py, sa.CHILD_SA, ikev2.ikesa.IKE_SA,
ikev1.isakmpsa.ISAKMP_SA) and the diagrams generated from them (docs/machines.md).

Expected lifecycles follow the RFCs: a CHILD SA is rekeyed make-before-break and replaced, then
deleted (RFC 7296 1.3.3, 2.8); an IKE SA is established by IKE_AUTH, rekeyed by
CREATE_CHILD_SA and deleted by INFORMATIONAL with D (RFC 7296 1.3.2, 1.4.1); an ISAKMP SA is
established by main / aggressive mode and deleted (RFC 2409 5, RFC 2408 3.15); a deleted SA
never comes back (RFC 4301 4.4.2: SAD entries are removed, not reused).
"""

import ast
import sys

import pytest
from conftest import ROOT, SCENARIOS
from hypothesis import given
from hypothesis import strategies as st

from ipsecsim import load_scenario, simulate
from ipsecsim.proto import dpd, machines
from ipsecsim.proto.fsm import ActionError, Table, TransitionError
from ipsecsim.proto.ikev1 import phase1, quickmode
from ipsecsim.proto.ikev1.isakmpsa import ISAKMP_SA, IsakmpInput, IsakmpSa, IsakmpState
from ipsecsim.proto.ikev2.ikesa import IKE_SA, IkeInput, IkeSa, IkeState
from ipsecsim.proto.proposals import Protocol, parse
from ipsecsim.proto.sa import CHILD_SA, ChildInput, ChildSa, ChildState
from ipsecsim.proto.ts import selectors

PEERS = (("10.0.0.1", 500), ("10.0.0.2", 500))


def new_child() -> ChildSa:
    ts = selectors(["10.1.0.0/24"])
    return ChildSa(1, 1, b"\x01" * 4, b"\x02" * 4, parse("aes128-sha256", Protocol.ESP), ts, ts, True, 0.0)


def new_ike() -> IkeSa:
    return IkeSa(1, True, b"\x01" * 8, bytes(8), *PEERS, 0.0)


def new_isakmp() -> IsakmpSa:
    return IsakmpSa(1, True, "main", b"\x01" * 8, bytes(8), *PEERS, 0.0)


RECORDS = {CHILD_SA.name: new_child, IKE_SA.name: new_ike, ISAKMP_SA.name: new_isakmp}
PAIRS = [(t, s, i) for t in machines.LIFECYCLES for s in t.states for i in t.inputs]


class Recorder(dict):
    """Handlers for every action of ``table`` that record (action, record, now) in order."""

    def __init__(self, table):
        self.calls = []
        super().__init__({a: (lambda rec, now, a=a: self.calls.append((a, rec, now))) for a in table.actions})


def test_the_docs_are_generated_from_the_tables():
    current = (ROOT / "docs" / "machines.md").read_text()
    assert current == machines.markdown(), \
        "docs/machines.md is stale: python -m ipsecsim.proto.machines --markdown > docs/machines.md"


def test_each_record_starts_in_its_tables_initial_state():
    for t in machines.LIFECYCLES:
        assert RECORDS[t.name]().state is t.initial


@pytest.mark.parametrize(("table", "state", "inp"), PAIRS, ids=[f"{t.name}-{s.name}-{i.name}" for t, s, i in PAIRS])
def test_every_state_input_pair(table, state, inp):
    """A pair in the table moves the record to the row's state (one of the machine's states); a
    pair not in it raises TransitionError naming machine, state and input, and leaves the record
    where it was."""
    sa = RECORDS[table.name]()
    sa.state = state
    fx = Recorder(table)
    if (state, inp) in table.rows:
        assert sa.can(inp)
        sa.move(inp, fx, 7.5)
        row = table.rows[(state, inp)]
        assert sa.state is row.next and sa.state in table.states
        # the row's actions, each once, in the row's order, on this record, at this time
        assert fx.calls == [(a, sa, 7.5) for a in row.actions]
    else:
        assert not sa.can(inp)
        with pytest.raises(TransitionError) as err:
            sa.move(inp, fx, 7.5)
        assert str(err.value) == f"{table.name}: no transition for input {inp.value} in state {state.value}"
        assert (err.value.machine, err.value.state, err.value.input) == (table.name, state, inp)
        assert sa.state is state and fx.calls == []


@given(st.sampled_from(machines.LIFECYCLES).flatmap(
    lambda t: st.tuples(st.just(t), st.lists(st.sampled_from(list(t.inputs)), max_size=30))))
def test_any_input_sequence_stays_within_the_table(case):
    """h2-style: from the initial state, any sequence of inputs either moves along a row or
    raises the named error without moving; the final states (DELETED / DESTROYED) accept nothing."""
    table, inputs = case
    sa = RECORDS[table.name]()
    fx = Recorder(table)
    for inp in inputs:
        before, ran = sa.state, len(fx.calls)
        try:
            sa.move(inp, fx, 0.0)
        except TransitionError as e:
            assert (before, inp) not in table.rows and e.state is before and sa.state is before
            assert len(fx.calls) == ran
        else:
            assert table.rows[(before, inp)].next is sa.state
            assert [a for a, _, _ in fx.calls[ran:]] == list(table.rows[(before, inp)].actions)


def test_deleted_and_destroyed_are_final():
    """RFC 4301 4.4.2: a removed SAD entry is gone; a later DELETE or expiry finds nothing."""
    assert not any(s is ChildState.DELETED for s, _ in CHILD_SA.rows)
    assert not any(s is IkeState.DESTROYED for s, _ in IKE_SA.rows)
    assert not any(s is IsakmpState.DESTROYED for s, _ in ISAKMP_SA.rows)


def test_every_state_is_reachable_and_can_end():
    for t in machines.LIFECYCLES:
        seen, todo = {t.initial}, [t.initial]
        while todo:
            s = todo.pop()
            for (frm, _), row in t.rows.items():
                nxt = row.next
                if frm is s and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen == set(t.states), t.name
        ends = {s for s in t.states if not any(frm is s for frm, _ in t.rows)}
        assert len(ends) == 1, t.name


def test_rfc_lifecycles_are_rows():
    """The paths the RFCs describe, step by step through the records."""
    child = new_child()  # RFC 7296 2.8: rekeyed, the new SA takes over, the old one is deleted
    for inp, state in ((ChildInput.REKEY, ChildState.REKEYING), (ChildInput.REPLACED, ChildState.REKEYED),
                       (ChildInput.DELETE, ChildState.DELETED)):
        child.move(inp, Recorder(CHILD_SA), 0.0)
        assert child.state is state
    ike = new_ike()  # RFC 7296 1.3.2 / 2.18: the old IKE SA is deleted after the rekey
    for inp, state in ((IkeInput.ESTABLISH, IkeState.ESTABLISHED), (IkeInput.REKEY, IkeState.REKEYING),
                       (IkeInput.REPLACED, IkeState.REKEYED), (IkeInput.DELETE, IkeState.DELETING),
                       (IkeInput.DESTROY, IkeState.DESTROYED)):
        ike.move(inp, Recorder(IKE_SA), 0.0)
        assert ike.state is state
    isakmp = new_isakmp()
    isakmp.move(IsakmpInput.ESTABLISH, Recorder(ISAKMP_SA), 0.0)
    isakmp.move(IsakmpInput.DESTROY, Recorder(ISAKMP_SA), 0.0)
    assert not isakmp.alive


# --- no state change outside the tables -------------------------------------------------------
def _assigns_state(node: ast.AST) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
        if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
    flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
    return any(isinstance(t, ast.Attribute) and t.attr == "state" for t in flat)


def test_only_the_tables_change_a_state():
    """In the protocol core, ``x.state = ...`` appears only in the method that applies a table
    row (``move`` of the SA records, ``DpdMachine.handle``) and in the BGP session and TCP
    models, which have their own machines."""
    found = []
    for path in (ROOT / "ipsecsim" / "proto").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if "/bgp/" in rel:
            continue
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    if _assigns_state(node):
                        found.append((rel, fn.name))
    assert sorted(found) == sorted([("ipsecsim/proto/sa.py", "move"), ("ipsecsim/proto/ikev2/ikesa.py", "move"),
                                    ("ipsecsim/proto/ikev1/isakmpsa.py", "move"), ("ipsecsim/proto/dpd.py", "handle"),
                                    ("ipsecsim/proto/fsm.py", "__init__")])


# --- real runs take table transitions only ----------------------------------------------------
class Watch:
    """Records every state change of the SA records and every DPD step during real runs."""

    def __init__(self, monkeypatch):
        self.changes: list[tuple[str, object, object, str]] = []
        self.dpd: list[tuple[dpd.DpdState, dpd.DpdInput, tuple[dpd.Act, ...], dpd.DpdState]] = []
        self.flights: list[tuple[str, tuple[object, ...], int, int, str]] = []
        for cls, table in ((ChildSa, CHILD_SA), (IkeSa, IKE_SA), (IsakmpSa, ISAKMP_SA)):
            monkeypatch.setattr(cls, "__setattr__", self._setattr(table))
        monkeypatch.setattr(quickmode.QuickMode, "__setattr__", self._setattr(None))
        handle = dpd.DpdMachine.handle

        def watched(m, inp, now):
            before = m.state
            acts = handle(m, inp, now)
            self.dpd.append((before, inp, tuple(acts), m.state))
            return acts
        monkeypatch.setattr(dpd.DpdMachine, "handle", watched)

    def _setattr(self, table):
        def setattr_(obj, name, value):
            if name == "next_msg" and sys._getframe(1).f_code.co_name != "__init__":
                key = (obj.mode, obj.initiator) if isinstance(obj, IsakmpSa) else (obj.initiator,)
                self.flights.append(("phase1" if isinstance(obj, IsakmpSa) else "quick", key, obj.next_msg, value,
                                     sys._getframe(1).f_code.co_name))
            if name == "state" and table is not None:
                try:
                    old = object.__getattribute__(obj, "state")
                except AttributeError:
                    old = None  # the dataclass __init__
                if old is not None:
                    self.changes.append((table.name, old, value, sys._getframe(1).f_code.co_name))
            object.__setattr__(obj, name, value)
        return setattr_


SHIPPED = sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.yaml"))
"""The library, the sweeps' base scenarios and the reproductions of real captures."""


@pytest.mark.parametrize("name", SHIPPED)
def test_real_runs_take_only_table_transitions(name, monkeypatch):
    watch = Watch(monkeypatch)
    simulate(load_scenario(SCENARIOS / name))
    tables = {t.name: t for t in machines.LIFECYCLES}
    for machine, old, new, via in watch.changes:
        assert via == "move", (machine, old, new, via)
        assert any(frm is old and r.next is new for (frm, _), r in tables[machine].rows.items()), (machine, old, new)
    for before, inp, acts, after in watch.dpd:
        assert (acts, after) in set(dpd.TRANSITIONS[(before, inp)][1].values())
    for which, key, old, new, via in watch.flights:
        if via in ("start", "initiate"):  # message 1 sent: the initiator expects message 2
            assert (old, new) == (1, 2) and key[-1] is True
            continue
        rows = phase1.FLIGHTS if which == "phase1" else quickmode.FLIGHTS
        assert via == "receive" and rows[(*key, old)][1] == new, (which, key, old, new, via)


def test_flights_follow_rfc_2409():
    """RFC 2409 5: main mode is six messages and aggressive mode three, alternating from the
    initiator; quick mode (5.5) is three. Each side expects the other's messages in turn, and
    the state after the last one is complete (one past it)."""
    for mode, count in (("main", 6), ("aggressive", 3)):
        rows = {(i, n): then for (m, i, n), (_, then) in phase1.FLIGHTS.items() if m == mode}
        assert phase1.LAST[mode] == count
        assert rows == {(n % 2 == 0, n): min(n + 2, count + 1) for n in range(1, count + 1)}
    assert {k: then for k, (_, then) in quickmode.FLIGHTS.items()} == {(False, 1): 3, (True, 2): 4, (False, 3): 4}


@pytest.mark.parametrize("name", ["strongswan-ikev2-dpd-clear.yaml", "strongswan-ikev1-dpd-timeout.yaml"])
def test_the_answer_to_a_probe_takes_the_probing_ack_row(name, monkeypatch):
    """RFC 7296 2.4 (IKEv2: the INFORMATIONAL response) and RFC 3706 (IKEv1: R-U-THERE-ACK): the
    answer to the outstanding probe is fed once, as ACK while PROBING, and ends the round."""
    watch = Watch(monkeypatch)
    result = simulate(load_scenario(SCENARIOS / name))
    acked = [e for e in result.events if e.to_dict()["event"] == "dpd_probe_acked"]
    assert acked
    ack_steps = [s for s in watch.dpd if s[1] is dpd.DpdInput.ACK]
    assert len(ack_steps) == len(acked)
    assert all(s[0] is dpd.DpdState.PROBING and s[2] == (dpd.Act.ACKED,) and s[3] is dpd.DpdState.WATCHING
               for s in ack_steps)


@pytest.mark.parametrize(("name", "mode"), [("ikev1-main-mode.yaml", "main"),
                                           ("ikev1-aggressive-mode.yaml", "aggressive")])
def test_a_clean_ikev1_run_takes_every_flight_row(name, mode, monkeypatch):
    """Both sides run the whole exchange once: each row of the mode's phase 1 and of quick mode
    fires on one side or the other (RFC 2409 5, 5.5)."""
    watch = Watch(monkeypatch)
    simulate(load_scenario(SCENARIOS / name))
    taken = {(which, (*key, old)) for which, key, old, _, via in watch.flights if via == "receive"}
    assert {("phase1", k) for k in phase1.FLIGHTS if k[0] == mode} <= taken
    assert {("quick", k) for k in quickmode.FLIGHTS} <= taken


# --- actions: named in the rows, run by the owners -------------------------------------------
def test_every_rows_actions_are_actions_of_its_machine_with_a_note():
    for t in machines.LIFECYCLES:
        for (state, inp), row in t.rows.items():
            assert all(a in t.actions for a in row.actions), (t.name, state, inp)
            assert len(set(row.actions)) == len(row.actions), (t.name, state, inp)
        assert set(t.action_notes) == set(t.actions), t.name
        # each action is named by at least one row: none is registered for nothing
        assert {a for r in t.rows.values() for a in r.actions} == set(t.actions), t.name


def test_an_owner_must_handle_every_action():
    """Handlers are checked when an engine registers them: a missing one names the machine and
    the action, so no row can reach an action nobody runs."""
    full = Recorder(CHILD_SA)
    assert CHILD_SA.handlers(full) is full
    partial = {a: h for a, h in full.items() if a.value != "forget"}
    with pytest.raises(ActionError) as err:
        CHILD_SA.handlers(partial)
    assert str(err.value) == "CHILD SA: no handler for action forget"
    child = new_child()  # a row whose action has no handler does not run silently
    with pytest.raises(ActionError):
        child.move(ChildInput.DELETE, partial, 0.0)


def test_rows_with_side_effects_follow_the_rfcs():
    """RFC 4301 4.4.2: a deleted SA leaves the SAD and is reported; RFC 7296 1.4.1: once an IKE
    SA is being deleted no new exchange starts on it; a destroyed SA sends nothing more."""
    for state in (ChildState.INSTALLED, ChildState.REKEYING, ChildState.REKEYED):
        acts = CHILD_SA.rows[(state, ChildInput.DELETE)].actions
        assert [a.value for a in acts] == ["stop_outbound", "report_deleted", "forget"]
    for (state, inp), row in IKE_SA.rows.items():
        names = [a.value for a in row.actions]
        assert ("drop_queued" in names) == (inp is IkeInput.DELETE), (state, inp)
        gone = ["remove_children", "report_deleted", "abort_exchanges", "forget"]  # RFC 7296 1.4.1: children first
        assert (names == gone) == (inp is IkeInput.DESTROY), (state, inp)
    assert not CHILD_SA.rows[(ChildState.INSTALLED, ChildInput.REKEY)].actions
    # RFC 2408 2.4: the IPsec SAs outlive their ISAKMP SA, so destroying one removes none of them
    for state in (IsakmpState.CONNECTING, IsakmpState.ESTABLISHED):
        names = [a.value for a in ISAKMP_SA.rows[(state, IsakmpInput.DESTROY)].actions]
        assert names[0] == "report_deleted" and names[-1] == "forget" and "remove_children" not in names


class Dispatched:
    """Every dispatch of a lifecycle row during a real run: (machine, actions, record, handler keys)."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[str, tuple[object, ...], object, frozenset[object]]] = []
        dispatch = Table.dispatch

        def watched(table, row, handlers, record, now):
            self.calls.append((table.name, row.actions, record, frozenset(handlers)))
            return dispatch(table, row, handlers, record, now)
        monkeypatch.setattr(Table, "dispatch", watched)


@pytest.mark.parametrize("name", ["rekey-by-time.yaml", "rekey-collision.yaml", "strongswan-ikev2-dpd-clear.yaml",
                                  "ikev1-rekey.yaml"])
def test_real_runs_report_through_the_rows(name, monkeypatch):
    """Each engine registers a handler for every action, and the events that belong to a
    transition come from its row: one child_sa_deleted per CHILD SA moved to DELETED (same SPIs,
    same order; RFC 4301 4.4.2 removes an SAD entry once), one IKEv1 ike_sa_established per
    ISAKMP SA moved to ESTABLISHED."""
    seen = Dispatched(monkeypatch)
    result = simulate(load_scenario(SCENARIOS / name))
    tables = {t.name: t for t in machines.LIFECYCLES}
    assert seen.calls
    for machine, _, _, keys in seen.calls:
        assert keys == frozenset(tables[machine].actions), machine
    events = [e.to_dict() for e in result.events]
    deleted = [(e["spi_in"], e["spi_out"]) for e in events if e["event"] == "child_sa_deleted"]
    moved = [(c.spi_in.hex(), c.spi_out.hex()) for m, acts, c, _ in seen.calls
             if m == CHILD_SA.name and any(a.value == "report_deleted" for a in acts)]
    assert deleted and moved == deleted
    if "ikev1" in name:
        up = [e for e in events if e["event"] == "ike_sa_established"]
        isakmp_up = [sa for m, acts, sa, _ in seen.calls if m == ISAKMP_SA.name
                     and any(a.value == "report_established" for a in acts)]
        assert up and len(isakmp_up) == len(up)
        assert [e["spi_i"] for e in up] == [sa.cky_i.hex() for sa in isakmp_up]
