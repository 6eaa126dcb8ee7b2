"""Shared machinery of the tool-use and grounded-answer benchmarks (no model here).

- ``LocalServe``: make sure a local llama-server for the chosen model is served the way `assistant
  serve --background` serves it, so every ``Assistant`` the benchmark opens reuses it exactly as
  `assistant ask` would; stop it afterwards if we started it.
- ``run_turn``: drain one turn of ``Assistant.stream`` into a ``TurnRecord`` (calls, results, steps,
  time to first token, total), with a time limit.
- The outcome checks of ``benchmarks/tooluse/*.jsonl`` (see benchmarks/tooluse/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- the local server


class LocalServe:
    """`assistant serve --background` for one local model, for the benchmark's lifetime.

    A server already served for that model (by the user) is reused and left running; one we start
    is stopped on exit. Its idle timeout is short, so a killed benchmark does not leave it for long.
    """

    def __init__(self, model: str, idle_timeout: float = 300.0) -> None:
        self.model = model
        self.idle_timeout = idle_timeout
        self.started = False

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "assistant", "serve", "--model", self.model, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)

    async def __aenter__(self) -> LocalServe:
        from assistant.local.server import find_running_server

        if await find_running_server(self.model) is not None:
            print(f"# reusing the served {self.model}", file=sys.stderr)
            return self
        done = self._cli("--background", "--idle-timeout", str(self.idle_timeout))
        if done.returncode != 0:
            raise SystemExit(f"could not serve {self.model}: {done.stderr.strip() or done.stdout.strip()}")
        self.started = True
        print(f"# served {self.model}: {done.stdout.strip()}", file=sys.stderr)
        for _ in range(30):  # healthy, and answering its health probe within its short timeout
            if await find_running_server(self.model) is not None:
                break
            await asyncio.sleep(2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.started:
            done = self._cli("--stop")
            print(f"# {done.stdout.strip()}", file=sys.stderr)


def warn_if_own_server(bot: Any) -> None:
    server = getattr(bot, "local_server", None)
    if server is not None and getattr(server, "owned", False):
        print(
            "# warning: the served model did not answer in time; this Assistant started its own llama-server",
            file=sys.stderr,
        )


def isolate_environment(scratch: Path) -> None:
    """No user config file (the benchmark measures the defaults); the venv's tools first on PATH
    (so `python`, `pytest` and `ruff` in a sandboxed command are the project's)."""
    os.environ["ASSISTANT_CONFIG"] = str(scratch / "no-config.toml")
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")


# ---------------------------------------------------------------- one turn


@dataclass
class Call:
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    source: str
    result: str = ""
    is_error: bool = False


@dataclass
class TurnRecord:
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    steps: int = 0
    finish: str = ""
    first_token_s: float | None = None  # first text or tool-call output of the model, our clock
    first_text_s: float | None = None  # first visible answer text
    total_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)  # retrieved passages
    decisions: list[dict[str, Any]] = field(default_factory=list)  # grammar profiles: what decided each step

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bare_name(name: str) -> str:
    """``files__read_file`` -> ``read_file`` (the hub prefixes names that collide)."""
    return name.split("__", 1)[1] if "__" in name else name


async def run_turn(bot: Any, text: str, limit: float) -> TurnRecord:
    """One turn through ``Assistant.stream``, drained into a record; errors are recorded, not raised."""
    from assistant.events import (
        Decision,
        Retrieved,
        StepStart,
        TextDelta,
        ToolCallDelta,
        ToolCallReady,
        ToolResult,
        TurnEnd,
        Usage,
    )

    rec = TurnRecord()
    start = time.perf_counter()

    async def drain() -> None:
        async for ev in bot.stream(text):
            now = time.perf_counter() - start
            if isinstance(ev, TextDelta | ToolCallDelta | ToolCallReady) and rec.first_token_s is None:
                rec.first_token_s = now
            if isinstance(ev, TextDelta) and ev.text.strip() and rec.first_text_s is None:
                rec.first_text_s = now
            if isinstance(ev, StepStart):
                rec.steps = ev.step
            elif isinstance(ev, Decision):
                rec.decisions.append({"choice": ev.choice, "p_call": ev.p_call, "why": ev.why})
            elif isinstance(ev, ToolCallReady):
                try:
                    args = ev.call.parsed_arguments()
                except ValueError:
                    args = {}
                rec.calls.append(Call(bare_name(ev.call.name), args, ev.call.arguments, ev.call.source))
            elif isinstance(ev, ToolResult):
                for call in reversed(rec.calls):
                    if call.name == bare_name(ev.call.name) and call.raw_arguments == ev.call.arguments:
                        call.result, call.is_error = ev.content[:1500], ev.is_error
                        break
            elif isinstance(ev, Usage):
                rec.prompt_tokens += ev.prompt_tokens
                rec.completion_tokens += ev.completion_tokens
            elif isinstance(ev, Retrieved):
                rec.sources = [
                    {"path": p.path, "start_line": p.start_line, "end_line": p.end_line} for p in ev.passages
                ]
            elif isinstance(ev, TurnEnd):
                rec.text, rec.finish = ev.text, ev.finish_reason

    try:
        await asyncio.wait_for(drain(), timeout=limit)
    except TimeoutError:
        rec.error = f"timeout after {limit:g} s"
    except Exception as exc:  # a failed turn is a data point, not the end of the run
        rec.error = f"{type(exc).__name__}: {exc}"[:500]
    rec.total_s = time.perf_counter() - start
    return rec


# ---------------------------------------------------------------- workspace


