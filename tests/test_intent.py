"""The first-step classifier (assistant/intent.py): its input, its choices, its file, and the agent using it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.agent import Agent
from assistant.events import Decision
from assistant.intent import ANSWER, MODEL_FILE, IntentModel, features, intent_text, load, weighted
from tests.scripted_server import ScriptedServer
from tests.test_steps import call_json, files_tools, grammar_agent, run, text

pytestmark = pytest.mark.usefixtures("close_endpoints")
TOOLS = ["read_file", "list_files", "grep", "glob", "run_command", "edit_file", "write_file"]


def test_workspace_names_are_replaced_by_their_kind() -> None:
    said = intent_text("Is split_bill in tipcalc/split.py rounding 18.5?", ["tipcalc/split.py", "split_bill"],
                       ["tipcalc/split.py", "calc.py"], pointer="", followup=True)  # fmt: skip
    assert "split_bill" not in said and "split.py" not in said and "18.5" not in said
    assert said.split().count("_file_") == 2 and said.split().count("_name_") == 2  # in place, and once more
    assert "_num_" in said and said.endswith("_followup_")
    folder = intent_text("what is in the notes folder", ["notes/"], ["notes/todo.txt"], pointer="here")
    assert "_folder_" in folder and "_pointer_" in folder and " notes " not in f" {folder} "


def test_features_are_words_and_word_pairs_weighted_to_unit_length() -> None:
    counts = features("Run the tests, run them")
    assert counts["run"] == 2 and counts["run the"] == 1 and counts["tests run"] == 1
    vec = weighted(counts, {"run": 1.0, "tests": 2.0, "the": 1.0})
    assert abs(sum(v * v for v in vec.values()) - 1.0) < 1e-9 and "them" not in vec


def test_the_shipped_model_chooses_the_kind_of_first_step() -> None:
    model = load()
    assert model is not None and ANSWER in model.classes
    # not requests of the labelled sets: phrasings of its kinds nobody trained on
    cases = {
        "anything in the code using pathlib?": "grep",
        "write me a function that reverses a string": ANSWER,
        "hello there, how are you doing today?": ANSWER,
        "run the tests and tell me what fails": "run_command",
        "which files are in this folder?": "list_files",
    }
    for request, expected in cases.items():
        assert model.choose(intent_text(request, [], []), TOOLS)[0] == expected, request
    opened = intent_text("whats in todo.txt", ["todo.txt"], ["todo.txt"])
    assert model.choose(opened, TOOLS)[0] == "read_file"


def test_a_tool_not_offered_is_never_chosen() -> None:
    model = load()
    assert model is not None
    said = intent_text("run the tests and tell me what fails", [], [])
    choice, probs = model.choose(said, ["read_file", "grep"])
    assert choice in ("read_file", "grep") and probs["run_command"] > probs[choice]
    assert abs(sum(probs.values()) - 1.0) < 1e-9
    assert model.choose(said, ["some_mcp_tool"])[0] is None  # none of its tools: it cannot decide


def test_answer_at_is_the_bar_for_answering_in_words() -> None:
    model = IntentModel(("answer", "read_file"), {"hi": 1.0}, {"hi": [1.0, -1.0]}, [0.0, 0.0], answer_at=0.8)
    probs = model.probabilities("hi")
    assert 0.8 < probs["answer"] < 0.9
    assert model.choose("hi", ["read_file"])[0] == ANSWER
    assert model.choose("something else", ["read_file"])[0] == "read_file"  # 0.5 < 0.8


def test_a_missing_or_corrupt_model_file_means_no_classifier(tmp_path: Path) -> None:
    assert load(tmp_path / "nothing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert load(tmp_path / "bad.json") is None
    data = json.loads(MODEL_FILE.read_text())
    data["bias"] = data["bias"][:-1]
    (tmp_path / "short.json").write_text(json.dumps(data))
    assert load(tmp_path / "short.json") is None


def test_the_shipped_model_is_what_training_on_its_sets_makes() -> None:
    """Retrains from benchmarks/tooluse (the sets the file names) and compares every probability."""
    pytest.importorskip("sklearn", reason="scikit-learn comes with the project's dev extra")
    from assistant.intent_train import HELD_OUT, TRAINED_ON, main

    assert main(["--check"]) == 0
    shipped = load()
    assert shipped is not None and not set(HELD_OUT) & set(shipped.trained_on)  # held-out sets stay held out
    assert set(shipped.trained_on) == set(TRAINED_ON)


def todo_agent(scripted: ScriptedServer, tmp_path: Path) -> tuple[Agent, list[str]]:
    """The grammar agent in a workspace holding todo.txt, and the list of what its tools were asked."""
    (tmp_path / "todo.txt").write_text("- buy milk\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    return agent, seen


async def test_the_agent_takes_its_first_step_from_the_classifier(scripted: ScriptedServer, tmp_path: Any) -> None:
    agent, seen = todo_agent(scripted, tmp_path)
    scripted.script(call_json("list_files", {"path": "."}), text("The", pieces=1), text("Two files."))
    events = await run(agent, "which files are in this folder?")
    first = scripted.requests[0]
    assert first.get("max_tokens") != 1 and "grammar" in first  # no decision request: straight to the call
    assert "list_files" in first["grammar"] and "read_file" not in first["grammar"]  # only the chosen tool
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.choice == "list_files" and "intent list_files" in decision.why
    assert seen == ["list:."]


async def test_a_request_it_answers_in_words_costs_no_decision_request(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    agent, seen = todo_agent(scripted, tmp_path)
    scripted.script(text("def reverse(s):\n    return s[::-1]"))
    events = await run(agent, "write me a function that reverses a string")
    assert len(scripted.requests) == 1 and "grammar" not in scripted.requests[0] and seen == []
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.choice == "answer" and decision.why.startswith("intent answer")


async def test_without_a_workspace_the_model_decides(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))  # no workspace: nothing to ground names in
    scripted.script(text("The", pieces=1), text("Hello."))
    await run(agent, "which files are in this folder?")
    assert scripted.requests[0]["max_tokens"] == 1  # the decision request, as before


async def test_a_call_written_as_the_answer_it_chose_does_not_run(scripted: ScriptedServer, tmp_path: Any) -> None:
    """On a held-out set the 0.5B answered "hey, got a sec?" with a grep and "you're a lifesaver, ta"
    with a listing, both after the classifier had chosen to answer: such a call is asked again in words."""
    agent, seen = todo_agent(scripted, tmp_path)
    scripted.script(text('{"name": "list_files", "arguments": {"path": "."}}'), text("Sure, what do you need?"))
    events = await run(agent, "write me a function that reverses a string")
    assert seen == [] and len(scripted.requests) == 2
    assert events[-1].text == "Sure, what do you need?"


async def test_a_search_it_chooses_looks_for_the_requests_own_terms(scripted: ScriptedServer, tmp_path: Any) -> None:
    """Left free, the 0.5B searched for code it imagined ("def round_tip(tip): return round(tip, 2)"
    for "a function that rounds the tip"): the pattern is one of the request's terms."""
    (tmp_path / "calc.py").write_text("def tip(x):\n    return round(x, 2)\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def grep(pattern: str) -> str:
        """Search the workspace's files for a pattern."""
        seen.append(f"grep:{pattern}")
        return "calc.py:2:    return round(x, 2)"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("grep", {"pattern": "round"}), text("The", pieces=1), text("In calc.py."))
    await run(agent, "anything in the code that rounds numbers?")
    grammar = scripted.requests[0]["grammar"]
    assert "round" in grammar and "numbers" in grammar and "def round_tip" not in grammar
    assert seen == ["grep:round"]


