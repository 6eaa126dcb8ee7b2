"""Run every benchmark in turn (`make bench`). Each prints its own side-by-side figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "bench_startup.py",
    "bench_first_answer.py",
    "bench_loop_overhead.py",
    "bench_ttft.py",
    "bench_textcalls.py",
    "bench_context.py",
    "bench_retrieval_quality.py",
    "bench_retrieval.py",
    "bench_chat.py",
    "bench_evals.py",
    "bench_mcp.py",
    "bench_tooluse.py",  # the dev set on the local model (--set test|chains for the others)
    "bench_grounded.py",
    "bench_sandbox.py",
    "bench_structured.py",
]


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
