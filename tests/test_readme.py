"""The README's Python example runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.scripted_server import ScriptedServer, text, tool_calls


def readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no python example"
    return blocks[0]


def run_example(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600,
        env={**os.environ, **env}, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_readme_example_against_scripted_endpoint(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(
        tool_calls(("add", {"a": 1234, "b": 4321})),
        text("1234 + 4321 = 5555."),
        tool_calls(("add", {"a": 5555, "b": -1000})),
        text("That is 4555."),
    )
    proc = run_example(tmp_path, {"OPENAI_BASE_URL": scripted.base_url, "ASSISTANT_MODEL": "m"})
    assert proc.returncode == 0, proc.stderr
    assert "1234 + 4321 = 5555." in proc.stdout
    # the real tool ran: its results went back to the model
    assert scripted.requests[1]["messages"][-1]["content"] == "5555"
    assert scripted.requests[3]["messages"][-1]["content"] == "4555"
    assert "TurnEnd(text='That is 4555.'" in proc.stdout


@pytest.mark.slow
def test_readme_example_on_the_local_model(tmp_path: Path) -> None:
    proc = run_example(tmp_path, {})
    assert proc.returncode == 0, proc.stderr
    assert "TurnEnd(" in proc.stdout
