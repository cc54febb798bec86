"""The ``cpu:`` key of a peer: processing time (proto/cpu.py, docs/cpu.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .units import Duration


class CpuConfig(BaseModel):
    """Processing time (proto/cpu.py): what the gateway spends computing before it acts on an IKE
    message. Costs are per operation on one worker; unset ones come from ``costs``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    costs: Literal["strongswan-5.9.8", "strongswan-5.9.8-lab1", "strongswan-5.9.8-lab2", "libreswan-4.10"] = Field(
        "strongswan-5.9.8", description="the measured cost table to start from: strongswan-5.9.8-lab1 / -lab2 (fitted "
        "to the real strongSwan 5.9.8 captures of two machines, scenarios/captures/strongswan-5.9.8), "
        "strongswan-5.9.8 (the one of the two that holds for more captures, docs/cpu.md), libreswan-4.10 (measured "
        "on real pluto runs, scenarios/captures/libreswan-4.10)")
    workers: int | None = Field(None, ge=1, le=4096, description="computations of different tunnels of this "
                                "gateway (peers at its address) that run at once; strongSwan: charon.threads, "
                                "default 16; one tunnel computes one at a time")
    scale: float = Field(1.0, gt=0, le=10000, description="multiply every cost (a slower gateway: 20)")
    jitter: float = Field(0.0, ge=0, le=100, description="percent by which each cost varies at random")
    message: Duration | None = Field(None, ge=0, le=10, description="parse, decrypt, build and encrypt one message")
    keygen: Duration | None = Field(None, ge=0, le=10, description="a MODP-2048 key generation (other groups "
                                    "scaled)")
    secret: Duration | None = Field(None, ge=0, le=10, description="a MODP-2048 shared secret (other groups "
                                    "scaled)")
    prf: Duration | None = Field(None, ge=0, le=10, description="one key derivation (SKEYSEED, SKEYID, KEYMAT)")
    auth: Duration | None = Field(None, ge=0, le=10, description="compute or verify one AUTH / HASH")
    install: Duration | None = Field(None, ge=0, le=10, description="install a CHILD SA in the data plane")
    policy: Duration | None = Field(None, ge=0, le=10, description="install the policies of new traffic selectors")