def reset_workspace(fixture: Path, ws: Path) -> None:
    """Make ``ws`` a fresh copy of ``fixture`` without replacing the folder itself (the tool
    servers keep it as their root)."""
    ws.mkdir(parents=True, exist_ok=True)
    for child in ws.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in fixture.iterdir():
        if child.name in {"__pycache__", ".pytest_cache"}:
            continue
        if child.is_dir():
            shutil.copytree(child, ws / child.name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        else:
            shutil.copy2(child, ws / child.name)


CACHE_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}  # tools' caches are no edit


def snapshot(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or CACHE_DIRS & set(path.relative_to(folder).parts):
            continue
        try:
            out[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            out[path.relative_to(folder).as_posix()] = "<binary>"
    return out


# ---------------------------------------------------------------- checks


def norm_path(value: Any, ws: Path) -> str:
    text = str(value).strip()
    for prefix in (str(ws), str(ws.resolve())):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.lstrip("/")
    while text.startswith("./"):
        text = text[2:]
    text = text.rstrip("/")
    return text or "."


def arg_matches(call: Call, key: str, pattern: str, ws: Path) -> bool:
    """Any of the alternative keys ``a|b`` matches; ``path`` is normalised and matched whole."""
    for name in key.split("|"):
        if name == "path":
            value = norm_path(call.arguments.get("path", "."), ws)
            if re.fullmatch(pattern, value, re.IGNORECASE):
                return True
        elif name in call.arguments and re.search(pattern, str(call.arguments[name]), re.IGNORECASE):
            return True
    return False


def call_met(spec: dict[str, Any], calls: list[Call], ws: Path) -> bool:
    tools = set(spec.get("tool", []))
    for call in calls:
        if tools and call.name not in tools:
            continue
        if all(arg_matches(call, k, p, ws) for k, p in spec.get("args", {}).items()):
            return True
    return False


def file_problems(path: str, spec: dict[str, Any], before: str, after: str | None) -> list[str]:
    if after is None:
        return [f"{path}: missing"]
    old, new = before.splitlines(), after.splitlines()
    added: list[str] = []
    removed: list[str] = []
    for line in difflib.ndiff(old, new):
        if line.startswith("+ "):
            added.append(line[2:])
        elif line.startswith("- "):
            removed.append(line[2:])
    problems: list[str] = []
    for rx in spec.get("added", []):
        if not any(re.search(rx, line, re.IGNORECASE) for line in added):
            problems.append(f"{path}: no added line matches {rx!r}")
    for rx in spec.get("removed", []):
        if not any(re.search(rx, line, re.IGNORECASE) for line in removed):
            problems.append(f"{path}: no removed line matches {rx!r}")
    if "max_added" in spec and len(added) > spec["max_added"]:
        problems.append(f"{path}: {len(added)} lines added (max {spec['max_added']})")
    if "max_removed" in spec and len(removed) > spec["max_removed"]:
        problems.append(f"{path}: {len(removed)} lines removed (max {spec['max_removed']})")
    for rx in spec.get("contains", []):
        if not re.search(rx, after, re.IGNORECASE):
            problems.append(f"{path}: lost {rx!r}")
    for rx in spec.get("absent", []):
        if re.search(rx, after):
            problems.append(f"{path}: still has {rx!r}")
    return problems


def run_tests(ws: Path, select: str | bool) -> tuple[bool, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    if isinstance(select, str):
        cmd += ["-k", select]
    try:
        done = subprocess.run(cmd, cwd=ws, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return False, "pytest timed out"
    tail = done.stdout.strip().splitlines()[-1:] or done.stderr.strip().splitlines()[-1:] or [""]
    return done.returncode == 0, tail[0]


def check_outcome(check: dict[str, Any], turn: TurnRecord, ws: Path, before: dict[str, str]) -> list[str]:
    """Every way the outcome differs from the label (empty: passed)."""
    problems: list[str] = []
    calls = turn.calls
    if turn.error:
        problems.append(f"turn failed: {turn.error}")
    if check.get("no_calls") and calls:
        problems.append("called " + ", ".join(c.name for c in calls))
    specs = ([check["call"]] if "call" in check else []) + list(check.get("calls", []))
    for spec in specs:
        if not call_met(spec, calls, ws):
            problems.append(f"no call {json.dumps(spec)}")
    if "min_calls" in check and len(calls) < check["min_calls"]:
        problems.append(f"{len(calls)} calls (needs {check['min_calls']})")
    after = snapshot(ws)
    files: dict[str, Any] = check.get("files", {})
    if files or check.get("unchanged"):
        for path, spec in files.items():
            problems += file_problems(path, spec, before.get(path, ""), after.get(path))
        changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p) and p not in files)
        if changed:
            problems.append("changed too: " + ", ".join(changed))
    if check.get("tests_pass") is not None:
        ok, tail = run_tests(ws, check["tests_pass"])
        if not ok:
            problems.append(f"tests fail: {tail}")
    return problems


def answer_problems(patterns: list[str], text: str) -> list[str]:
    return [f"answer lacks {rx!r}" for rx in patterns if not re.search(rx, text, re.IGNORECASE)]


# ---------------------------------------------------------------- figures


def rate(hits: int, n: int) -> str:
    return f"{hits}/{n} = {100 * hits / n:.1f}%" if n else "n/a"


def time_line(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"mean {statistics.mean(values):.1f} s, median {statistics.median(values):.1f} s, max {max(values):.1f} s"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@contextlib.contextmanager
def jsonl_writer(path: Path, append: bool = False) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    if append:  # drop an earlier summary line: the rows stay, the new summary covers them all
        rows = [r for r in load_jsonl(path) if "summary" not in r]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with path.open("a" if append else "w", encoding="utf-8") as fh:

        def write(obj: dict[str, Any]) -> None:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            fh.flush()

        yield write
