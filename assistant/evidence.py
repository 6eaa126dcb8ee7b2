"""Answers from retrieved passages, for small models: first the line that answers, then the answer.

Measured on the 0.5B (benchmarks/bench_grounded.py, 45 questions over the standard library): with
the passage holding the answer retrieved (39 of 45, most often first), the answer held the fact in
27 of 39. It answered "SHA-1" with `uuid3 ... name using MD5` in front of it, and "100" for a
maxsize whose line says 0. Asked to quote the line it used, it mostly did not.

So for a question answered from passages, one short step comes first: the model *copies one line*
of the passages, decoded under a grammar whose alternatives are exactly those lines (or "none").
Choosing among lines is a narrower task than writing the answer. That line, with its path and line
number, is then put right after the question ("[The line that answers it, queue.py:35: ...]"), and
the answer is written from it and cites it. The request is the same as the answer's, up to the
last message, so llama-server's prompt cache evaluates the passages once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.grammar import literal

HEADER = re.compile(r"^\[\d+\] (?P<path>\S+?):(?P<start>\d+)-(?P<end>\d+)(?: \(.*\))?$")
ASK = "[First copy the one line of these passages that answers my question exactly; write none if no line does.]"
NONE = "none"
MAX_LINES = 160  # alternatives in the grammar
MAX_CHARS = 240  # a longer line is not offered (a minified blob says little)
MIN_CHARS = 4
END = "[If these passages answer"  # the start of the instruction after the passages (context.PASSAGES_ASK)


@dataclass(frozen=True)
class Line:
    path: str
    number: int
    text: str

    def note(self) -> str:
        return f"[The line that answers it, {self.path}:{self.number}: {self.text.strip()}]"


def passage_lines(content: str) -> list[Line]:
    """The lines of the passages folded into a user message, with their files and line numbers."""
    lines: list[Line] = []
    where: tuple[str, int] | None = None
    for raw in content.splitlines():
        head = HEADER.match(raw)
        if head:
            where = (head["path"], int(head["start"]))
            continue
        if raw.startswith(END):
            where = None  # the passages end; the question follows
            continue
        if where is None:
            continue
        path, number = where
        where = (path, number + 1)
        if MIN_CHARS <= len(raw.strip()) <= MAX_CHARS:
            lines.append(Line(path, number, raw))
    return lines


def line_grammar(lines: Sequence[Line]) -> str:
    """GBNF: exactly one of the lines (each once, most relevant passage first), or "none"."""
    texts = list(dict.fromkeys(line.text.strip() for line in lines))[:MAX_LINES]
    return "root ::= " + " | ".join([literal(NONE), *(literal(t) for t in texts)]) + "\n"


def chosen(output: str, lines: Sequence[Line]) -> Line | None:
    """The line the model copied (the first passage line with that text), or None."""
    text = output.strip()
    if not text or text == NONE:
        return None
    return next((line for line in lines if line.text.strip() == text), None)


def with_note(messages: Sequence[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """The messages with ``note`` after the last user message's text."""
    out = [dict(m) for m in messages]
    for message in reversed(out):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            message["content"] = f"{message['content']}\n\n{note}"
            break
    return out
