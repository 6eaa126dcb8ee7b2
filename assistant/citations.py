"""Which retrieved passages an answer drew on, for a "Sources:" line when the model names none.

Asked to name the file and lines it used, the 0.5B model cited a path in 0 of 10 answers
(benchmarks/bench_grounded.py), though it answered from the passages. The assistant can tell
which passages an answer used by the words they share, the distinctive ones above all
(identifiers, numbers, names), and say so itself: the line is marked as the assistant's, not
the model's, and it is left out when the answer already names a passage's file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MIN_SHARED = 3.0  # weighted shared words below which an answer is not taken to use a passage
MIN_SHORT = 2.0  # ...or, for a short answer, this much and most of the answer
SHORT_SHARE = 0.8
KEEP_SHARE = 0.6  # other passages are listed when they share at least this much of the best one's weight
MAX_LISTED = 2
SOURCES_PREFIX = "Sources (matched by the assistant): "

_STOP_WORDS = (
    "the and for are but not you all any can had her was one our out has have this that with from they will "
    "would there their what when which who how why your into than then them these those its also just only "
    "such some more most other each very may might must should could does did doing done use used uses using "
    "value values return returns returned function default defaults file files line lines"
)
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}|\d+(?:\.\d+)?")


def _weights(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for word in _WORD.findall(text):
        low = word.lower()
        if low in _STOP:
            continue
        distinctive = "_" in word or word[0].isdigit() or (word[0].isupper() and len(word) > 3) or len(word) >= 9
        out[low] = max(out.get(low, 0.0), 2.0 if distinctive else 1.0)
    return out


def used_passages(answer: str, passages: Sequence[Any]) -> list[Any]:
    """The passages (most used first, at most two) whose distinctive words the answer shares."""
    said = _weights(answer)
    if not said:
        return []
    scored = []
    for i, passage in enumerate(passages):
        body = _weights(str(getattr(passage, "text", "")))
        shared = sum(w for word, w in said.items() if word in body)
        scored.append((shared, -i, passage))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    # A short answer ("70", "IndexError") counts when most of what it says is in a passage.
    needed = max(MIN_SHORT, min(MIN_SHARED, SHORT_SHARE * sum(said.values())))
    if not scored or scored[0][0] < needed:
        return []
    best = scored[0][0]
    return [p for shared, _, p in scored[:MAX_LISTED] if shared >= max(needed, math.ceil(best * KEEP_SHARE))]


def names_a_file(answer: str, passages: Sequence[Any]) -> bool:
    """Does the answer already name the file of one of the passages?"""
    for passage in passages:
        name = Path(str(getattr(passage, "path", ""))).name
        if name and re.search(rf"(?<![\w.]){re.escape(name)}\b", answer):
            return True
    return False


def sources_line(answer: str, passages: Sequence[Any], root: Path | None = None) -> str:
    """``"\\n\\nSources (matched by the assistant): a.py:3-9"``, or "" when not needed or not found."""
    if not passages or not answer.strip() or names_a_file(answer, passages):
        return ""
    used = used_passages(answer, passages)
    if not used:
        return ""
    return "\n\n" + SOURCES_PREFIX + ", ".join(p.location(root) for p in used)
