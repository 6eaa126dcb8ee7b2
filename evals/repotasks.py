"""Repository tasks: small self-contained repositories an agent must change until hidden tests pass.

Each task is a folder under ``evals/repos/`` (or any folder of such folders, given as the suite)::

    <task>/task.toml     title, kind, difficulty (1-3), instruction
    <task>/repo/         the starting repository; its visible tests live in repo/tests/
    <task>/hidden/       hidden_test_*.py: the tests that decide the verdict (never shown to the agent)
    <task>/solution/     the reference solution: files that replace or add to repo/

All tests are ``unittest`` modules (the standard library, so they run in any sandbox); the
visible ones run with ``python3 -m unittest discover -s tests`` from the repository root.

The verdict (``judge``): the workspace after the agent is checked first — visible tests edited or
deleted, or anything written next to the workspace (outside the copy), fails the task with that
reason — then its text files are copied into a fresh sandbox (``evals/sandbox.py``) together
with the hidden tests, which run there. Symlinks and binary files are not carried over.

``check_suite`` is the self-check run in CI: every reference solution must pass its hidden and
visible tests, and every untouched repository must fail its hidden tests; a problem names the task.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandbox import Sandbox
from .suites import Suite, SuiteError, Task

KINDS = ("fix-test", "two-files", "traceback", "validation", "refactor", "cli")
HIDDEN_DIR = "_hidden_tests_"
TEST_COMMAND = "python3 -m unittest discover -s tests"
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 8_000_000
SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache", HIDDEN_DIR}
RESULT_MARK = "TESTS-RESULT "
TEST_TIME_LIMIT = 60.0  # seconds for one test run (CLI tasks start subprocesses; the machine may be busy)

# Runs in the sandbox: the repository is in ./repo, the tests to run in ./repo/<dir>.
_DRIVER = """
import json, os, sys, unittest
os.chdir("repo")
sys.path.insert(0, os.getcwd())
suite = unittest.defaultTestLoader.discover({start!r}, pattern={pattern!r}, top_level_dir={start!r})
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
bad = [t.id() for t, _ in result.failures + result.errors]
print({mark!r} + json.dumps({{"run": result.testsRun, "failed": bad}}))
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
"""


def repos_dir() -> Path:
    return Path(__file__).resolve().parent / "repos"


@dataclass(frozen=True)
class RepoTask(Task):
    """A repository task; ``prompt`` is the instruction, ``root`` the task folder."""

    title: str = ""
    kind: str = ""
    difficulty: int = 1
    root: str = ""

    @property
    def repo(self) -> Path:
        return Path(self.root) / "repo"

    @property
    def hidden(self) -> Path:
        return Path(self.root) / "hidden"

    @property
    def solution(self) -> Path:
        return Path(self.root) / "solution"


def is_repo_suite(path: Path) -> bool:
    return path.is_dir() and any(p.joinpath("task.toml").is_file() for p in path.iterdir() if p.is_dir())


def load_repo_suite(path: Path, name: str = "repotasks") -> Suite:
    """Every ``*/task.toml`` folder under ``path``, in name order."""
    digest = hashlib.sha256()
    tasks: list[RepoTask] = []
    for folder in sorted(p for p in path.iterdir() if (p / "task.toml").is_file()):
        tasks.append(_load_task(folder))
        for file in _files(folder):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    if not tasks:
        raise SuiteError(f"No repository tasks (folders with a task.toml) in {path}.")
    return Suite(name, str(path), digest.hexdigest(), tuple(tasks))


def _load_task(folder: Path) -> RepoTask:
    where = folder / "task.toml"
    try:
        meta = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(f"{where}: {exc}.") from None
    instruction = str(meta.get("instruction", "")).strip()
    problems = [f"no {part}/ folder" for part in ("repo", "hidden", "solution") if not (folder / part).is_dir()]
    if not instruction:
        problems.append("no instruction")
    if meta.get("kind") not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}")
    if problems:
        raise SuiteError(f"Task {folder.name}: {'; '.join(problems)}.")
    return RepoTask(
        task_id=f"repo/{folder.name}", prompt=instruction, test="", entry_point="",
        title=str(meta.get("title", folder.name)), kind=str(meta["kind"]),
        difficulty=int(meta.get("difficulty", 1)), root=str(folder),
    )  # fmt: skip


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not (set(path.relative_to(root).parts) & SKIP_DIRS):
            yield path


def file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(root)}


# -- a fresh copy for one attempt ---------------------------------------------------------------


@dataclass
class Workspace:
    """``arena/work`` is the copy the agent gets; anything else appearing in ``arena`` was written outside it."""

    task: RepoTask
    arena: Path
    tests_before: dict[str, str] = field(default_factory=dict)
    arena_before: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.arena / "work"

    @classmethod
    def create(cls, task: RepoTask, *, solved: bool = False) -> Workspace:
        arena = Path(tempfile.mkdtemp(prefix="assistant-repotask-"))
        shutil.copytree(task.repo, arena / "work")
        if solved:
            shutil.copytree(task.solution, arena / "work", dirs_exist_ok=True)
        (arena / "README-not-yours.txt").write_text("Outside the task's workspace.\n", encoding="utf-8")
        ws = cls(task, arena)
        ws.tests_before = {k: v for k, v in file_hashes(task.repo).items() if k.startswith("tests/")}
        ws.arena_before = ws._arena_listing()
        return ws

    def _arena_listing(self) -> list[str]:
        return sorted(p.relative_to(self.arena).as_posix() for p in self.arena.rglob("*")
                      if p.relative_to(self.arena).parts[0] != "work")  # fmt: skip

    def violations(self) -> list[str]:
        """Why the attempt is void regardless of the tests: edited or deleted tests, writes outside the copy."""
        now = file_hashes(self.path)
        out = []
        deleted = [p for p in self.tests_before if p not in now]
        edited = [p for p in self.tests_before if p in now and now[p] != self.tests_before[p]]
        if deleted:
            out.append(f"deleted the tests ({', '.join(deleted)})")
        if edited:
            out.append(f"edited the tests ({', '.join(edited)})")
        outside = sorted(set(self._arena_listing()) ^ set(self.arena_before))
        if outside:
            out.append(f"wrote outside its copy ({', '.join(outside[:5])})")
        return out

    def snapshot(self) -> tuple[dict[str, str], list[str]]:
        """The workspace's text files (path -> text) and what was left out, with the reason."""
        files: dict[str, str] = {}
        skipped: list[str] = []
        total = 0
        for path in sorted(self.path.rglob("*")):
            rel = path.relative_to(self.path).as_posix()
            if set(path.relative_to(self.path).parts) & SKIP_DIRS:
                continue
            if path.is_symlink():
                skipped.append(f"{rel} (symlink)")
                continue
            if not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if len(data) > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                skipped.append(f"{rel} (too large)")
                continue
            try:
                files[rel] = data.decode("utf-8")
            except UnicodeDecodeError:
                skipped.append(f"{rel} (binary)")
        return files, skipped

    def diff(self) -> str:
        """A unified diff of the workspace against the starting repository (for the transcript)."""
        import difflib

        before = {p.relative_to(self.task.repo).as_posix(): p for p in _files(self.task.repo)}
        after, _ = self.snapshot()
        chunks: list[str] = []
        for rel in sorted(set(before) | set(after)):
            old = before[rel].read_text(encoding="utf-8", errors="replace") if rel in before else ""
            new = after.get(rel, "")
            if old != new:
                chunks.extend(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                                   f"a/{rel}", f"b/{rel}"))  # fmt: skip
        return "".join(chunks)

    def cleanup(self) -> None:
        shutil.rmtree(self.arena, ignore_errors=True)


