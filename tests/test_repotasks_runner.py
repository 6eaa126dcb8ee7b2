"""Repository tasks through the eval runner, against the scripted server: the agent is the real
``Assistant`` with the real built-in files and run servers on a fresh copy of the repository."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from assistant.evals.launch import EvalRequest, run_eval
from assistant.evals.repoagent import answer_files, apply_answer

from assistant.config import load_settings
from tests.scripted_server import ScriptedServer, text, tool_calls

FIX = {
    "path": "grades.py",
    "old_text": "    return sum(scores) / len(scores)",
    "new_text": "    if not scores:\n        return 0.0\n    return sum(scores) / len(scores)",
}


def settings(server: ScriptedServer) -> Any:
    return load_settings({"base_url": server.base_url, "model": "scripted-model", "max_retries": 0})


def request(tmp_path: Path, **kw: Any) -> EvalRequest:
    kw.setdefault("concurrency", 1)
    kw.setdefault("retry_wait", 0.0)
    kw.setdefault("task_ids", ["repo/r10_average_empty"])
    return EvalRequest(suite="repotasks", mode=kw.pop("mode", "agent"), out=tmp_path / "run", **kw)


def records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "attempts.jsonl").read_text().splitlines() if line.strip()]


async def test_an_agent_that_fixes_the_bug_passes(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(
        tool_calls(("read_file", {"path": "grades.py"})),
        tool_calls(("edit_file", FIX)),
        tool_calls(("run_command", {"command": "python3 -m unittest discover -s tests"})),
        text("average([]) now returns 0.0."),
    )
    store, summary = await run_eval(request(tmp_path), settings(scripted))
    [rec] = records(store.path)
    assert rec["verdict"] == "passed", rec["result"]
    assert [c["name"] for c in rec["tool_calls"]] == ["read_file", "edit_file", "run_command"]
    assert "OK" in rec["tool_calls"][2]["result"]  # the visible tests ran in the run tool's sandbox
    assert rec["steps"] == 4 and rec["usage"]["prompt_tokens"] == 3 * 20 + 10  # summed over the 4 requests
    assert "+    if not scores:" in rec["diff"]
    assert rec["kind"] == "traceback" and rec["violations"] == []
    assert rec["agent_profile"]["tool_calls"] == "native"  # how this endpoint was asked for tools
    # The transcript: the instruction, each tool call and its result, the answer.
    roles = [m["role"] for m in rec["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant"]
    assert "ZeroDivisionError" in rec["messages"][0]["content"]
    # What the model was offered: the built-in files and run tools, nothing else.
    offered = {t["function"]["name"] for t in scripted.requests[0]["tools"]}
    assert {"read_file", "edit_file", "write_file", "run_command", "run_python"} <= offered
    assert summary["pass_rate"]["passed"] == 1 and summary["agent"]["tool_calls_mean"] == 3


async def test_an_agent_that_edits_the_tests_fails_with_the_reason(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(
        tool_calls(("edit_file", FIX)),
        tool_calls(("write_file", {"path": "tests/test_grades.py", "content": "import unittest\n"})),
        text("Done."),
    )
    store, _ = await run_eval(request(tmp_path), settings(scripted))
    [rec] = records(store.path)
    assert rec["verdict"] == "failed"
    assert rec["result"] == "failed: edited the tests (tests/test_grades.py)"


async def test_writes_outside_the_copy_are_refused_and_the_task_judged_as_is(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.script(
        tool_calls(("write_file", {"path": "../escaped.py", "content": "x = 1\n"})),
        tool_calls(("run_command", {"command": "echo hi > ../escaped.txt"})),
        text("Done."),
    )
    store, _ = await run_eval(request(tmp_path), settings(scripted))
    [rec] = records(store.path)
    assert rec["tool_calls"][0]["is_error"]  # the files server refuses a path that climbs out
    assert rec["verdict"] == "failed"
    # Nothing landed next to the copy (the run sandbox keeps the rest read-only), so the verdict
    # is the hidden tests' own: the bug is still there.
    assert rec["result"].startswith("failed: 1 of 2 tests"), rec["result"]


async def test_a_runaway_agent_hits_the_step_limit(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(*(tool_calls(("read_file", {"path": "grades.py", "start_line": n})) for n in range(1, 4)))
    store, summary = await run_eval(request(tmp_path, max_steps=3), settings(scripted))
    [rec] = records(store.path)
    assert rec["finish_reason"] == "max_steps"
    assert rec["verdict"] == "failed" and rec["result"].endswith("(step limit reached)")
    assert summary["agent"]["hit_step_limit"] == 1


async def test_a_slow_agent_hits_the_time_limit(scripted: ScriptedServer, tmp_path: Path) -> None:
    slow = text("thinking " * 50, delay=0.1)
    scripted.script(slow)
    store, _ = await run_eval(request(tmp_path, time_limit=1.0), settings(scripted))
    [rec] = records(store.path)
    assert rec["finish_reason"] == "time_limit"
    assert rec["result"].endswith("(time limit reached)")
    assert rec["turn_s"] < 3  # the scripted answer alone would take 5 s: the limit cut it


async def test_direct_mode_writes_the_answered_files(scripted: ScriptedServer, tmp_path: Path) -> None:
    answer = (
        "Here is the fix.\n```python\n# file: grades.py\ndef average(scores):\n    if not scores:\n"
        "        return 0.0\n    return sum(scores) / len(scores)\n\n\ndef letter(score):\n    return 'A'\n```\n"
    )
    scripted.script(text(answer))
    store, _ = await run_eval(request(tmp_path, mode="direct"), settings(scripted))
    [rec] = records(store.path)
    assert "tools" not in scripted.requests[0]  # tools off: one plain request
    prompt = scripted.requests[0]["messages"][-1]["content"]
    assert "grades.py:\n```\ndef average(scores):" in prompt and "tests/test_grades.py:" in prompt
    assert "hidden" not in prompt
    assert rec["applied"] == {"written": ["grades.py"], "refused": []}
    assert rec["verdict"] == "passed", rec["result"]


def test_answer_files_reads_names_from_a_comment_or_the_line_above(tmp_path: Path) -> None:
    answer = (
        "**calc.py**\n```python\nx = 1\n```\n"
        "```python\n# file: pkg/util.py\ny = 2\n```\n"
        "```\nno name here\n```\n"
        "```python\n# ../../etc/evil.py\nz = 3\n```\n"
    )
    expected = [("calc.py", "x = 1\n"), ("pkg/util.py", "y = 2\n"), ("../../etc/evil.py", "z = 3\n")]
    assert answer_files(answer) == expected
    written, refused = apply_answer(answer, tmp_path)
    assert written == ["calc.py", "pkg/util.py"]
    assert refused == ["../../etc/evil.py (outside the repository)"]
    assert not (tmp_path.parent.parent / "etc/evil.py").exists()


async def test_retrieval_puts_passages_of_the_copy_into_the_turn(scripted: ScriptedServer, tmp_path: Path) -> None:
    from assistant.retrieval.store import Store

    scripted.script(text("No change."))
    s = load_settings({"base_url": scripted.base_url, "model": "m", "max_retries": 0, "embedder": "hash"})
    store, _ = await run_eval(request(tmp_path, mode="direct", retrieval=True), s)
    [rec] = records(store.path)
    sent = scripted.requests[0]["messages"]
    passages = [m["content"] for m in sent if m["role"] == "system" and "grades.py" in (m.get("content") or "")]
    assert passages, sent  # the copy was indexed and searched with the instruction
    assert any(loc.split(":")[0].endswith("grades.py") for loc in rec["retrieved"]), rec["retrieved"]
    assert json.loads((store.path / "config.json").read_text())["retrieval"] is True
    assert not [n for n in Store(None).names() if n.startswith("repotask-")]  # the attempt's collection is gone


async def test_concurrent_attempts_with_retrieval_each_get_a_private_store(
    scripted: ScriptedServer, tmp_path: Path, monkeypatch: Any
) -> None:
    """Issue 13: the repo-agent-rag cell failed at once ("Could not connect to tenant default_tenant"):
    its concurrent attempts opened the user's local store from several threads at once."""
    from assistant.retrieval.store import local_store_exists

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))  # a user without a store yet
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # this test's temporary folders only
    tasks = ["repo/r10_average_empty", "repo/r20_greet_upper", "repo/r01_median", "repo/r03_fizzbuzz"]
    scripted.script(*[text("No change.") for _ in tasks])
    s = load_settings({"base_url": scripted.base_url, "model": "m", "max_retries": 0, "embedder": "hash"})
    run, _ = await run_eval(request(tmp_path, mode="direct", retrieval=True, concurrency=4, task_ids=tasks), s)
    recs = records(run.path)
    assert sorted(r["task_id"] for r in recs) == sorted(tasks)
    arenas = set()
    for rec in recs:
        assert rec["verdict"] == "failed", rec  # judged (nothing was changed), not an error
        found = {loc.split("/work/")[0] for loc in rec["retrieved"]}
        assert len(found) == 1, rec["retrieved"]  # passages from this attempt's own copy only
        arenas |= found
    assert len(arenas) == len(tasks)
    assert not local_store_exists()  # the user's store was never created
    assert not list((tmp_path / "tmp").glob("assistant-repotask-chroma-*"))  # the private stores are gone
