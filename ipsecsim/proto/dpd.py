"""Dead peer detection as one state machine table (RFC 3706, RFC 7296 2.4, vendor documents).

One machine watches one IKE SA. It knows when the peer was last heard from and decides when
to probe and when the peer is dead; the version engine sends the probes (IKEv2: an empty
INFORMATIONAL request; IKEv1: R-U-THERE) and reports what comes back.

Modes (RFC 3706 section 5.3 "worry metric"; Huawei Cloud DPD FAQ):
  * ``periodic``  - probe whenever nothing was received for ``delay`` seconds;
  * ``on-demand`` - probe only when there is outbound traffic to send and nothing was
    received for ``delay`` seconds.

Styles, i.e. what happens after the first probe:
  * ``liveness`` (IKEv2, RFC 7296 2.4): the probe is a normal request, retransmitted on the
    normal schedule (or a DPD-specific one); the peer is dead when that schedule gives up
    (strongSwan: dead at last inbound + dpd_delay + 165 s with the default schedule).
  * ``retry`` (IKEv1, Huawei ``ike dpd``): a new probe every ``retry_interval`` until
    ``retries`` have gone unanswered. ``count`` says how to read "retries": ``probes`` -
    that many probes in all (Huawei Cloud FAQ: "3 failed probes", detection 30 + 3 x 15 =
    75 s) or ``retransmissions`` - one probe plus that many retransmissions (USG command
    reference: retry-limit is the maximum number of retransmissions, 30 + 4 x 15 = 90 s).
  * ``timeout`` (strongSwan IKEv1): a probe every ``delay`` while idle, never retransmitted;
    dead when ``timeout`` passes without anything received.

The table ``TRANSITIONS`` maps (state, input) to the name of the handler; a missing key is a
programming error that names state and input (h11 style). Handlers return the actions the
engine must carry out.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

HISTORY = 256


class DpdState(enum.Enum):
    WATCHING = "watching"  # heard from the peer recently enough, or waiting for traffic (on-demand)
    PROBING = "probing"  # a probe is outstanding
    DEAD = "dead"


class DpdInput(enum.Enum):
    TIMER = "timer"  # the machine's deadline has passed
    INBOUND = "inbound"  # an authenticated message (or counted ESP) arrived from the peer
    TRAFFIC = "traffic"  # this side has outbound traffic to send
    ACK = "ack"  # the probe was answered
    GAVE_UP = "gave_up"  # liveness style: the retransmission schedule of the probe gave up


class Act(enum.Enum):
    PROBE = "probe"  # send a probe (the machine has counted it in ``probes``)
    DEAD = "dead"  # declare the peer dead and apply ``action``
    ACKED = "acked"  # report the acknowledgement


@dataclass(frozen=True, slots=True)
class DpdSettings:
    mode: str = "periodic"  # periodic | on-demand
    delay: float = 30.0  # idle time before probing (strongSwan dpd_delay, Huawei interval/idle-time)
    style: str = "liveness"  # liveness | retry | timeout
    retry_interval: float = 15.0  # retry style: wait for an answer before the next probe
    retries: int = 3  # retry style
    count: str = "probes"  # retry style: probes | retransmissions
    timeout: float = 150.0  # timeout style (strongSwan IKEv1 dpd_timeout)
    action: str = "clear"  # clear | hold | trap | restart | none
    esp_resets_idle: bool | str = True  # inbound ESP counts as proof of life; "udp-encap": only ESP-in-UDP
    schedule: tuple[float, ...] | None = None  # liveness: DPD-specific retransmission waits

    def __post_init__(self) -> None:
        if self.mode not in ("periodic", "on-demand"):
            raise ValueError(f"DPD mode {self.mode!r}: allowed periodic, on-demand")
        if self.style not in ("liveness", "retry", "timeout"):
            raise ValueError(f"DPD style {self.style!r}: allowed liveness, retry, timeout")
        if self.count not in ("probes", "retransmissions"):
            raise ValueError(f"DPD count {self.count!r}: allowed probes, retransmissions")

    @property
    def total_probes(self) -> int:
        """Retry style: probes sent before the peer is declared dead."""
        return self.retries if self.count == "probes" else self.retries + 1

    def detection_time(self) -> float | None:
        """Retry style: seconds from the last inbound packet to the verdict, on a dead link."""
        if self.style == "retry":
            return self.delay + self.total_probes * self.retry_interval
        if self.style == "timeout":
            return self.timeout
        return None


@dataclass(slots=True)
class DpdMachine:
    cfg: DpdSettings
    last_inbound: float
    state: DpdState = DpdState.WATCHING
    probes: int = 0  # probes sent in the current round
    last_probe: float | None = None
    traffic_waiting: bool = False  # on-demand: outbound traffic since the peer went quiet
    traffic_flowing: bool = False  # on-demand: a continuous (fluid) flow is active
    inbound_flowing: bool = False  # a continuous (fluid) flow arrives from the peer: never idle
    history: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    """The last inputs (bounded: every inbound / outbound packet can be an input)."""

    # --- the table --------------------------------------------------------------------------
    def handle(self, inp: DpdInput, now: float) -> list[Act]:
        try:
            name = TRANSITIONS[(self.state, inp)]
        except KeyError:
            raise RuntimeError(f"DPD: no transition for input {inp.value} in state {self.state.value}") from None
        acts: list[Act] = getattr(self, name)(now)
        self.history.append((now, f"{inp.value}->{self.state.value}"))
        return acts

    def fail(self, now: float) -> list[Act]:
        """The liveness exchange itself failed (its retransmissions gave up): whatever the idle
        clock says, the IKE SA can no longer carry requests, so the peer is treated as dead
        (RFC 7296 2.4). Returns [DEAD] unless already dead."""
        if self.state is DpdState.DEAD:
            return []
        self.history.append((now, "failed->dead"))
        return self._dead(now)

    def deadline(self) -> float | None:
        """When the machine wants ``TIMER``; None if only an input can move it."""
        c = self.cfg
        if self.state is DpdState.WATCHING:
            if self.inbound_flowing:
                return None
            if c.mode == "periodic" or self.traffic_flowing:
                return self.last_inbound + c.delay
            return None
        if self.state is DpdState.PROBING:
            assert self.last_probe is not None
            if c.style == "retry":
                return self.last_probe + c.retry_interval
            if c.style == "timeout":
                return min(self.last_probe + c.delay, self.last_inbound + c.timeout)
            return None  # liveness: the task manager's retransmission schedule decides
        return None

    # --- handlers ---------------------------------------------------------------------------
    def _heard(self, now: float) -> list[Act]:
        self.last_inbound = max(self.last_inbound, now)
        self.traffic_waiting = False
        return []

    def _heard_while_probing(self, now: float) -> list[Act]:
        self._heard(now)
        self.state, self.probes, self.last_probe = DpdState.WATCHING, 0, None
        return []

    def _acked(self, now: float) -> list[Act]:
        self._heard_while_probing(now)
        return [Act.ACKED]

    def _idle_timer(self, now: float) -> list[Act]:
        if self.inbound_flowing or now < self.last_inbound + self.cfg.delay:
            return []  # a stale hint: the peer was heard from since
        if self.cfg.mode == "on-demand" and not (self.traffic_waiting or self.traffic_flowing):
            return []
        return self._probe(now)

    def _traffic(self, now: float) -> list[Act]:
        if self.cfg.mode != "on-demand":
            return []
        self.traffic_waiting = True
        if now >= self.last_inbound + self.cfg.delay:
            return self._probe(now)
        return []

    def _probe(self, now: float) -> list[Act]:
        self.state = DpdState.PROBING
        self.probes += 1
        self.last_probe = now
        return [Act.PROBE]

    def _probing_timer(self, now: float) -> list[Act]:
        c = self.cfg
        assert self.last_probe is not None
        if c.style == "retry":
            if now < self.last_probe + c.retry_interval:
                return []
            if self.probes >= c.total_probes:
                return self._dead(now)
            return self._probe(now)
        if c.style == "timeout":
            if now >= self.last_inbound + c.timeout:
                return self._dead(now)
            if now >= self.last_probe + c.delay:
                return self._probe(now)
            return []
        return []

    def _dead(self, now: float) -> list[Act]:
        self.state = DpdState.DEAD
        return [Act.DEAD]

    def _nothing(self, now: float) -> list[Act]:
        return []


TRANSITIONS: dict[tuple[DpdState, DpdInput], str] = {
    (DpdState.WATCHING, DpdInput.TIMER): "_idle_timer",
    (DpdState.WATCHING, DpdInput.INBOUND): "_heard",
    (DpdState.WATCHING, DpdInput.TRAFFIC): "_traffic",
    (DpdState.WATCHING, DpdInput.ACK): "_heard",  # a late answer to an earlier round
    (DpdState.WATCHING, DpdInput.GAVE_UP): "_nothing",  # a stale retransmission verdict
    (DpdState.PROBING, DpdInput.TIMER): "_probing_timer",
    (DpdState.PROBING, DpdInput.INBOUND): "_heard_while_probing",
    (DpdState.PROBING, DpdInput.TRAFFIC): "_nothing",
    (DpdState.PROBING, DpdInput.ACK): "_acked",
    (DpdState.PROBING, DpdInput.GAVE_UP): "_dead",
    (DpdState.DEAD, DpdInput.TIMER): "_nothing",
    (DpdState.DEAD, DpdInput.INBOUND): "_nothing",
    (DpdState.DEAD, DpdInput.TRAFFIC): "_nothing",
    (DpdState.DEAD, DpdInput.ACK): "_nothing",
    (DpdState.DEAD, DpdInput.GAVE_UP): "_nothing",
}
