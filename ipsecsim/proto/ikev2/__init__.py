"""IKEv2 (RFC 7296): messages, wire format, IKE SA, task manager, one task per exchange type, engine."""

from . import wire as _wire  # noqa: F401  (installs the codec behind Message.wire_bytes)
