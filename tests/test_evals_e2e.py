"""HumanEval through the real embedded model (slow): a few tasks in direct and agent mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from assistant.evals.launch import EvalRequest, run_eval

from assistant.config import load_settings

pytestmark = pytest.mark.slow

EASY = ["HumanEval/2", "HumanEval/4"]  # short, and the greedy 0.5B solves them (evals/results/)


async def test_direct_mode_on_the_local_model(local_data: Path, tmp_path: Path) -> None:
    req = EvalRequest(suite="humaneval", task_ids=EASY, concurrency=2, threads=1, out=tmp_path / "run")
    store, summary = await run_eval(req, load_settings({}))
    assert summary["status"] == "complete" and summary["finished"] == 2
    assert summary["pass_rate"]["passed"] >= 1, summary["failures"]
    config = json.loads((store.path / "config.json").read_text())
    assert config["endpoint"]["kind"] == "local" and config["endpoint"]["slots"] == 2
    assert config["quantization"]  # read from llama-server's /props
    samples = (store.path / "samples.jsonl").read_text().splitlines()
    assert [json.loads(s)["task_id"] for s in samples] == EASY


async def test_agent_mode_on_the_local_model(local_data: Path, tmp_path: Path) -> None:
    req = EvalRequest(suite="humaneval", task_ids=["HumanEval/2"], mode="agent", max_steps=3, concurrency=1, threads=1,
                      out=tmp_path / "run")  # fmt: skip
    store, summary = await run_eval(req, load_settings({}))
    assert summary["finished"] == 1 and summary["agent"]["steps_mean"] >= 1
    (record,) = [json.loads(line) for line in (store.path / "attempts.jsonl").read_text().splitlines()]
    assert record["verdict"] in ("passed", "failed") and record["messages"][0]["role"] == "system"
    assert record["usage"]["completion_tokens"] > 0
