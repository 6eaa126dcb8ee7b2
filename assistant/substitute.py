"""Changes the request spells out as "this instead of that": the edit is written here, not by the model.

"The usage example in the README should split between 4 people instead of 3", "rename the
`language` key ... to `locale`", "change the tip default from 18 to 20", "the first item should say
'by dish' rather than 'by item'", "find the 'each person pays' line and make it say 'each person
owes' instead". The old text is found in the file's lines (as a whole token), and
each line holding it is offered with the new text in its place: the model only picks the line.
Measured on the 0.5B, writing such a line itself inside the edit call: `language = "locale"` for
the rename, the `## Usage` heading rewritten for the README's example.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

TOKEN = r"`[^`\n]{1,80}`|'[^'\n]{1,80}'|\"[^\"\n]{1,80}\"|-?\d+(?:\.\d+)?%?|[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*"
QUOTED = r"`[^`\n]{1,80}`|'[^'\n]{1,80}'|\"[^\"\n]{1,80}\""
PATTERNS = (
    # "rename the `language` key in the display section of the settings to `locale`"
    re.compile(rf"\brename (?:the )?(?P<old>{TOKEN})(?: [\w.`'\"-]+){{0,10}}? (?:to|as|into) (?P<new>{TOKEN})", re.I),
    re.compile(rf"\breplace (?:the )?(?P<old>{TOKEN}) (?:with|by) (?P<new>{TOKEN})", re.I),
    re.compile(rf"\bfrom (?P<old>{TOKEN}) to (?P<new>{TOKEN})", re.I),
    # "change 'Bye!' to 'See you!'" (quoted both: "change the default to 20" names no old text)
    re.compile(rf"\bchange (?:the )?(?P<old>{QUOTED}) (?:[\w-]+ ){{0,3}}?to (?P<new>{QUOTED})", re.I),
    # "find where the 'each person pays' line gets printed and make it say 'each person owes' instead"
    re.compile(
        rf"(?P<old>{QUOTED})[^'\"`]{{0,120}}?\b(?:say|says|read|reads|print|prints|show|shows|be)\s+"
        rf"(?P<new>{QUOTED})\s+instead\b(?! of)",
        re.I,
    ),
    # "split between 4 people instead of 3", "say 'by dish' rather than 'by item'"
    re.compile(
        rf"(?<![\w'\"`])(?P<new>{TOKEN})(?: (?P<unit>[a-z]{{3,}}))? (?:instead of|rather than) "
        rf"(?P<old>{TOKEN})",
        re.I,
    ),
)
# a report of what the code does, right before "A instead of B": A is the wrong value, not the new one
REPORTED = re.compile(
    r"\b(?:returns|returned|gives|gave|prints|printed|outputs|shows|showed|says|said|produces|produced"
    r"|yields|got|gets|is|was|are|were|comes out as|came out as)\s+(?:[\w.'\"`-]+\s+){0,2}$",
    re.I,
)
NOT_VALUES = frozenset(["it", "this", "that", "them", "the", "a", "an", "one", "ones", "to", "be", "say", "use"])
MAX_LINES = 3  # more lines hold the old text than this: too vague to write the edit here


def substitutions(request: str, lines: Sequence[str]) -> list[tuple[str, str]]:
    """(old line, new line) for each line the request's "X instead of Y" would change, or []."""
    for pattern in PATTERNS:
        for found in pattern.finditer(request):
            old, new = _bare(found.group("old")), _bare(found.group("new"))
            if not old or not new or old == new or old.lower() in NOT_VALUES or new.lower() in NOT_VALUES:
                continue
            if _number(old) != _number(new):  # "25 'b's instead of 30 'a's" is no substitution of 30
                continue
            if "unit" in found.groupdict() and REPORTED.search(request[: found.start()]):
                continue  # "median returns 3 instead of 2.5": what happens, not what to write
            token = re.compile(rf"(?<![\w.]){re.escape(old)}(?![\w])(?!\.\d)")
            holding = [line for line in lines if token.search(line)]
            unit = found.groupdict().get("unit")
            if unit and len(holding) > 1:
                holding = [line for line in holding if unit.lower() in line.lower()] or holding
            if 0 < len(holding) <= MAX_LINES:
                return [(line, token.sub(new.replace("\\", "\\\\"), line)) for line in holding]
    return []


def _number(value: str) -> bool:
    return re.fullmatch(r"-?\d+(?:\.\d+)?%?", value) is not None


def _bare(value: str) -> str:
    """A token without its quotes or backticks."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "`'\"":
        return value[1:-1]
    return value


# "find the divide-by-zero error message and change it to say 'division by zero is not allowed'"
NEW_MESSAGE = re.compile(
    r"\b(?:message|error|warning|text|wording|string)\b.*?\b(?:to say|to read|to|into|so it says|so it reads)\s+"
    r"(?P<q>['\"`])(?P<new>[^'\"`\n]{3,120})(?P=q)",
    re.I | re.S,
)
# a message the code shows: a string literal given to raise, print, a warning, a log or an exit
SHOWN_LITERAL = re.compile(
    r"\b(?:raise\s+\w+|print|warn|warning|error|info|debug|exit|fail|Exception|Error)\w*\(\s*f?(?P<q>['\"])"
    r"(?P<text>[^'\"\n]{3,200})(?P=q)"
)
WORD = re.compile(r"[a-z]{3,}")
COMMON_WORDS = frozenset(["the", "and", "find", "change", "message", "error", "say", "says", "text", "make", "that"])


def message_changes(request: str, lines: Sequence[str]) -> list[tuple[str, str]]:
    """(old line, new line) of the one message the request asks to reword ("find the message about
    needing at least one person and change it to 'need at least one person to split the bill'"): the
    string literal shown by raise/print/... that shares the most words with the rest of the request.
    Asked to write such a line itself, the 0.5B rewrote the whole function around it (ch8-006)."""
    found = NEW_MESSAGE.search(request)
    if found is None:
        return []
    rest = request[: found.start("q")].lower()
    said = {w.rstrip("s") for w in WORD.findall(rest) if w not in COMMON_WORDS}
    scored = []
    for line in lines:
        shown = SHOWN_LITERAL.search(line)
        if shown is not None:
            words = {w.rstrip("s") for w in WORD.findall(shown.group("text").lower())}
            scored.append((len(words & said), line, shown))
    best = max((score for score, _, _ in scored), default=0)
    top = [(line, shown) for score, line, shown in scored if score == best]
    if best == 0 or len(top) != 1:
        return []
    line, shown = top[0]
    new = found.group("new").replace(shown.group("q"), "\\" + shown.group("q"))
    return [(line, line[: shown.start("text")] + new + line[shown.end("text") :])]
