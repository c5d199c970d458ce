"""Benchmarks run by ``tools/benchmark.py``.

Each module ``perception.benchmarks.<name>`` exposes::

    def add_arguments(parser: argparse.ArgumentParser) -> None
    def run(args: argparse.Namespace) -> dict   # JSON-serialisable report

Timings are always reported next to a baseline measured in the same run
(speed ratios), so numbers from different machines stay comparable.
"""
