"""Output of a run: JSONL events, the summary, the human timeline (and packets, later).

This is the only package that may import scapy.
"""
