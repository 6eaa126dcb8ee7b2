"""A retrieved passage cut down to the definition the question names, for small models.

A chunk holds what sits near the definition the question is about: the end of the one before, the
start of the next. Asked "What error does random.choice raise for an empty sequence?" with the chunk
that holds ``def choice`` (and the end of ``randint``, the start of ``shuffle``), the 0.5B answered
with the error of the next passage's ``randrange``. Cut to the definition, the passage says one thing.
"""

from __future__ import annotations

import re

# "[1] random.py:360-383 (def choice)" then the chunk's text, one line per line of the file
HEADER = re.compile(r"^(\[\d+\] )(.+?):(\d+)-(\d+)((?: \(.*\))?)$")
# names the question gives as code: "random.choice", "Queue.get_nowait", "lru_cache", "fill()"
DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
CALLED = re.compile(r"\b([A-Za-z_]\w*)\(\)")
SNAKE = re.compile(r"\b[a-z]\w*_\w+\b")
DEFINES = r"^(\s*)(?:async\s+)?(?:def|class)\s+{}\b"
MIN_KEPT = 3  # a definition shorter than this is not worth a cut


def named(question: str) -> set[str]:
    """The code names a question gives: the last part of a dotted name, a name written as a call, a
    snake_case name ("uuid.uuid3" -> "uuid3")."""
    names = {m.group(0).rsplit(".", 1)[1] for m in DOTTED.finditer(question)}
    names |= set(CALLED.findall(question)) | set(SNAKE.findall(question))
    return {n for n in names if len(n) > 2}


def _block(lines: list[str], start: int, indent: int) -> tuple[int, int]:
    """The lines of the definition at ``start``: its comments and decorators above, its body below (to
    the first line indented no deeper than the definition)."""
    first = start
    while first > 0 and lines[first - 1].strip().startswith(("@", "#")):
        first -= 1
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return first, end


def focus(body: str, question: str) -> str:
    """The passage cut to the definition of a name the question gives, its header's lines to match; the
    passage unchanged when it defines none of them (or the cut would leave it nearly whole)."""
    head, _, text = body.partition("\n")
    match = HEADER.match(head)
    names = named(question)
    if match is None or not names or not text:
        return body
    lines = text.split("\n")
    for name in sorted(names):
        pattern = re.compile(DEFINES.format(re.escape(name)))
        at = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
        if at is None:
            continue
        indent = len(lines[at]) - len(lines[at].lstrip())
        first, end = _block(lines, at, indent)
        if end - first < MIN_KEPT or end - first >= len(lines) - 1:
            return body
        start = int(match.group(3)) + first
        number, path, heading = match.group(1), match.group(2), match.group(5)
        return f"{number}{path}:{start}-{start + end - first - 1}{heading}\n" + "\n".join(lines[first:end])
    return body
