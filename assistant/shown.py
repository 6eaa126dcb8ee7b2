"""Files shown as read: a request that only asks to see a file (or a folder's listing) is answered
with the file (or the listing) itself.

Asked "show me calc.py", a small model retold the file instead of showing it: it copied the call
it had made ("The tool call read_file({...}) returned: ..."), summarised, or rewrote lines, and
writing a 60-line file back token by token took the 0.5B longer than the rest of the turn. The
file's text is already here, exactly: the answer is that text in a fenced block, with its path.
Only a file read whole in this turn, whose text is still the file's text (not changed since,
not cut short), is shown; anything else is answered by the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.followup import turn_results
from assistant.grounding import LEAD_IN, edit_text, normal_path

GREETING = r"(?:(?:hey|hi|hello|ok|okay|so|um|yo)[,!]?\s+)?"
ASKED_LOOSELY = r"(?:(?:can|could|would) (?:you|u) (?:please |pls )?)?"
SHOW_VERB = (
    r"(?:show|print|display|cat|open|dump|pull up|bring up|give)(?: me| us)?(?: (?:please|pls))?"
    r"|(?:let me|can i|could i|i want to|i'd like to) (?:see|look at|have a look at)"
)
SHOW_CLAUSE = re.compile(rf"^{GREETING}{ASKED_LOOSELY}{LEAD_IN}(?:{SHOW_VERB})\b(?P<rest>.*)$")
# What the rest of a show clause may not ask: an explanation, a part of a file, a change, a run.
NOT_JUST_SHOWN = re.compile(
    r"\b(?:explain|why|how|does|do|did|summar\w*|describe|tell|differen\w*|compare|check|function|method|class|"
    r"def|lines?|where|which|output|result|error|log|diff|changes?|run|test suite|and|then|but|if|"
    r"fail\w*|broken|bug|problem|usage|example)\b"
    r"|\btests?\b(?! files?\b)"  # one test is a part of a file ("show me the test for it")
    r"|\?.+"
)
# Earlier clauses that only find the file the show clause then names ("track it down and show me that file")
FIND_CLAUSE = re.compile(r"\b(?:find|track (?:it |them )?down|locate|look up|where|which file)\b")
CLAUSES = re.compile(r"\s*(?:[,;]|\s-+\s|\s–\s|\band then\b|\bthen\b|\band\b)\s*")
MAX_REST_WORDS = 8
PLACE = r"(?: (?:in|of|under|inside|at) (?:the |this |my |our )?[\w./ -]{1,40}?)?(?: (?:please|pls|here))?"
NOT_JUST_LISTED = re.compile(
    r"\b(?:and|then|but|if|explain|why|how|summar\w*|describe|tell|compare|import\w*|use[sd]?|"
    r"call\w*|defin\w*|contain\w*|mention\w*|function\w*|class\w*|test files)\b"
)
LIST_ASKED = re.compile(
    rf"^{GREETING}{ASKED_LOOSELY}{LEAD_IN}(?:"
    rf"(?:list|ls)(?: (?:all |the )?(?:files|contents|everything))?(?: (?:the )?[\w./-]{{1,40}}"
    rf"(?: folder| directory| dir)?)?{PLACE}"
    rf"|(?:show|give)(?: me| us)? (?:the |a )?(?:list of (?:the )?)?(?:files|file list|listing|contents|project "
    rf"structure|structure|layout|tree){PLACE}"
    rf"|(?:what|which) files (?:are|do we have|are there|exist|live)(?: there)?{PLACE}"
    rf")$"
)
LANGUAGES = {
    ".py": "python", ".md": "markdown", ".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
    ".sh": "bash", ".js": "javascript", ".ts": "typescript", ".rs": "rust", ".go": "go", ".c": "c", ".h": "c",
    ".cfg": "ini", ".ini": "ini", ".html": "html", ".css": "css", ".sql": "sql", ".txt": "text",
}  # fmt: skip


def asks_to_see(request: str) -> bool:
    """Does the request only ask to see a file (after, at most, finding it)?"""
    low = " ".join(request.lower().split()).rstrip(" .!")
    clauses = [c for c in CLAUSES.split(low) if c]
    if not clauses:
        return False
    match = SHOW_CLAUSE.match(clauses[-1])
    if match is None or not all(FIND_CLAUSE.search(c) for c in clauses[:-1]):
        return False
    rest = match.group("rest").strip(" ?")
    return len(rest.split()) <= MAX_REST_WORDS and not NOT_JUST_SHOWN.search(rest)


def asks_for_listing(request: str) -> bool:
    """Does the request only ask which files a folder holds ("list the files in tests")?"""
    low = " ".join(request.lower().split()).rstrip(" .!?")
    return bool(LIST_ASKED.match(low)) and not NOT_JUST_LISTED.search(low)


def shown_listing(request: str, messages: Sequence[dict[str, Any]], root: Path | None) -> str | None:
    """The answer to a request that only asks for a listing: each folder listed in this turn, as
    listed, when every entry names what is there. None when the model should answer instead."""
    if root is None or not asks_for_listing(request):
        return None
    blocks: list[str] = []
    for result in turn_results(messages):
        if result.name != "list_files":
            return None  # more than a listing happened: the model says what it found
        folder = normal_path(str(result.arguments.get("path", ".")))
        entries = [e for e in result.content.splitlines() if e and not e.startswith("[")]
        base = root / folder
        if not entries or not all(_there(base, e) for e in entries):
            return None  # an error, or not this folder's entries
        label = f"`{folder}/`" if folder else "The workspace"
        blocks.append(f"{label}:\n\n{fenced(result.content, '')}")
    return "\n\n".join(blocks) if blocks else None


def _there(base: Path, entry: str) -> bool:
    name = entry.split(" (", 1)[0].rstrip("/")
    if not name or "/" in name or name in (".", ".."):
        return False
    try:
        return (base / name).is_symlink() or (base / name).exists()
    except OSError:
        return False


def shown_files(request: str, messages: Sequence[dict[str, Any]], root: Path | None) -> str | None:
    """The answer to a request that only asks to see files: each file read whole in this turn, as
    it is now, in a fenced block under its path. None when the model should answer instead."""
    if root is None or not asks_to_see(request):
        return None
    blocks: list[str] = []
    seen: set[str] = set()
    for result in turn_results(messages):
        path = normal_path(str(result.arguments.get("path", "")))
        if result.name != "read_file" or not path or path in seen:
            continue
        if set(result.arguments) - {"path"}:
            return None  # a range of lines: the model says what they are
        text = edit_text(root, path)
        if text is None or text.rstrip("\n") != result.content.rstrip("\n"):
            return None  # changed since it was read, cut short, or not a readable file
        seen.add(path)
        blocks.append(f"`{path}`:\n\n{fenced(text, language(path))}")
    return "\n\n".join(blocks) if blocks else None


def fenced(text: str, lang: str) -> str:
    """``text`` in a Markdown code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


def language(path: str) -> str:
    """The fence's language tag for a file."""
    name = Path(path).name
    if name in ("Makefile", "makefile", "GNUmakefile"):
        return "make"
    return LANGUAGES.get(Path(path).suffix.lower(), "")
