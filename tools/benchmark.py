"""Run a benchmark and print (and optionally save) its JSON report.

Usage::

    python tools/benchmark.py NAME [--out report.json] [NAME's options]
    python tools/benchmark.py --list

``NAME`` maps to the module ``perception.benchmarks.NAME`` (only that one is
imported); ``python tools/benchmark.py NAME --help`` lists its options.
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

import perception.benchmarks as benchmarks
from perception.utils.fileio import atomic_write_text


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = available()
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(__doc__)
        print("benchmarks:", ", ".join(names))
        return 0
    name = argv[0]
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"perception.benchmarks.{name}")
    parser = argparse.ArgumentParser(prog=f"benchmark.py {name}", description=module.__doc__)
    parser.add_argument("--out", help="also write the JSON report to this file")
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    report = module.run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
