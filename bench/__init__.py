"""Benchmarks: they print figures and ratios and write them to bench/results.json.

Never timed assertions in tests: these machines are shared and noisy, so every figure here
is the best (or the percentile) of repeated runs, and targets are read, not asserted.
"""