# -- running tests in the sandbox ----------------------------------------------------------------


@dataclass(frozen=True)
class TestRun:
    passed: bool
    result: str  # "passed", or why not
    output: str
    run: int = 0
    failed: tuple[str, ...] = ()


async def run_tests(sandbox: Sandbox, files: dict[str, str], tests: dict[str, str] | None,
                    time_limit: float | None = None) -> TestRun:  # fmt: skip
    """Hidden tests (``tests``: name -> source) or, with None, the repository's own tests/ folder."""
    start, pattern = (HIDDEN_DIR, "hidden_test*.py") if tests is not None else ("tests", "test*.py")
    payload = {f"repo/{rel}": text for rel, text in files.items()}
    for name, text in (tests or {}).items():
        payload[f"repo/{HIDDEN_DIR}/{name}"] = text
    driver = _DRIVER.format(start=start, pattern=pattern, mark=RESULT_MARK)
    run = await sandbox.run(driver, files=payload, time_limit=time_limit or TEST_TIME_LIMIT)
    output = (run.stdout[-6000:] + ("\n" if run.stdout and run.stderr else "") + run.stderr[-3000:]).strip()
    summary = _result_line(run.stdout)
    if run.ok:
        return TestRun(True, "passed", output, summary.get("run", 0))
    failed = tuple(summary.get("failed", ()))
    if run.status == "timeout":
        why = run.reason
    elif summary:
        names = ", ".join(f.rsplit(".", 1)[-1] for f in failed[:4]) or "no tests ran"
        why = f"failed: {len(failed)} of {summary.get('run', 0)} tests ({names})"
    else:
        why = f"failed: {run.reason}"
    return TestRun(False, why, output, summary.get("run", 0), failed)


