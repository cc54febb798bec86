"""IKEv2 (RFC 7296): messages, wire format, IKE SA, task manager, tasks, responder, engine."""
