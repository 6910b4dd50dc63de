"""Benchmarks of the suite: each figure is a ratio against a baseline run
on the same machine in the same process run, then the absolute figures.

Run through `make bench` (tools/bench.sh), which installs a throwaway
database first, or directly: `python3 -m tests.bench --db <installed db>`.
"""
