"""The final state of each tunnel seen from both ends: up, down, or unilateral.

A tunnel is *unilateral* (the Huawei Cloud FAQ's "单边隧道") when one end believes it up and
the other does not: the first holds a CHILD / IPsec SA it sends on, and the second has no
inbound SA with that SPI, so everything sent on it is dropped at the far end (RFC 4301 5.2:
an ESP packet whose SPI matches no SA is discarded). It does not matter how it came about -
DPD on one side only, DPD lost on one side, a side that crashed and came back as a
responder, a rekey or a Delete the other side never saw: the verdict reads only the SAs the
two ends hold at the end of the run.

Per peer (``summary.peers.NAME.tunnel``):

* ``partner`` - the other end;
* ``state`` - ``up`` (each end sends on SAs the other can receive), ``down`` (neither end
  sends on any SA), ``unilateral`` (an end sends on SAs the other end does not have);
* ``believes_up`` - this end holds an installed CHILD SA to send on;
* ``black_hole`` - the outbound SPIs of this end that the partner has no inbound SA for
  (traffic this end sends is dropped there), empty otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import Result


def tunnel_states(result: Result) -> dict[str, dict[str, Any]]:
    """``peers.NAME.tunnel`` for every peer with a partner (module docstring)."""
    part = result.scenario.spec.partner
    out: dict[str, dict[str, Any]] = {}
    for name, other in part.items():
        ep, peer = result.peers.get(name), result.peers.get(other)
        if ep is None or peer is None:
            continue
        mine, theirs = ep.esp_outbound, peer.esp_outbound
        hole = [s for s in mine if s not in peer.esp_inbound]
        their_hole = [s for s in theirs if s not in ep.esp_inbound]
        if not mine and not theirs:
            state = "down"
        elif hole or their_hole or not mine or not theirs:
            state = "unilateral"
        else:
            state = "up"
        out[name] = {"partner": other, "state": state, "believes_up": bool(mine), "black_hole": hole}
    return out


def describe(name: str, tunnel: dict[str, Any]) -> str | None:
    """One line for the final state when the tunnel is unilateral, else None."""
    if tunnel["state"] != "unilateral":
        return None
    other = tunnel["partner"]
    if tunnel["black_hole"]:
        spis = ", ".join(f"{s}_o" for s in tunnel["black_hole"])
        return (f"unilateral tunnel: {name} believes it up and sends on {spis}, which {other} has no inbound SA "
                f"for: {other} drops that traffic")
    if not tunnel["believes_up"]:
        return f"unilateral tunnel: {other} believes it up, {name} has no SA to send on"
    return f"unilateral tunnel: {other} sends on SAs {name} does not have"
