"""Local fake servers of the external platforms, speaking their documented protocols.

Tests and benchmarks point the ``POCKETPING_*_API_URL`` settings at them. Each fake runs
on an event loop of its own in a thread, so a test may block on it or await it freely.
"""
