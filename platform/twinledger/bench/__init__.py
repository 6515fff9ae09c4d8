"""``twinledger bench``: throughput, latency percentiles and memory, measured in one run.

Each scenario runs in its own process (so peak memory is its own and no state leaks between
scenarios) in a fresh temporary data directory, streams its progress, and returns named
metrics. Baselines of the same machine run in the same invocation, so results can be read as
a ratio of the ceiling. Nothing here is a test: timings are reported, never asserted.
"""
