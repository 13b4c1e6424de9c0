"""Benchmarks: each script measures one cost against a baseline timed in the same run.

Run them with `make bench` (all, then `BENCHMARKS.md`) or one at a time with
`python -m bench.NAME [--quick]`; each writes `bench/results/NAME.json`.
"""
