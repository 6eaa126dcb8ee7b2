"""The repository task suite: the self-check (run in CI), and the verdict's refusals.

The self-check runs every reference solution and every untouched repository against the hidden
tests in the real evals sandbox; a broken task is reported with its name.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from assistant.evals.repotasks import KINDS, RepoTask, Workspace, check_suite, judge, load_repo_suite, repos_dir
from assistant.evals.sandbox import Sandbox
from assistant.evals.suites import SuiteError, load_suite


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


async def test_every_task_is_sound(sandbox: Sandbox) -> None:
    suite = load_suite("repotasks")
    assert len(suite.tasks) >= 20
    kinds = Counter(t.kind for t in suite.tasks if isinstance(t, RepoTask))
    assert set(kinds) == set(KINDS), kinds  # every kind of task the suite promises
    assert {t.difficulty for t in suite.tasks if isinstance(t, RepoTask)} == {1, 2, 3}
    problems = await check_suite(suite, sandbox, concurrency=3)
    assert problems == [], "\n".join(problems)


def _copy_tasks(tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copytree(repos_dir() / name, tmp_path / name)
    return tmp_path


async def test_self_check_names_a_task_whose_solution_fails(tmp_path: Path, sandbox: Sandbox) -> None:
    root = _copy_tasks(tmp_path, "r01_median", "r03_fizzbuzz")
    # The "solution" of r01 is the untouched file: it fails the hidden tests.
    shutil.copy(root / "r01_median/repo/stats.py", root / "r01_median/solution/stats.py")
    problems = await check_suite(load_repo_suite(root), sandbox)
    assert problems == [
        "repo/r01_median: the reference solution fails its hidden tests: failed: 1 of 4 tests (test_even)",
        "repo/r01_median: the reference solution fails the visible tests: failed: 1 of 3 tests (test_median_even)",
    ]


async def test_self_check_names_a_task_whose_untouched_repo_passes(tmp_path: Path, sandbox: Sandbox) -> None:
    root = _copy_tasks(tmp_path, "r10_average_empty")
    # Hidden tests that the buggy repository already passes check nothing.
    (root / "r10_average_empty/hidden/hidden_test_grades.py").write_text(
        "import unittest\nfrom grades import average\n\n\nclass T(unittest.TestCase):\n"
        "    def test_values(self):\n        self.assertEqual(average([1, 3]), 2)\n"
    )
    problems = await check_suite(load_repo_suite(root), sandbox)
    assert problems == ["repo/r10_average_empty: the untouched repository passes its hidden tests"]


def test_a_malformed_task_is_refused_with_its_name(tmp_path: Path) -> None:
    root = _copy_tasks(tmp_path, "r02_word_count")
    (root / "r02_word_count/task.toml").write_text('title = "x"\nkind = "poetry"\n')
    with pytest.raises(SuiteError, match="r02_word_count: no instruction; kind must be one of"):
        load_repo_suite(root)


def _task(name: str) -> RepoTask:
    task = next(t for t in load_suite("repotasks").tasks if t.task_id == f"repo/{name}")
    assert isinstance(task, RepoTask)
    return task


async def test_the_solved_workspace_passes_and_the_verdict_carries_the_diff(sandbox: Sandbox) -> None:
    task = _task("r01_median")
    ws = Workspace.create(task, solved=True)
    try:
        verdict = await judge(task, ws, sandbox)
    finally:
        ws.cleanup()
    assert verdict.passed, verdict.output
    assert verdict.result == "passed"
    assert "+    if len(ordered) % 2 == 0:" in verdict.diff


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda ws: (ws.path / "tests/test_stats.py").unlink(), "deleted the tests (tests/test_stats.py)"),
        (lambda ws: (ws.path / "tests/test_stats.py").write_text("import unittest\n"),
         "edited the tests (tests/test_stats.py)"),
        (lambda ws: (ws.arena / "escaped.py").write_text("x = 1\n"), "wrote outside its copy (escaped.py)"),
    ],
)  # fmt: skip
async def test_tampering_fails_the_task_even_with_a_correct_fix(damage, reason: str, sandbox: Sandbox) -> None:
    task = _task("r01_median")
    ws = Workspace.create(task, solved=True)  # the fix is right: only the tampering can fail it
    try:
        damage(ws)
        verdict = await judge(task, ws, sandbox)
    finally:
        ws.cleanup()
    assert not verdict.passed
    assert verdict.result == f"failed: {reason}"


async def test_symlinks_and_binary_files_are_not_carried_into_the_test_run(sandbox: Sandbox) -> None:
    task = _task("r01_median")
    ws = Workspace.create(task, solved=True)
    try:
        (ws.path / "link.py").symlink_to("/etc/passwd")
        (ws.path / "blob.bin").write_bytes(b"\xff\xfe\x00")
        files, skipped = ws.snapshot()
        verdict = await judge(task, ws, sandbox)
    finally:
        ws.cleanup()
    assert "link.py" not in files and "blob.bin" not in files
    assert skipped == ["blob.bin (binary)", "link.py (symlink)"]
    assert verdict.passed
