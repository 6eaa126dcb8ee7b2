"""The answer step's layout of folded tool results (assistant/turntext.py)."""

from __future__ import annotations

from assistant.context import PASSAGES_ASK, PASSAGES_HEAD
from assistant.conversation import ANSWER_NOTE
from assistant.turntext import (
    ANSWER_LAST,
    CHANGE_AND_RESULTS_TOLD,
    CHANGE_TOLD,
    NOTHING_MATCHED,
    asks_question,
    carried_request,
    result_label,
    results_first,
)


def folded(request: str, *results: tuple[str, str, str]) -> str:
    return request + ANSWER_NOTE + "".join(f"\n\n[The tool call {n}({a}) returned:]\n{r}" for n, a, r in results)


def test_results_come_first_under_plain_labels_and_the_request_last() -> None:
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]
    last = folded("is there a tox.ini? and what's in calc.py",
                  ("grep", '{"pattern": "tox"}', "no matches for 'tox'"),
                  ("files__read_file", '{"path": "calc.py"}', "def add(a, b):\n    return a + b\n"))  # fmt: skip
    messages = [{"role": "system", "content": "s"}, *history, {"role": "user", "content": last}]
    out = results_first(messages)
    assert out[:-1] == messages[:-1] and messages[-1]["content"] == last  # a copy; only the last message changes
    assert out[-1]["content"] == (
        "[Lines matching 'tox':]\nno matches for 'tox'\n\n[Contents of calc.py:]\ndef add(a, b):\n    return a + b"
        "\n\n" + ANSWER_LAST + "is there a tox.ini? and what's in calc.py"
    )


def test_passages_stay_first_and_a_turn_without_results_is_unchanged() -> None:
    passages = f"{PASSAGES_HEAD}\n\nsome passage\n\n{PASSAGES_ASK}\n\n"
    messages = [
        {
            "role": "user",
            "content": passages
            + folded("what runs make test?", ("read_file", '{"path": "Makefile"}', "test:\n\tpytest")),
        }
    ]
    content = results_first(messages)[-1]["content"]
    assert content.startswith(passages + "[Contents of Makefile:]\ntest:\n\tpytest\n\n")
    assert content.endswith(ANSWER_LAST + "what runs make test?")
    plain = [{"role": "user", "content": "hello"}]
    assert results_first(plain) == plain


def test_labels_name_what_each_tool_was_given() -> None:
    assert result_label("run_command", '{"command": "make test"}') == "[Output of `make test`:]"
    assert result_label("list_files", "{}") == "[Files in .:]"
    assert result_label("glob", '{"pattern": "*.py"}') == "[Files matching '*.py':]"
    assert result_label("weather__forecast", "not json") == "[Result of forecast:]"


def test_go_ahead_carries_the_previous_request_as_one_to_act_on() -> None:
    history = [{"role": "user", "content": "how would I run the tests in this project?"},
               {"role": "assistant", "content": "With make test."}]  # fmt: skip
    for said in ("go ahead and do it", "ok, do it", "Yes please", "sure, go for it now"):
        assert carried_request(said, [*history, {"role": "user", "content": said}]) == "run the tests in this project"
    assert carried_request("do it in calc.py", [*history, {"role": "user", "content": "x"}]) == "do it in calc.py"
    assert carried_request("go ahead", [{"role": "user", "content": "go ahead"}]) == "go ahead"  # nothing before


def test_after_a_change_the_ask_is_what_changed() -> None:
    # asked to answer "truncate should raise a ValueError when width is under 4" after the edit, the 0.5B
    # wrote the request back
    request = "truncate should raise a ValueError when width is under 4"
    read = ("read_file", '{"path": "textutils.py"}', "def truncate(text, width=20):")
    edit = ("edit_file", '{"path": "textutils.py"}', "Replaced 1 occurrence in textutils.py")
    run = ("run_command", '{"command": "pytest -q"}', "1 passed")
    changed = results_first([{"role": "user", "content": folded(request, read, edit)}])[-1]["content"]
    assert "[Result of the change to textutils.py:]" in changed
    assert changed.endswith(f"My request was: {request}\n{CHANGE_TOLD}")
    tested = results_first([{"role": "user", "content": folded(request, read, edit, run)}])[-1]["content"]
    assert tested.endswith(f"My request was: {request}\n{CHANGE_AND_RESULTS_TOLD}")


def test_an_instruction_keeps_the_folded_layout() -> None:
    # "Read the file notes.txt and tell me the secret word in it", last after its results: the 0.5B wrote
    # it back (a slow end-to-end test); folded, with the request first, it answered "pelican"
    said = "Read the file notes.txt and tell me the secret word in it."
    messages = [{"role": "user", "content": folded(said, ("read_file", '{"path": "notes.txt"}', "pelican"))}]
    assert results_first(messages) == messages
    asked = "what's the secret word in notes.txt?"
    question = [{"role": "user", "content": folded(asked, ("read_file", '{"path": "notes.txt"}', "pelican"))}]
    assert results_first(question)[-1]["content"].endswith(ANSWER_LAST + asked)


def test_a_question_after_a_lead_in_is_still_a_question() -> None:
    # "hey what does add in mathutil give back for 2 and 3": the instruction layout was used, and the
    # 0.5B answered with the fold itself ("The tool call read_file(...) returned: ...")
    for said in ("hey what does add give back for 2 and 3", "ok so which file has the tests",
                 "Quick one: where is truncate defined", "hi, is there a Makefile"):  # fmt: skip
        assert asks_question(said), said
    for said in ("hey, show me calc.py", "ok so read the README", "so highway to the danger zone"):
        assert not asks_question(said), said
    said = "hey what does add in mathutil give back for 2 and 3"
    messages = [{"role": "user", "content": folded(said, ("read_file", '{"path": "mathutil.py"}', "def add"))}]
    assert results_first(messages)[-1]["content"].endswith(ANSWER_LAST + said)


def test_searches_that_found_nothing_are_said_plainly_before_the_question() -> None:
    # asked "is there a setup.cfg anywhere?" after a glob that matched nothing, the 0.5B answered "yes"
    said = "is there a setup.cfg anywhere?"
    empty = folded(said, ("glob", '{"pattern": "setup.cfg"}', "no files match 'setup.cfg'"))
    assert results_first([{"role": "user", "content": empty}])[-1]["content"].endswith(
        NOTHING_MATCHED + ANSWER_LAST + said
    )
    found = folded(said, ("glob", '{"pattern": "*.cfg"}', "setup.cfg"),
                   ("grep", '{"pattern": "x"}', "no matches for 'x'"))  # fmt: skip
    content = results_first([{"role": "user", "content": found}])[-1]["content"]
    assert NOTHING_MATCHED not in content and content.endswith(ANSWER_LAST + said)
