"""The first answer, as a user runs it: whole processes, side by side in one run, ratios printed.

    .venv/bin/python benchmarks/bench_first_answer.py [--runs 5] [--cold-runs 2] [--no-local]

1. `assistant ask` against a stub server that answers at once, tools on (the default) and off,
   against `llm` (PyPI, in its own venv: scripts/llm-bench-venv.sh) on the same stub: wall and
   CPU seconds, peak memory, and the time from the last byte of the answer to the process exit.
   Targets: overhead ≤ llm's; tools on ≤ 1.2× tools off; peak memory ≤ 1.5× llm's; exit ≤ 0.3 s.
2. Cold `assistant ask "hi"` in an empty folder with no server running (its own llama-server,
   the prefix restored from disk after one priming run) against starting llama-server by hand
   plus the same question by curl. Target ≤ 1.5×.
3. Warm second `ask` on a served model (`assistant serve --background`): prompt tokens evaluated
   (not from the cache) ≤ the new text's tokens + 32.

Every process gets a private data folder (the model file is linked in, not copied).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _util import ROOT, median

ASSISTANT = str(Path(sys.executable).parent / "assistant")
LLM_VENV = ROOT / "benchmarks" / ".llm-venv"
LLM = str(LLM_VENV / "bin" / "llm")
QUESTION = "hi"


@dataclass
class Run:
    wall: float
    cpu: float
    max_rss_mb: float
    exit_after_output: float
    output: bytes


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Wall, CPU (user+sys) and peak RSS of one process; time from its last stdout byte to its exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    fd, out, last = proc.stdout.fileno(), bytearray(), started
    while True:
        select.select([fd], [], [])
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
        last = time.perf_counter()
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}… exited with {proc.returncode}: {out[-300:]!r}")
    return Run(ended - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, ended - last, bytes(out))


def _table(results: dict[str, list[Run]]) -> None:
    print(f"{'client':34} {'wall':>8} {'cpu':>8} {'peak MiB':>9} {'exit after answer':>18}")
    for name, runs in results.items():
        wall, cpu = median([r.wall for r in runs]), median([r.cpu for r in runs])
        peak, exit_after = max(r.max_rss_mb for r in runs), median([r.exit_after_output for r in runs])
        print(f"{name:34} {wall:7.2f}s {cpu:7.2f}s {peak:9.0f} {exit_after:17.3f}s")


def _verdict(label: str, value: float, limit: float) -> None:
    print(f"  {label}: {value:.2f} (target ≤ {limit:g}): {'OK' if value <= limit else 'MISSED'}")


def _start_stub() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "stub_server.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    port = int(proc.stdout.readline().split()[1])
    return proc, port


def bench_stub(runs: int, work: Path) -> None:
    print("\n## ask against a stub server that answers at once (median of", runs, "runs, interleaved)")
    stub, port = _start_stub()
    try:
        base = f"http://127.0.0.1:{port}/v1"
        data, empty, llm_home = work / "stub-data", work / "empty", work / "llm-home"
        for d in (data, empty, llm_home):
            d.mkdir(parents=True, exist_ok=True)
        (llm_home / "extra-openai-models.yaml").write_text(
            f'- model_id: stub\n  model_name: stub-model\n  api_base: "{base}"\n'
        )
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(work / "config"),
               "LLM_USER_PATH": str(llm_home)}  # fmt: skip
        cases = {
            "assistant ask (tools on)": [ASSISTANT, "ask", "--base-url", base, "-m", "stub-model", QUESTION],
            "assistant ask --no-tools": [ASSISTANT, "ask", "--no-tools", "--base-url", base, "-m", "stub-model",
                                         QUESTION],
        }
        if Path(LLM).exists():
            cases["llm (same stub)"] = [LLM, "-m", "stub", QUESTION]
        else:
            print(f"  (llm is not installed in {LLM_VENV}: run scripts/llm-bench-venv.sh)")
        for cmd in cases.values():
            run(cmd, env, empty)  # warm the file cache; the first `ask` also learns the tool lists
        results: dict[str, list[Run]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, cmd in cases.items():
                results[name].append(run(cmd, env, empty))
        _table(results)
        on, off = median([r.wall for r in results["assistant ask (tools on)"]]), median(
            [r.wall for r in results["assistant ask --no-tools"]]
        )
        _verdict("tools on / tools off (wall)", on / off, 1.2)
        if "llm (same stub)" in results:
            llm = results["llm (same stub)"]
            _verdict("ask (tools on) / llm (wall)", on / median([r.wall for r in llm]), 1.0)
            _verdict("ask --no-tools / llm (wall)", off / median([r.wall for r in llm]), 1.0)
            rss = max(r.max_rss_mb for r in results["assistant ask (tools on)"])
            _verdict("peak memory, ask (tools on) / llm", rss / max(r.max_rss_mb for r in llm), 1.5)
        _verdict("seconds from the answer to exit, ask (tools on)",
                 median([r.exit_after_output for r in results["assistant ask (tools on)"]]), 0.3)  # fmt: skip
    finally:
        stub.terminate()
        stub.wait()


def _local_env(work: Path, name: str) -> dict[str, str]:
    """A private data folder with the model file linked in (verified once, by `assistant models`)."""
    from assistant.local.models import DEFAULT_MODEL, ensure_model_file

    data = work / name
    (data / "models").mkdir(parents=True, exist_ok=True)
    model = ensure_model_file(DEFAULT_MODEL)
    for f in model.parent.glob(model.name + "*"):
        target = data / "models" / f.name
        if not target.exists():
            os.symlink(f, target) if f.suffix == ".gguf" else shutil.copy(f, target)
    config = work / f"{name}-config" / "assistant"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("[defaults]\ntemperature = 0.0\nmax_tokens = 24\n")
    return {**os.environ, "ASSISTANT_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(config.parent)}


def _by_hand(env: dict[str, str]) -> float:
    """llama-server started by hand (the same binary and model, with a key as ours has) plus one curl request."""
    from assistant.local.keys import new_key, remove_key_file, write_key_file
    from assistant.local.models import DEFAULT_MODEL, ensure_model_file
    from assistant.local.server import free_port, llama_server_binary

    started = time.perf_counter()
    port = free_port()
    key = new_key()
    key_file, header_file = write_key_file(key), write_key_file(f"Authorization: Bearer {key}")
    cmd = [str(llama_server_binary()), "-m", str(ensure_model_file(DEFAULT_MODEL)), "--host", "127.0.0.1",
           "--port", str(port), "--jinja", "-c", "32768", "--alias", DEFAULT_MODEL,
           "--api-key-file", str(key_file)]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/health"], capture_output=True).returncode:
            time.sleep(0.1)
        body = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": QUESTION}], "temperature": 0,
                "max_tokens": 24}  # fmt: skip
        subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/v1/chat/completions", "-H", f"@{header_file}",
                        "-H", "content-type: application/json", "-d", json.dumps(body)], check=True,
                       capture_output=True)  # fmt: skip
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
        remove_key_file(key_file)
        remove_key_file(header_file)


def _first_timing(output: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    events = [json.loads(line) for line in output.decode().splitlines() if line.strip()]
    context = next(e for e in events if e.get("kind") == "context")
    timing = next(e for e in events if e.get("kind") == "timing")
    return context, timing


def bench_cold(runs: int, work: Path) -> None:
    print(f"\n## cold `assistant ask {QUESTION!r}` in an empty folder, no server running ({runs} runs each)")
    env = _local_env(work, "cold-data")
    empty = work / "cold-empty"
    empty.mkdir(exist_ok=True)
    prime = run([ASSISTANT, "ask", "--json", QUESTION], env, empty)  # saves the default tool set's prefix
    _, t = _first_timing(prime.output)
    print(f"  priming run: {prime.wall:.1f} s, prompt evaluated {t['prompt_tokens_evaluated']}, "
          f"cached {t['prompt_tokens_cached']}")
    ours: list[float] = []
    hand: list[float] = []
    for _ in range(runs):
        r = run([ASSISTANT, "ask", "--json", QUESTION], env, empty)
        _, t = _first_timing(r.output)
        print(f"  assistant ask: {r.wall:5.1f} s (first request: {t['prompt_tokens_evaluated']} evaluated, "
              f"{t['prompt_tokens_cached']} from the restored prefix)")
        ours.append(r.wall)
        hand.append(_by_hand(env))
        print(f"  llama-server by hand + curl: {hand[-1]:5.1f} s")
    _verdict("cold ask / (llama-server by hand + curl)", median(ours) / median(hand), 1.5)


def bench_warm(work: Path) -> None:
    print("\n## warm second `ask` on a served model (`assistant serve --background`)")
    env = _local_env(work, "warm-data")
    empty = work / "warm-empty"
    empty.mkdir(exist_ok=True)
    subprocess.run([ASSISTANT, "serve", "--background", "--idle-timeout", "600"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    try:
        run([ASSISTANT, "ask", "--json", "What is a list in Python?"], env, empty)
        second = run([ASSISTANT, "ask", "--json", "Name a prime number."], env, empty)
        context, timing = _first_timing(second.output)
        new_text = context["report"]["sources"]["input"]["tokens"]
        evaluated = timing["prompt_tokens_evaluated"]
        print(f"  second ask, first request: {evaluated} prompt tokens evaluated, {timing['prompt_tokens_cached']} "
              f"from the cache; its new text: {new_text} tokens")
        _verdict("evaluated - (new text + 32)", evaluated - (new_text + 32), 0)
    finally:
        subprocess.run([ASSISTANT, "serve", "--stop"], env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=2)
    parser.add_argument("--no-local", action="store_true", help="only the stub comparison")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-first-answer-") as tmp:
        work = Path(tmp)
        bench_stub(args.runs, work)
        if not args.no_local:
            bench_cold(args.cold_runs, work)
            bench_warm(work)
    print(f"load average after: {os.getloadavg()[0]:.2f}; children's CPU: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime:.1f} s user")


if __name__ == "__main__":
    main()
