"""Benchmarks (not tests): `python -m bench.run`, `python -m bench.metrics`, `python -m bench.prefect_overhead`."""
