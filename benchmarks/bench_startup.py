"""Start-up: `assistant --help` against bare `python -c pass`, interleaved in one run.

Target: `assistant --help` ≤ 0.3 s on this machine (heavy imports are lazy).
    .venv/bin/python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _util import ROOT, median, pct

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "assistant --help": [sys.executable, "-m", "assistant", "--help"],
    "import openai (for scale)": [sys.executable, "-c", "import openai"],
}


def time_once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results: dict[str, list[float]] = {name: [] for name in CASES}
    for cmd in CASES.values():
        time_once(cmd)  # warm the file cache
    for _ in range(args.runs):
        for name, cmd in CASES.items():
            results[name].append(time_once(cmd))
    base = median(results["python -c pass"])
    print(f"{'command':28} {'median':>9} {'p90':>9} {'minus bare python':>18} {'ratio':>7}")
    for name, vals in results.items():
        m = median(vals)
        print(f"{name:28} {m:8.3f}s {pct(vals, 90):8.3f}s {m - base:17.3f}s {m / base:6.2f}x")
    helps = median(results["assistant --help"])
    print(f"\nassistant --help median {helps:.3f} s (target ≤ 0.300 s): {'OK' if helps <= 0.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
