"""The passage line a question is answered from (assistant/evidence.py), and its step in GrammarSteps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.context import fold_passages
from assistant.evidence import ASK, chosen, line_grammar, passage_lines, with_note
from assistant.retrieval.retriever import PREAMBLE

PASSAGES = [
    {"role": "system", "content": PREAMBLE + "\n\n[1] queue.py:33-36 (Queue)\nclass Queue:\n    '''FIFO.'''\n"
                                             "    def __init__(self, maxsize=0):\n        self.maxsize = maxsize"},
    {"role": "system", "content": "[2] uuid.py:712-713 (uuid3)\ndef uuid3(namespace, name):\n"
                                  "    from hashlib import md5"},
]  # fmt: skip


def folded(question: str) -> list[dict[str, Any]]:
    return fold_passages(PASSAGES, [{"role": "user", "content": question}])


def test_passage_lines_carry_their_file_and_line_number() -> None:
    content = folded("What is the default maxsize of queue.Queue?")[0]["content"]
    lines = passage_lines(content)
    assert [(x.path, x.number) for x in lines] == [("queue.py", 33), ("queue.py", 34), ("queue.py", 35),
                                                  ("queue.py", 36), ("uuid.py", 712), ("uuid.py", 713)]  # fmt: skip
    assert lines[2].text.strip() == "def __init__(self, maxsize=0):"
    assert not any("default maxsize" in x.text for x in lines)  # the question is not a passage line


def test_the_grammar_offers_exactly_the_lines_or_none() -> None:
    lines = passage_lines(folded("q")[0]["content"])
    grammar = line_grammar(lines)
    assert grammar.startswith('root ::= "none" | ') and '"def __init__(self, maxsize=0):"' in grammar
    assert grammar.count(" | ") == len(lines)  # none + each line once
    assert chosen("    def __init__(self, maxsize=0):", lines) == lines[2]
    assert chosen("none", lines) is None and chosen("something else", lines) is None
    note = lines[2].note()
    assert note == "[The line that answers it, queue.py:35: def __init__(self, maxsize=0):]"
    out = with_note([{"role": "system", "content": "s"}, {"role": "user", "content": "q"}], ASK)
    assert out[-1]["content"] == "q\n\n" + ASK


@pytest.mark.asyncio
async def test_a_question_with_passages_answers_from_the_line_it_copied(scripted: Any) -> None:
    from tests.scripted_server import text
    from tests.test_steps import answer_start, files_tools, grammar_agent

    agent = grammar_agent(scripted, files_tools([]))
    scripted.script(answer_start(), text("    def __init__(self, maxsize=0):"), text("It is 0 (queue.py:35)."))
    messages = folded("What is the default maxsize of queue.Queue?")
    steps = agent.steps
    events = [e async for e in steps.stream([{"role": "system", "content": "sys"}, *messages],
                                            agent.tools.schemas(), {})]  # fmt: skip
    evidence_request, answer_request = scripted.requests[1], scripted.requests[2]
    assert '"def __init__(self, maxsize=0):"' in evidence_request["grammar"]
    assert evidence_request["messages"][-1]["content"].endswith(ASK)
    last = answer_request["messages"][-1]["content"]
    assert last.endswith("[The line that answers it, queue.py:35: def __init__(self, maxsize=0):]")
    assert "grammar" not in answer_request
    assert any(getattr(e, "choice", "") == "evidence" and e.why == "queue.py:35" for e in events)
    assert json.dumps(evidence_request["messages"][:-1]) == json.dumps(answer_request["messages"][:-1])
