"""The sans-IO protocol core: pure state machines driven with explicit time.

No simpy, no scapy, no wall clock, no global random: entry points take ``now``; the core
reports its next deadline and the messages it wants sent (see ``endpoint.Endpoint``).
"""
