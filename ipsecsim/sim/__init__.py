"""Drivers that move simulated time: SimPy processes for peers, the link and faults."""
