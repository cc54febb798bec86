"""IKEv1 (RFC 2409) over ISAKMP (RFC 2408) with the IPsec DOI (RFC 2407): main mode,
aggressive mode, quick mode and informational exchanges with pre-shared keys."""
