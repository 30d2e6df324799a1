"""Benchmarks: each prints its figures; run them against the local stack (`python -m bench.<name>`)."""