def folded(passage_source: str, question: str) -> str:
    """A user message as small models get it with retrieval on: passages, the ask, the question."""
    from assistant.context import PASSAGES_ASK, PASSAGES_HEAD

    passage = f"[1] {passage_source} (def add)\ndef add(a, b):\n    return a + b"
    return f"{PASSAGES_HEAD}\n\n{passage}\n\n{PASSAGES_ASK}\n\n{question}"


async def test_a_read_of_a_file_the_passages_come_from_is_answered_from_them(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """With tools and retrieval both on, the 0.5B read all of textwrap.py for a question its
    passages answered (a 99 s turn): the question is answered from the passages."""
    from assistant.turntext import passage_files

    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "other.py").write_text("x = 1\n")
    assert passage_files(folded("calc.py:1-2", "q")) == {"calc.py"} and passage_files("no passages") == set()
    agent, seen = todo_agent(scripted, tmp_path)
    scripted.script(text("add returns a + b (calc.py:1-2)."))
    events = await run(agent, folded("calc.py:1-2", "what does add in calc.py return?"))
    assert seen == [] and len(scripted.requests) == 1 and "grammar" not in scripted.requests[0]
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.choice == "answer" and decision.why.startswith("the passages hold calc.py")
    # a file the passages do not come from is still read
    agent, seen = todo_agent(scripted, tmp_path)
    scripted.script(call_json("read_file", {"path": "other.py"}), text("The", pieces=1), text("x is 1."))
    await run(agent, folded("calc.py:1-2", "what does other.py set x to?"))
    assert seen == ["other.py"]
