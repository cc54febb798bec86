"""The ``link:`` of a scenario: delay, jitter, loss (Bernoulli or Gilbert-Elliott), outage
windows, MTU and a NAT (sim/link.py, sim/loss.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, WithJsonSchema, model_validator

from ..errors import shown
from .nat import NatConfig
from .strict import Strict
from .units import DURATION_SCHEMA as _DUR_SCHEMA
from .units import Duration


class Window(Strict):
    start: Duration = Field(alias="from")
    end: Duration = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end:g}s) before it starts ({self.start:g}s)")
        return self


def _probability(value: Any) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"expected a probability such as 0.05 or 5%, got {shown(value)}") from None
    return value  # type: ignore[no-any-return]


Probability = Annotated[float, BeforeValidator(_probability), Field(ge=0, le=1),
                        WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1},
                                                  {"type": "string", "pattern": r"^\d+(\.\d+)?%$"}]})]


class GilbertElliott(Strict):
    """Bursty loss (Gilbert-Elliott two-state channel): in the good state a datagram is lost
    with ``loss_good``, in the bad state with ``loss_bad``. The channel moves either per
    datagram (``p``: good -> bad, ``r``: bad -> good before each datagram; mean burst 1/r
    datagrams, bad share p/(p+r)) or in time (``mean_good`` / ``mean_bad``: exponentially
    distributed sojourns, bad share mean_bad/(mean_good+mean_bad)) - the right choice when
    traffic is sparse, as IKE and DPD messages are, so that a burst lasts seconds, not packets."""

    model: Literal["gilbert-elliott"]
    p: Probability | None = Field(None, description="per datagram: probability good -> bad")
    r: Probability | None = Field(None, description="per datagram: probability bad -> good")
    mean_good: Duration | None = Field(None, ge=0.001, description="in time: mean time in the good state (at "
                                       "least 1ms)")
    mean_bad: Duration | None = Field(None, ge=0.001, description="in time: mean time in the bad state (a burst; "
                                      "at least 1ms)")
    loss_good: Probability = 0.0
    loss_bad: Probability = 1.0

    @model_validator(mode="after")
    def _one_form(self) -> GilbertElliott:
        per_packet = self.p is not None or self.r is not None
        timed = self.mean_good is not None or self.mean_bad is not None
        if per_packet == timed:
            raise ValueError("give either p and r (per datagram) or mean_good and mean_bad (in time)")
        if per_packet and (self.p is None or self.r is None):
            raise ValueError("per-datagram form needs both p and r")
        if timed and (self.mean_good is None or self.mean_bad is None):
            raise ValueError("time form needs both mean_good and mean_bad")
        return self


def _loss(value: Any) -> float | GilbertElliott:
    if isinstance(value, GilbertElliott):
        return value
    if isinstance(value, dict):
        try:
            return GilbertElliott.model_validate(value)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise ValueError(f"gilbert-elliott model: {where + ': ' if where else ''}{msg}") from None
    p = _probability(value)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        raise ValueError(f"expected a probability between 0 and 1 (0.05 or 5%) or a gilbert-elliott model, "
                         f"got {shown(value)}")
    return float(p)


Loss = Annotated[float | GilbertElliott, BeforeValidator(_loss),
                 WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1},
                                           {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                                           {"type": "object", "properties": {
                                               "model": {"const": "gilbert-elliott"}, "p": {"type": "number"},
                                               "r": {"type": "number"}, "mean_good": _DUR_SCHEMA,
                                               "mean_bad": _DUR_SCHEMA, "loss_good": {"type": "number"},
                                               "loss_bad": {"type": "number"}},
                                            "required": ["model"], "additionalProperties": False}]})]


class LinkConfig(Strict):
    delay: Duration = Field(0.005, description="one-way propagation delay")
    jitter: Duration = Field(0.0, description="uniform extra delay in [0, jitter]")
    loss: Loss = Field(0.0, description="probability that a datagram is lost (Bernoulli), "
                       "or a gilbert-elliott model for bursts")
    down: list[Window] = Field(default_factory=list, description="windows in which the link drops everything")
    nat: NatConfig | None = Field(None, description="a NAT in front of one peer: {peer, public_address, "
                                  "mapping_timeout, esp_passthrough} (config/nat.py)")
    mtu: int = Field(1500, ge=68, le=65535, description="path MTU between the gateways in octets (default 1500, "
                     "the Ethernet II payload, RFC 894); an ESP packet above it is dropped with DF set, else "
                     "fragmented")