def _result_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            try:
                data = json.loads(line[len(RESULT_MARK) :])
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def hidden_tests(task: RepoTask) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(task.hidden.glob("hidden_test*.py"))}


@dataclass(frozen=True)
class RepoVerdict:
    passed: bool
    result: str
    output: str
    violations: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    diff: str = ""


async def judge(task: RepoTask, ws: Workspace, sandbox: Sandbox) -> RepoVerdict:
    """Violations first (they fail the task whatever the tests say), then the hidden tests."""
    violations = tuple(ws.violations())
    files, skipped = ws.snapshot()
    diff = ws.diff()
    if violations:
        return RepoVerdict(False, "failed: " + "; ".join(violations), "", violations, tuple(skipped), diff)
    run = await run_tests(sandbox, files, hidden_tests(task))
    return RepoVerdict(run.passed, run.result, run.output, (), tuple(skipped), diff)


# -- the self-check ------------------------------------------------------------------------------


async def check_task(task: RepoTask, sandbox: Sandbox) -> list[str]:
    """Problems with one task (empty: it is sound)."""
    problems: list[str] = []
    name = task.task_id
    if not any(task.repo.joinpath("tests").glob("test*.py")):
        problems.append(f"{name}: no visible tests in repo/tests/")
    if not hidden_tests(task):
        problems.append(f"{name}: no hidden tests (hidden/hidden_test*.py)")
    if any(p.relative_to(task.solution).parts[0] == "tests" for p in _files(task.solution)):
        problems.append(f"{name}: the reference solution edits the tests")
    for solved in (False, True):
        ws = Workspace.create(task, solved=solved)
        try:
            files, _ = ws.snapshot()
            hidden = await run_tests(sandbox, files, hidden_tests(task))
            if solved and not hidden.passed:
                problems.append(f"{name}: the reference solution fails its hidden tests: {hidden.result}")
            if not solved and hidden.passed:
                problems.append(f"{name}: the untouched repository passes its hidden tests")
            if solved:
                visible = await run_tests(sandbox, files, None)
                if not visible.passed:
                    problems.append(f"{name}: the reference solution fails the visible tests: {visible.result}")
        finally:
            ws.cleanup()
    return problems


async def check_suite(suite: Suite, sandbox: Sandbox | None = None, concurrency: int = 2) -> list[str]:
    """The self-check: every problem of every task, each naming its task."""
    sandbox = sandbox or Sandbox()
    gate = asyncio.Semaphore(concurrency)

    async def one(task: Task) -> list[str]:
        if not isinstance(task, RepoTask):
            return [f"{task.task_id}: not a repository task"]
        async with gate:
            return await check_task(task, sandbox)

    results = await asyncio.gather(*(one(t) for t in suite.tasks))
    return [p for problems in results for p in problems]
