"""Transition tables of the protocol core's state machines (h11 / h2 style).

A ``Table`` is one machine: its states, its inputs, its actions and a dict
``(state, input) -> Row(actions, next state)``. The actions are the named side effects that
belong to the transition itself (report the SA gone, forget it, drop its queued exchanges ...);
the record that owns the state applies a row in one place (its ``move``): the state changes,
then ``Table.dispatch`` runs the row's actions, in order, through the handlers its owner
registered for them (one callable per action, keyed by the action enum). A pair missing from
the dict is a programming error, raised as ``TransitionError`` naming the machine, the state
and the input; an action without a handler raises ``ActionError``.

The tables themselves sit next to the record they govern (``sa.CHILD_SA``,
``ikev2.ikesa.IKE_SA``, ``ikev1.isakmpsa.ISAKMP_SA``); ``proto.machines`` lists them all and
renders them as state diagrams.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741
A = TypeVar("A", bound=enum.Enum)
R = TypeVar("R")

Handlers = Mapping[A, Callable[[R, float], None]]
"""What an owner runs for each action of a machine: ``handler(record, now)``."""


class TransitionError(RuntimeError):
    """An input arrived in a state whose table has no row for it."""

    def __init__(self, machine: str, state: enum.Enum, inp: enum.Enum):
        self.machine, self.state, self.input = machine, state, inp
        super().__init__(f"{machine}: no transition for input {inp.value} in state {state.value}")


class ActionError(RuntimeError):
    """An owner registered no handler for an action of the machine."""

    def __init__(self, machine: str, actions: tuple[enum.Enum, ...]):
        self.machine, self.actions = machine, actions
        super().__init__(f"{machine}: no handler for action {', '.join(a.value for a in actions)}")


@dataclass(frozen=True, slots=True)
class Row(Generic[S, A]):
    """What one (state, input) pair does: run ``actions`` (in order), end in ``next``."""

    actions: tuple[A, ...]
    next: S


@dataclass(frozen=True, slots=True)
class Table(Generic[S, I, A]):
    """One state machine as data: ``rows[(state, input)]`` is the row (actions, next state)."""

    name: str
    states: type[S]
    inputs: type[I]
    actions: type[A]
    initial: S
    rows: Mapping[tuple[S, I], Row[S, A]]
    notes: Mapping[I, str]
    """What each input means (shown in the docs)."""
    action_notes: Mapping[A, str]
    """What each action does (shown in the docs)."""

    def __post_init__(self) -> None:
        for (state, inp), row in self.rows.items():
            assert state in self.states and inp in self.inputs and row.next in self.states, (self.name, state, inp)
            assert all(a in self.actions for a in row.actions), (self.name, state, inp, row.actions)
        assert set(self.notes) == set(self.inputs), f"{self.name}: every input needs a note"
        assert set(self.action_notes) == set(self.actions), f"{self.name}: every action needs a note"

    def row(self, state: S, inp: I) -> Row[S, A]:
        """The row of ``(state, inp)``; ``TransitionError`` if the table has none."""
        try:
            return self.rows[(state, inp)]
        except KeyError:
            raise TransitionError(self.name, state, inp) from None

    def next(self, state: S, inp: I) -> S:
        """The state ``inp`` leads to from ``state``; ``TransitionError`` if the table has no row."""
        return self.row(state, inp).next

    def handlers(self, handlers: Handlers[A, R]) -> Handlers[A, R]:
        """``handlers`` once checked to cover every action of the machine (``ActionError``
        otherwise): what an owner registers when it is built, so that no row can reach an
        action it cannot run."""
        missing = tuple(a for a in self.actions if a not in handlers)
        if missing:
            raise ActionError(self.name, missing)
        return handlers

    def dispatch(self, row: Row[S, A], handlers: Handlers[A, R], record: R, now: float) -> None:
        """The one place a row's actions run: each action's handler, in the row's order."""
        for action in row.actions:
            handler = handlers.get(action)
            if handler is None:
                raise ActionError(self.name, (action,))
            handler(record, now)

    def allows(self, state: S, inp: I) -> bool:
        return (state, inp) in self.rows

    def edges(self) -> list[tuple[S, str, S, tuple[A, ...]]]:
        """(state, input label, next state, actions), in table order."""
        return [(s, i.value, r.next, r.actions) for (s, i), r in self.rows.items()]


def row(nxt: S, *actions: A) -> Row[S, A]:
    """A table row: next state, then the actions (shorthand for the tables' literals)."""
    return Row(tuple(actions), nxt)
