"""Token confidence against correctness: recorded from direct-mode logprobs, AUROC computed right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from assistant.evals.confidence import auroc, confidence_report
from assistant.evals.launch import EvalRequest, run_eval

from assistant.config import load_settings
from tests.scripted_server import ScriptedServer, text
from tests.test_evals_runner import GOOD, write_suite


def test_auroc() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5  # ties count half
    assert auroc([0.9, 0.4], [0.5, 0.1]) == 0.75  # 3 of the 4 pairs ordered right
    assert auroc([], [0.1]) != auroc([], [0.1])  # nan: undefined with one class only


async def test_direct_runs_record_token_confidence(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text(GOOD["T/0"]), text("def neg(x):\n    return x\n```"), text(GOOD["T/2"]))
    req = EvalRequest(suite=str(write_suite(tmp_path / "s.jsonl", 3)), out=tmp_path / "run", concurrency=1,
                      retry_wait=0.0)  # fmt: skip
    store, _ = await run_eval(req, load_settings({"base_url": scripted.base_url, "model": "m", "max_retries": 0}))
    assert all(r["logprobs"] is True and r["top_logprobs"] == 1 for r in scripted.requests)
    records = [json.loads(line) for line in (store.path / "attempts.jsonl").read_text().splitlines()]
    for r in records:
        conf = r["confidence"]
        assert conf["tokens"] > 0 and 0 < conf["min_prob"] <= conf["mean_prob"] <= 1
    report = confidence_report(store)
    assert report["attempts"] == 3 and report["passed"] == 2
    assert report["mean_prob"]["auroc"] == pytest.approx(auroc(
        [r["confidence"]["mean_prob"] for r in records if r["verdict"] == "passed"],
        [r["confidence"]["mean_prob"] for r in records if r["verdict"] == "failed"]))  # fmt: skip
