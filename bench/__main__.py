"""Run every benchmark module (``bench_*.py``) in turn, or only those named on the command line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run the selected benchmarks; each prints its own figures."""
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    # A name picks its own case exactly ("desktop" is not "desktop_retention").
    unknown = [a for a in argv if f"bench_{a}" not in names]
    if unknown:
        cases = ", ".join(n.removeprefix("bench_") for n in names)
        print(f"no such benchmark: {', '.join(unknown)} (there are: {cases})", file=sys.stderr)
        return 2
    chosen = [n for n in names if not argv or n.removeprefix("bench_") in argv]
    for name in chosen:
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
