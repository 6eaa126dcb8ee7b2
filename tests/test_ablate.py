"""`assistant eval ablate`: a matrix of cells, each a normal eval run, and the side-by-side report.

Fast tests run the matrix against the scripted server (cells that need the local model are
skipped with the reason); the slow test runs the bundled smoke matrix on the real local model,
with a quantization this llama.cpp build cannot make.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from assistant.evals.ablate import MatrixError, MatrixOptions, load_matrix, parse_perplexity, run_matrix
from assistant.evals.matrix_report import cell_rows, write_matrix_report

from assistant.config import load_settings
from tests.scripted_server import ScriptedServer, text, tool_calls

MATRIX = """
[mini]
description = "two cells and one that needs the local model"
[mini.defaults]
suite = "repotasks"
tasks = ["repo/r10_average_empty", "repo/r03_fizzbuzz"]
[[mini.cells]]
name = "agent"
axis = "tools"
mode = "agent"
max_steps = 2
[[mini.cells]]
name = "direct"
axis = "tools"
baseline = "agent"
[[mini.cells]]
name = "direct-Q2_K"
axis = "precision"
quant = "Q2_K"
baseline = "direct"
"""

GRADES_FIX = (
    "```python\n# file: grades.py\ndef average(scores):\n    if not scores:\n        return 0.0\n"
    "    return sum(scores) / len(scores)\n\n\ndef letter(score):\n    return 'A' if score >= 90 else 'B'\n```"
)


def _matrix(tmp_path: Path, body: str = MATRIX) -> Path:
    path = tmp_path / "matrix.toml"
    path.write_text(body)
    return path


async def test_a_matrix_runs_its_cells_as_eval_runs_and_reports_them(scripted: ScriptedServer, tmp_path: Path) -> None:
    matrix = load_matrix("mini", _matrix(tmp_path))
    scripted.script(
        # agent cell, task by task (concurrency 1): r03 read and give up, r10 read and give up
        tool_calls(("read_file", {"path": "fizz.py"})), text("I could not fix it."),
        tool_calls(("read_file", {"path": "grades.py"})), text("No idea."),
        # direct cell: r03 unchanged (fails), r10 fixed (passes)
        text("I would change nothing."), text(GRADES_FIX),
    )  # fmt: skip
    settings = load_settings({"base_url": scripted.base_url, "model": "m", "max_retries": 0})
    out = tmp_path / "ablation"
    states = await run_matrix(matrix, settings, MatrixOptions(out, concurrency=1))
    assert states["agent"].status == "complete" and states["direct"].status == "complete"
    assert states["direct-Q2_K"].status == "skipped"
    assert "needs the local model" in states["direct-Q2_K"].reason
    # Each cell is a normal run folder.
    for cell in ("agent", "direct"):
        config = json.loads((out / cell / "config.json").read_text())
        assert config["suite"] == "repotasks" and config["mode"] == cell
    rows = {r["name"]: r for r in cell_rows(out)}
    assert rows["direct"]["summary"]["pass_rate"]["passed"] == 1
    assert rows["agent"]["summary"]["pass_rate"]["passed"] == 0
    assert rows["direct"]["paired"] == {"baseline": "agent", "common": 2, "gained": 1, "lost": 0, "p": 1.0}
    written = write_matrix_report(out)
    assert [p.name for p in written] == ["report.md", "report.png", "report.html"]
    md = (out / "report.md").read_text()
    assert "| direct | tools | complete |" in md and "agent: +1 −0, p=1.000" in md
    assert "skipped: needs the local model" in md
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert 'href="direct/report.html"' in (out / "report.html").read_text()
    assert (out / "direct" / "report.html").is_file()

    # The same command again: finished cells are kept, nothing is asked of the model.
    again = await run_matrix(matrix, settings, MatrixOptions(out, concurrency=1))
    assert again["direct"].status == "complete" and len(scripted.requests) == 6


async def test_an_endpoint_failure_fails_that_cell_and_the_matrix_goes_on(tmp_path: Path) -> None:
    body = MATRIX.replace('max_steps = 2', 'max_steps = 2\nsuite = "no-such-suite"')
    matrix = load_matrix("mini", _matrix(tmp_path, body))
    settings = load_settings({"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": 0})
    states = await run_matrix(matrix, settings, MatrixOptions(tmp_path / "out", only=["agent"]))
    assert states["agent"].status == "error" and "no-such-suite" in states["agent"].reason
    assert states["direct"].status == "pending"  # not selected with --only


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[m]\n[[m.cells]]\nname = "a"\ncolour = "red"\n', "cell 1: unknown key(s) colour"),
        ('[m]\n[[m.cells]]\nname = "a"\nbaseline = "b"\n', "compares with 'b', which is not a cell"),
        ('[m]\n[[m.cells]]\nname = "a"\n[[m.cells]]\nname = "a"\n', "names cells twice: a"),
        ("[m]\n", "has no cells"),
        ("[m\n", "Cannot read the matrix file"),
    ],
)
def test_a_bad_matrix_is_one_readable_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(MatrixError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_matrix("m", _matrix(tmp_path, body))


def test_the_bundled_matrices_load() -> None:
    for name in ("smoke", "default", "study", "full"):
        cells = load_matrix(name).cells
        assert cells and all(c.baseline is None or c.baseline in {x.name for x in cells} for c in cells)
    axes = {c.axis for c in load_matrix("full").cells}
    assert axes == {"tools", "retrieval", "size", "precision", "kv", "sampling"}


def test_perplexity_output_is_parsed() -> None:
    plain = "perplexity: calculating\n[1]1.6775,[2]1.5940,\nFinal estimate: PPL = 3.0154 +/- 0.15245\n"
    assert parse_perplexity(plain) == {"ppl": 3.0154, "ppl_se": 0.15245}
    kld = (
        "====== Perplexity statistics ======\nMean PPL(Q)                   :   3.101234 ±   0.150000\n"
        "====== KL divergence statistics ======\nMean    KLD:   0.031234 ±   0.001200\n"
        "====== Token probability statistics ======\nSame top p: 95.123 ± 0.456 %\n"
    )
    assert parse_perplexity(kld) == {"ppl": 3.101234, "ppl_se": 0.15, "kld": 0.031234, "kld_se": 0.0012,
                                     "top1_pct": 95.123, "top1_se": 0.456}  # fmt: skip


@pytest.mark.slow
def test_the_smoke_matrix_on_the_local_model(local_data: Path, tmp_path: Path) -> None:
    """CI's two-task smoke run of the ablation command, through the CLI, on the real 0.5B model."""
    from typer.testing import CliRunner

    from assistant.cli import app

    out = tmp_path / "smoke"
    result = CliRunner().invoke(app, ["eval", "ablate", "smoke", "--out", str(out), "-j", "2", "--threads", "1"])
    assert result.exit_code == 0, result.output
    state = json.loads((out / "matrix.json").read_text())["states"]
    assert state["repo-agent"]["status"] == "complete" and state["repo-direct"]["status"] == "complete"
    assert state["repo-direct-IQ1_XX"]["status"] == "skipped"
    assert "llama-quantize cannot make IQ1_XX" in state["repo-direct-IQ1_XX"]["reason"]
    for cell in ("repo-agent", "repo-direct"):
        summary = json.loads((out / cell / "summary.json").read_text())
        assert summary["finished"] == 2 and summary["server"]["peak_rss_mb"] > 100
    assert (out / "report.html").is_file() and "repo-direct" in (out / "report.md").read_text()
