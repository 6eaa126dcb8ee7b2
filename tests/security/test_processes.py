"""Finding 14 (and process hygiene): nothing the assistant starts outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_local_server import CHILD, child_env, fake_binary, fake_ready_model, gone, wait_for

__all__ = ["fake_binary", "fake_ready_model"]  # fixtures, used by name


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_server_that_ignores_sigterm_dies_with_a_killed_parent(
    fake_binary: Path, fake_ready_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "ignore-term")  # like llama-server busy with a long request
    pid_file = tmp_path / "server.pid"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(pid_file)], env=child_env())
    try:
        assert wait_for(pid_file.exists, 30), "child never started its server"
        pid = int(pid_file.read_text())
        os.kill(child.pid, signal.SIGKILL if sig == signal.SIGKILL else sig)
        child.wait(30)
        assert wait_for(lambda: gone(pid), 5), f"llama-server {pid} outlived its killed parent"
    finally:
        child.kill()
        child.wait()
