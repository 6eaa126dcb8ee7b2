"""What the one sandbox costs, side by side in one run.

1. Start-up per command: the same trivial command (`sh -c true`, and a Python `pass` as the evals
   run it) without a sandbox, under the previous policy's bubblewrap line (bwrap keeping root's
   capabilities, no user namespace, no seccomp, no cgroup), and under the current policy
   (`run_sandboxed`: user namespace without capabilities, seccomp, cgroup, hidden homes).
2. The evals' share: sandbox time per HumanEval problem against the model's time per problem.
3. The safe file opening in `files`: reading a file 3 folders deep with the previous
   resolve-then-open and with the current descriptor walk (O_NOFOLLOW per component).

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.evals.sandbox import Sandbox, eval_limits
from assistant.toolservers.sandbox import Limits, detect_isolation, interpreter, run_sandboxed
from assistant.toolservers.workspace import open_root, read_beneath, resolve_inside

MODEL_SECONDS_PER_PROBLEM = 22 * 60 / 164  # the 0.5B on this machine: 164 HumanEval problems in 22 minutes


def previous_bwrap_line(bwrap: str, ws: Path) -> list[str]:
    """The command line the run server used before this change (root keeps its capabilities)."""
    return [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--bind", str(ws), str(ws), "--chdir", str(ws), "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--die-with-parent", "--new-session", "--"]  # fmt: skip


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms (p90 {sorted(values)[int(len(values) * 0.9) - 1] * 1000:.1f})"


def startup(runs: int, ws: Path) -> None:
    iso = detect_isolation("auto")
    assert iso.kind == "bwrap" and iso.bwrap, f"no sandbox here: {iso.reason}"
    limits = Limits(time_s=30)
    cmd = ["/bin/sh", "-c", "true"]
    py = [interpreter(), "-I", "-c", "pass"]
    rows = {
        "no sandbox, sh -c true": lambda: subprocess.run(cmd, cwd=ws, check=True),
        "previous bwrap line, sh -c true": lambda: subprocess.run(previous_bwrap_line(iso.bwrap, ws) + cmd,
                                                                  cwd=ws, check=True),
        "current sandbox, sh -c true": lambda: asyncio.run(run_sandboxed(cmd, root=ws, cwd=ws, limits=limits,
                                                                         isolation=iso)),
        "no sandbox, python pass": lambda: subprocess.run(py, cwd=ws, check=True),
        "previous bwrap line, python pass": lambda: subprocess.run(previous_bwrap_line(iso.bwrap, ws) + py,
                                                                   cwd=ws, check=True),
        "current sandbox, python pass": lambda: asyncio.run(run_sandboxed(py, root=ws, cwd=ws, limits=limits,
                                                                          isolation=iso)),
    }
    results = {name: timed(fn, runs) for name, fn in rows.items()}
    base_sh, base_py = results["no sandbox, sh -c true"], results["no sandbox, python pass"]
    print(f"sandbox start-up per command ({runs} runs each, median):")
    for name, values in results.items():
        base = base_sh if "sh -c" in name else base_py
        print(f"  {name:36} {ms(values)}   x{statistics.median(values) / statistics.median(base):.1f} of no sandbox")
    box = Sandbox(eval_limits(10.0))
    evals = timed(lambda: asyncio.run(box.run("pass")), runs)
    share = statistics.median(evals) / MODEL_SECONDS_PER_PROBLEM
    print(f"  evals Sandbox.run('pass') (one HumanEval check): {ms(evals)}")
    print(f"  = {share:.2%} of the model's {MODEL_SECONDS_PER_PROBLEM:.1f} s per HumanEval problem (budget: 5%)")


def safe_open(runs: int, ws: Path) -> None:
    deep = ws / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "f.py").write_text("x = 1\n" * 200)
    root_fd = open_root(ws)
    n = runs * 200

    def before() -> None:
        for _ in range(n):
            resolve_inside(ws, "a/b/c/f.py").read_bytes()

    def after() -> None:
        for _ in range(n):
            read_beneath(root_fd, ws, resolve_inside(ws, "a/b/c/f.py"))

    old, new = statistics.median(timed(before, 5)) / n, statistics.median(timed(after, 5)) / n
    print(f"safe file opening, a file 3 folders deep ({n} reads x 5):")
    print(f"  resolve, then open by path (before): {old * 1e6:6.1f} us per read")
    print(f"  resolve, then descriptor walk with O_NOFOLLOW (now): {new * 1e6:6.1f} us per read "
          f"(x{new / old:.2f}, +{(new - old) * 1e6:.1f} us)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    ws = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        startup(args.runs, ws)
        safe_open(args.runs, ws)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
