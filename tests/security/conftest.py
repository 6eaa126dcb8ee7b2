"""Shared pieces of the attack suite: a hostile workspace, the CLI as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ASSISTANT = Path(sys.executable).parent / "assistant"  # the console script, as a user starts it


def run_cli(*args: str, cwd: Path, stdin: bytes | None = None, timeout: float = 90,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    return subprocess.run([str(ASSISTANT), *args], capture_output=True, timeout=timeout, cwd=cwd, env=env,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("alpha\n")
    return root
