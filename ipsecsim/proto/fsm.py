"""Transition tables of the protocol core's state machines (h11 / h2 style).

A ``Table`` is one machine: its states, its inputs and a dict ``(state, input) -> next state``.
``Table.next`` is the only way a lifecycle state changes; a pair missing from the dict is a
programming error, raised as ``TransitionError`` naming the machine, the state and the input.
The tables themselves sit next to the record they govern (``sa.CHILD_SA``,
``ikev2.ikesa.IKE_SA``, ``ikev1.isakmpsa.ISAKMP_SA``); ``proto.machines`` lists them all and
renders them as state diagrams.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741


class TransitionError(RuntimeError):
    """An input arrived in a state whose table has no row for it."""

    def __init__(self, machine: str, state: enum.Enum, inp: enum.Enum):
        self.machine, self.state, self.input = machine, state, inp
        super().__init__(f"{machine}: no transition for input {inp.value} in state {state.value}")


@dataclass(frozen=True, slots=True)
class Table(Generic[S, I]):
    """One state machine as data: ``rows[(state, input)]`` is the next state."""

    name: str
    states: type[S]
    inputs: type[I]
    initial: S
    rows: Mapping[tuple[S, I], S]
    notes: Mapping[I, str]
    """What each input means (shown in the docs)."""

    def __post_init__(self) -> None:
        for (state, inp), nxt in self.rows.items():
            assert state in self.states and inp in self.inputs and nxt in self.states, (self.name, state, inp)
        assert set(self.notes) == set(self.inputs), f"{self.name}: every input needs a note"

    def next(self, state: S, inp: I) -> S:
        """The state ``inp`` leads to from ``state``; ``TransitionError`` if the table has no row."""
        try:
            return self.rows[(state, inp)]
        except KeyError:
            raise TransitionError(self.name, state, inp) from None

    def allows(self, state: S, inp: I) -> bool:
        return (state, inp) in self.rows

    def edges(self) -> list[tuple[S, str, S]]:
        """(state, input label, next state), in table order."""
        return [(s, i.value, n) for (s, i), n in self.rows.items()]
