"""The lines of the retrieved passages that share the most words with the question.

A small model given five passages of fifteen lines often restates the question instead of answering
it ("netrc.netrc reads when no file is given."), though the line that answers it is right there. The
few lines that share the question's rarer words (and the definition of the name it asks about) are
repeated next to the question, with their `path:line`, so the model's eye lands on them; the passages
stay whole above them.
"""

from __future__ import annotations

import math
import re

KEY_LINES = 3
DEFINITION_BONUS = 3.0  # `def which(` when the question names `shutil.which`
RANK_PENALTY = 0.05  # ties go to the more relevant passage
MAX_LINE = 160

_STOP_WORDS = (
    "a an the and or but not no yes is are was were be been do does did doing done to of in on at by for with "
    "from into than then that this these those it its i me my we our you your they them what which who whom how "
    "why when where if unless else any some all each can could should would will shall may might must have has "
    "had there here about according say says said tell give gives given get gets use used uses using default"
)
_STOP = frozenset(_STOP_WORDS.split())
_HEAD = re.compile(r"^\[\d+\] (?P<path>.+?):(?P<start>\d+)-\d+(?: \(.*\))?$")
_DEFINES = re.compile(r"\s*(?:async\s+)?(?:def|class)\s+(\w+)")


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ies", "es", "s", "ed", "ing"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def words(text: str) -> set[str]:
    """Lower-case stems of the words, identifiers split at `_`, `.` and camelCase; no stop words."""
    out = set()
    for token in re.findall(r"[A-Za-z0-9]+", text):
        for part in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", token) or [token]:
            stem = _stem(part)
            if len(stem) >= 2 and stem not in _STOP:
                out.add(stem)
    return out


def named(question: str) -> set[str]:
    """Names the question asks about: the `choice` of `random.choice`, a `snake_case` name."""
    out = {m.group(1).lower() for m in re.finditer(r"\b[A-Za-z_]\w*\.([A-Za-z_]\w*)", question)}
    out |= {m.group(0).lower() for m in re.finditer(r"\b[a-z]+_[a-z_]+\b", question)}
    return out


def passage_lines(body: str) -> list[tuple[str, int, str]]:
    """(path, line number, text) of a passage laid out as ``[n] path:a-b (heading)`` and its text."""
    head, _, text = body.partition("\n")
    match = _HEAD.match(head.strip())
    if not match:
        return []
    start = int(match.group("start"))
    return [(match.group("path"), start + k, line) for k, line in enumerate(text.splitlines()) if line.strip()]


def key_lines(question: str, bodies: list[str], n: int = KEY_LINES) -> list[str]:
    """The n lines (``path:12: text``) that share the most with the question, best first."""
    asked, names = words(question), named(question)
    lines: dict[tuple[str, int], tuple[int, str, set[str]]] = {}
    for rank, body in enumerate(bodies):
        for path, number, text in passage_lines(body):
            lines.setdefault((path, number), (rank, text, words(text)))
    counts: dict[str, int] = {}
    for _, _, said in lines.values():
        for word in said & asked:
            counts[word] = counts.get(word, 0) + 1
    total = len(lines)
    scored = []
    for (path, number), (rank, text, said) in lines.items():
        score = sum(math.log(1 + total / counts[w]) for w in said & asked)
        defines = _DEFINES.match(text)
        if defines and defines.group(1).lower() in names:
            score += DEFINITION_BONUS
        if score > 0:
            scored.append((score - RANK_PENALTY * rank, path, number, text.strip()[:MAX_LINE]))
    scored.sort(key=lambda s: -s[0])
    return [f"{path}:{number}: {text}" for _, path, number, text in scored[:n]]
