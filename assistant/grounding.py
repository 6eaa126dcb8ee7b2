"""Does a request talk about the workspace? The names it mentions, found without the model.

A small model's own probability of starting a tool call is a weak signal: measured on the
0.5B model (benchmarks/bench_tooluse.py), "Explain the clean target in my Makefile" or "What does
test_split.py check?" got a call probability near 0 although the workspace has both files. A
request that names a file, a folder or a definition of the workspace, or points at it ("here",
"this project", "it" right after a tool result), is about the workspace: the first step of such
a turn calls a tool. Everything else is left to the model's probability.

Names come from the workspace, which is untrusted: they are only compared with the user's text,
never shown or run.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_STEM = 4  # "calc" for calc.py; shorter stems ("io", "app") are too often plain words
MIN_DISTINCT = 5  # a single word of a path that names it, when no other file has it ("meeting")
MIN_SYMBOL = 5  # a definition's name, unless written as code (``name()``, ``snake_case``)
MAX_SCAN_BYTES = 256 * 1024
MAX_SCAN_FILES = 300
CODE_SUFFIXES = {".py", ".pyi", ".js", ".ts", ".go", ".rs", ".java", ".rb", ".c", ".h", ".cpp", ".sh"}
CONFIG_SUFFIXES = {".toml", ".ini", ".cfg", ".yaml", ".yml", ".env"}

# Words that a workspace may define but that say nothing about it when a user writes them.
_COMMON_WORDS = (
    "about after again all also answer before build check class clean config count data date default define "
    "description error example false file files first format function help index init input install items label "
    "last length level limit line lines list main make model name names number object order output page parse "
    "path print project python range read result return right round run script second setup shape short size "
    "sort start state string table test tests text time title total true type update user value values version "
    "width words write"
)
COMMON = frozenset(_COMMON_WORDS.split())

# The user pointing at the workspace without naming a file in it.
POINTERS = re.compile(
    r"\b(?:here(?!'s| is| are)"
    r"|in (?:this|the|my|our) (?:folder|directory|dir|repo|repository|project|workspace|codebase)"
    r"|(?:this|my|our|the) (?:project|folder|directory|repo|repository|codebase|workspace|code base)"
    r"|(?:this|my|our) (?:code|files?|tests?|script|package|app|module)|the tests?|test suite"
    r"|(?:in|anywhere in|throughout|of) the code(?:base)?|which modules?"
    r"|where (?:do|does|did) (?:we|i)|(?:in )?which files?)\b"
)
# After a tool result, an instruction about "it", "there", "that one" points at what the tool showed
# ("Make it 15", "change the currency there to GBP"); a question about it ("what does that mean?")
# is answered from what is already in the conversation.
FOLLOW_UP = re.compile(
    r"^\s*(?:now |then |please |ok,? |and )*(?:change|make|set|add|remove|delete|rename|replace|update|fix|run|"
    r"open|show|read|edit|write|put|insert|append|move|undo|revert|try|do|use|call|test|check|look)\b"
    r".*\b(?:it|its|there|that|those|these|them|ones?|this)\b"
)

DEF_PATTERNS = {
    "code": re.compile(r"^\s*(?:export\s+)?(?:async\s+)?(?:def|class|func|fn|function|struct|enum)\s+(\w+)", re.M),
    "config": re.compile(r"^\s*\[?([A-Za-z_][\w-]*)\]?\s*[=:\]]", re.M),
    "make": re.compile(r"^([A-Za-z_][\w-]*)\s*:(?!=)", re.M),
}


@dataclass(frozen=True)
class Grounding:
    """What the request mentions of the workspace; empty when nothing."""

    names: tuple[str, ...] = ()
    pointer: str = ""

    def __bool__(self) -> bool:
        return bool(self.names or self.pointer)

    def describe(self) -> str:
        parts = [", ".join(self.names[:3])] if self.names else []
        if self.pointer:
            parts.append(f'"{self.pointer}"')
        return "mentions " + " and ".join(parts) if parts else ""


class WorkspaceNames:
    """The names a request can use for a workspace's files, folders and definitions (cached per file)."""

    def __init__(self) -> None:
        self._symbols: dict[str, tuple[float, int, frozenset[str]]] = {}

    def symbols(self, root: Path, files: list[str]) -> set[str]:
        found: set[str] = set()
        scanned = 0
        for rel in files:
            kind = file_kind(rel)
            if kind is None or scanned >= MAX_SCAN_FILES:
                continue
            scanned += 1
            path = root / rel
            try:
                st = os.stat(path, follow_symlinks=False)
            except OSError:
                continue
            cached = self._symbols.get(rel)
            if cached is None or cached[:2] != (st.st_mtime, st.st_size):
                cached = (st.st_mtime, st.st_size, frozenset(_definitions(path, kind, st.st_size)))
                self._symbols[rel] = cached
            found |= cached[2]
        return found

    def defined_in(self, root: Path, files: list[str]) -> dict[str, set[str]]:
        """Definition name -> the files defining it (from the same per-file cache)."""
        self.symbols(root, files)
        where: dict[str, set[str]] = {}
        for rel in files:
            for sym in self._symbols.get(rel, (0.0, 0, frozenset()))[2]:
                where.setdefault(sym, set()).add(rel)
        return where

    def ground(self, text: str, root: Path, paths: tuple[list[str], list[str]] | None,
               after_tools: bool = False) -> Grounding:  # fmt: skip
        files, dirs = paths if paths is not None else ([], [])
        words = _words(text)
        names = _path_mentions(words, text.lower(), files, dirs)
        if not names:
            names = _symbol_mentions(text, words, self.symbols(root, files))
        pointer = ""
        if not names:
            found = POINTERS.search(text.lower())
            if found is None and after_tools:
                found = FOLLOW_UP.search(text.lower())
            pointer = found.group(0) if found else ""
        return Grounding(tuple(names), pointer)


def file_kind(rel: str) -> str | None:
    name = rel.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1].lower()
    if suffix in CODE_SUFFIXES:
        return "code"
    if suffix in CONFIG_SUFFIXES:
        return "config"
    if name in ("Makefile", "makefile", "GNUmakefile", "justfile"):
        return "make"
    return None


def _definitions(path: Path, kind: str, size: int) -> set[str]:
    if size > MAX_SCAN_BYTES:
        return set()
    data = read_regular(path, MAX_SCAN_BYTES)
    return set(DEF_PATTERNS[kind].findall(data.decode("utf-8", "replace"))) if data is not None else set()


def read_regular(path: Path, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a regular file, not through a final symlink; None for anything else.

    Never blocks on a FIFO or device, never raises: names come from an untrusted workspace.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


# spellings that name the same file ("the file that has the licence text" is LICENSE; "who owns the
# copyright on this code" too: the 0.5B read the meeting notes)
SPELLINGS = {"licence": "license", "licences": "licenses", "copyright": "license"}


def _words(text: str) -> list[str]:
    words = [w.strip(",;:!?'\"`()[]{}").rstrip(".").lower() for w in re.findall(r"[\w./\\-]+", text) if w.strip(".")]
    words = [SPELLINGS.get(w, w) for w in words]
    return [w[2:] if w.startswith("./") else w.lstrip(".") if w.startswith("..") else w for w in words]


def _path_mentions(words: list[str], lowered: str, files: list[str], dirs: list[str]) -> list[str]:
    # "what a Makefile is": after an indefinite article a name means the kind of file, not this one
    # ("a todo item" is still an item of the todo list)
    item = (["item"], ["entry"], ["task"])
    said = {w for i, w in enumerate(words) if i == 0 or words[i - 1] not in ("a", "an") or words[i + 1 : i + 2] in item}
    found: list[str] = []
    for rel in files:
        low = rel.lower()
        base = low.rsplit("/", 1)[-1]
        stem = base.split(".", 1)[0] if not base.startswith(".") else base
        stem = stem.strip("_")
        named = low in said or base in said or ("/" in low and low in lowered) or _hidden_named(base, said, lowered)
        if named or (len(stem) >= MIN_STEM and stem not in COMMON and stem in said) or _all_words_said(low, said):
            found.append(rel)
    if not found:
        found = _distinctive_word(said, files)
    for rel in dirs:
        low = rel.lower().rstrip("/")
        last = low.rsplit("/", 1)[-1]
        if low in (".", ""):
            continue
        if low + "/" in said or ("/" in low and low in said) or (last not in COMMON and last in said):
            found.append(rel + "/")
    return found


PACKAGE_METADATA = re.compile(
    r"\b(?:package|project|packaging|distribution)(?:'s)? (?:metadata|config(?:uration)?|build (?:config|settings))\b"
)
THE_CLI = re.compile(
    r"\b(?:the|our|my|this|its|their) (?:cli|command[- ]line(?: interface| module| tool)?)\b|\bcli module\b"
)


def _hidden_named(base: str, said: set[str], lowered: str) -> bool:
    """A file named by what it is: a dotfile without its dot ("the gitignore"), .gitignore as "ignore
    ... in git" (asked to "ignore egg-info folders in git too", the 0.5B read the README), the
    command-line module as "the CLI"."""
    if base in ("__main__.py", "cli.py"):  # "the CLI module" (the 0.5B read the README twice instead)
        return bool(THE_CLI.search(lowered))
    if base in ("Makefile", "makefile", "GNUmakefile"):  # "add an install target that does pip install -e ."
        return bool(re.search(r"\b(?:make )?(?:target|recipe)s?\b", lowered))
    if base in ("pyproject.toml", "setup.cfg", "setup.py"):  # "the package metadata should point at README.md"
        return bool(PACKAGE_METADATA.search(lowered))
    return base.startswith(".") and (base[1:] in said or (base == ".gitignore" and names_gitignore(said)))


def names_gitignore(words: AbstractSet[str]) -> bool:
    """Do the request's (lower-case) words name .gitignore: "the gitignore", "ignore ... in git", "keep
    ... out of git"?"""
    return "gitignore" in words or ("git" in words and bool(words & GIT_IGNORING))


GIT_IGNORING = frozenset(["ignore", "ignored", "ignores", "untracked", "out", "track", "tracking", "tracks", "tracked"])


def _distinctive_word(said: set[str], files: list[str]) -> list[str]:
    """The one file a long, uncommon word of its path names: "the last meeting" for notes/meeting-2024-05-02.md."""
    found: list[str] = []
    for word in said:
        if len(word) < MIN_DISTINCT or word in COMMON:
            continue
        hits = [rel for rel in files if word in re.findall(r"[a-z]+", rel.lower())]
        if len(hits) == 1:
            found.extend(hits)
    return found if len(found) == 1 else []


def _all_words_said(path: str, said: set[str]) -> bool:
    """Every word of a path said, two at least: "the meeting notes" for notes/meeting-2024-05-02.md."""
    words = re.findall(r"[a-z]{3,}", path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path)
    return len(set(words)) >= 2 and all(w in said or w + "s" in said for w in words)


def _symbol_mentions(text: str, words: list[str], symbols: set[str]) -> list[str]:
    said = set(words)
    found = []
    for sym in sorted(symbols):
        low = sym.lower()
        if low not in said:
            continue
        name = re.escape(sym)
        as_code = "_" in sym.strip("_") or re.search(
            rf"(?:`{name}|\b{name}\(|\b{name}\s+(?:target|recipe|task|section|setting)\b"
            # "is multiply used anywhere outside calc.py?": a name, said as what is used or called
            rf"|\b{name}\s+(?:(?:is|gets?|being|ever)\s+)?(?:used|called|defined|imported|referenced|invoked)\b)",
            text,
            re.IGNORECASE,
        )
        if as_code or (len(sym) >= MIN_SYMBOL and low not in COMMON and not _general(text, sym)):
            found.append(sym)
    return found


def _general(text: str, word: str) -> bool:
    """Is every mention of ``word`` a kind of thing, not the workspace's ("the context window of a language
    model": the 0.5B was sent to read settings.toml for its ``language`` key)?"""
    mentions = re.findall(rf"(\w+)?\s*\b{re.escape(word)}\b", text, re.IGNORECASE)
    return bool(mentions) and all(before.lower() in ("a", "an") for before in mentions)


# ---------------------------------------------------------------- edits of files the model has read

READ_RESULT = re.compile(r"\[The tool call (?:[\w-]+__)?read_file\((\{.*?\})\) returned:\]")
MAX_EDIT_LINES = 400
MAX_ADDED_CHARS = 300  # what an edit of a non-code file may add after the line it keeps
MAX_ADDED_CODE = 2000  # what an edit of code may add (a function or two)
# ``new_text`` of a rewritten line of code, in the grammar: the code itself is then asked for in words
REWRITE = "(written next)"
ADD_CODE = "(written next, after this line)"  # ``new_text`` of code added after a line, the same way
MAX_REPLACED_CHARS = 400  # what a line may become (a fixed line, or the few lines of a fix)
MAX_EDIT_BYTES = 64 * 1024


def bare_tool(name: str) -> str:
    """``files__read_file`` -> ``read_file`` (the hub prefixes names that collide)."""
    return name.split("__", 1)[1] if "__" in name else name


def read_paths(messages: Sequence[dict[str, Any]]) -> set[str]:
    """The files whose content the conversation shows (read_file calls, folded or not)."""
    raw: list[str] = []
    for message in messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str):
            raw.extend(READ_RESULT.findall(content))
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            if bare_tool(str(fn.get("name", ""))) == "read_file":
                raw.append(str(fn.get("arguments") or ""))
    return {path for path in map(path_argument, raw) if path}


def path_argument(arguments: str) -> str:
    """The normalised ``path`` of a call's JSON arguments ("" when there is none)."""
    try:
        path = json.loads(arguments).get("path")
    except (ValueError, AttributeError):
        return ""
    return normal_path(path) if isinstance(path, str) and path.strip() else ""


def normal_path(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def edit_text(root: Path, rel: str) -> str | None:
    """A workspace file's text when an edit may anchor on its lines: inside, regular, small, text."""
    try:
        base = root.resolve()
        target = (base / rel).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    if base not in target.parents:
        return None
    data = read_regular(target, MAX_EDIT_BYTES + 1)
    if data is None or len(data) > MAX_EDIT_BYTES or b"\0" in data:
        return None
    text = data.decode("utf-8", "replace")
    return text if sum(1 for line in text.splitlines() if line.strip()) <= MAX_EDIT_LINES else None


def _unique(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [line for line in dict.fromkeys(lines) if text.count(line) == 1]


def unique_lines(root: Path, rel: str) -> list[str] | None:
    """The non-blank lines that occur once in a workspace file (each a valid ``old_text``); None if unreadable."""
    text = edit_text(root, rel)
    return None if text is None else _unique(text)


# A clause the user negates asks for nothing: "Do not edit or delete the tests" is no removal (the
# 0.5B, told so in a repository task, was offered only deletions and deleted the line it had to fix,
# then a test). "Don't forget to add ..." still asks.
NEGATION = r"\b(?:do not|don't|dont|never|must not|mustn't|should not|shouldn't|no need to|without)\b(?!\s+forget)"
# (a negation that starts a clause: "Why does it never print the total?" keeps its words)
NEGATED = re.compile(
    r"(^|[.;,!?:]\s*|\b(?:and|but|please|so)\s+)(?:(?:you|we|i)\s+)?" + NEGATION + r"[^.;,!?\n]*"
    r"|\bwithout \w+ing\b[^.;,!?\n]*|\bleave\b[^.;,!?\n]*?\b(?:alone|as it is|as is|untouched|unchanged)\b",
    re.IGNORECASE,
)
TESTS_KEPT = re.compile(
    NEGATION + r"[^.;!?\n]*\b(?:edit\w*|chang\w*|modif\w*|touch\w*|delet\w*|remov\w*|rewrit\w*)\b[^.;!?\n]*\btests?\b",
    re.IGNORECASE,
)


def affirmed(text: str) -> str:
    """The request without the clauses it negates ("Fix it. Do not edit the tests." -> "Fix it.  .")."""
    return NEGATED.sub(lambda m: (m.group(1) or "") + " ", text)


def keeps_tests(text: str) -> bool:
    """Does the request forbid changing the tests ("Do not edit or delete the tests")?"""
    return bool(TESTS_KEPT.search(text))


# a list item said to go away: "that item can come off my todo list"
TAKEN_OFF = r"(?:come|be taken|be crossed|be struck)"

# an apostrophe inside a word (doesn't, it's) opens and closes nothing: "pyproject doesn't declare a
# license. add one, it's MIT" added the line "t declare a license. add one, it"
QUOTED = re.compile(r"(?<!\w)'([^'\n]{1,200})'(?!\w)|\"([^\"\n]{1,200})\"")

DOC_STARTS = ('"""', "'''", "#")  # docstring and comment lines: not where a bug is fixed


def definition_lines(text: str, symbol: str) -> list[str]:
    """The lines of a Python definition of ``symbol`` (its ``def``/``class`` line and indented body)."""
    lines = text.splitlines()
    head = re.compile(rf"^(\s*)(?:async\s+)?(?:def|class)\s+{re.escape(symbol)}\b")
    for i, line in enumerate(lines):
        found = head.match(line)
        if not found:
            continue
        indent = len(found.group(1))
        block = [line]
        for body in lines[i + 1 :]:
            if body.strip() and len(body) - len(body.lstrip()) <= indent:
                break
            block.append(body)
        return [b for b in block if b.strip()]
    return []


def enclosing_definition(text: str, line: str) -> tuple[str, str] | None:
    """(name, exact text) of the innermost ``def`` holding ``line`` (its body through its last
    indented line); None for a line outside any function."""
    lines = text.splitlines(keepends=True)
    at = next((i for i, candidate in enumerate(lines) if candidate.rstrip("\r\n") == line), None)
    if at is None:
        return None
    depth = len(line) - len(line.lstrip())
    for start in range(at, -1, -1):
        head = re.match(r"^(\s*)(?:async\s+)?def\s+(\w+)", lines[start])
        if head is None or (start != at and len(head.group(1)) >= depth):
            continue
        indent = len(head.group(1))
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        return head.group(2), "".join(lines[start:end]).rstrip("\r\n")
    return None


# ---------------------------------------------------------------- what the request still asks for

EDIT_VERBS = (
    "change|add|remove|delete|drop|get rid of|rename|replace|update|fix|patch|bump|set|cross|insert|append|edit|make"
    "|put|stick|turn|mark|tick|check off|cross off"
    "|give(?! me\\b| us\\b| it a (?:go|try|shot|spin|whirl)\\b)"
    "|correct|raise|lower|increase|decrease|uncomment|comment out|switch|swap"
    "|retitle|reword|rephrase|implement"
    "|take(?=.*\\b(?:off|out of|out)\\b)|push(?=.*\\bback\\b)"
    "|move(?=.*\\b(?:top|bottom|beginning|start|front|end|above|below|before|after|under)\\b)"
    "|alphabeti[sz]e|(?:sort|order|reorder)(?=.*\\b(?:alphabetical(?:ly)?|a-z|a to z|by name)\\b)"
)
LEAD_IN = (r"(?:(?:please|pls|plz|now|then|ok|okay|and|also|so|can you|could you|would you|i want you to"
           r"|go ahead and|go and|go)[,]?\s+)*")  # fmt: skip
EDIT_FIRST = re.compile(rf"^\s*{LEAD_IN}(?:{EDIT_VERBS})\b")
# "the first item should say 'by dish' rather than 'by item'", "truncate() should cut at 30 by default, not 20"
# "when does it round?" asks; "when split_bill gets 0 people the error should say so" wants a change
QUESTION = re.compile(
    r"\s*(?:what|which|how|why|where|who|should|does|do|is|are|can"
    r"|when\s+(?:does|do|did|is|are|was|were|will|would|should|can|could)\b)\b"
)
SHOULD_CHANGE = re.compile(
    r"\bshould (?:\w+ ){0,2}?(?:be|say|read|use|cut|default|return|print|show|split|have|take|list|run|go)\b.*"
    r"\b(?:not|rather than|instead of)\b"
    # "that item can come off my todo list", "X can go": a removal said as what may happen
    rf"|\b(?:can|could|should|may) (?:go|{TAKEN_OFF}) (?:off|out)\b"
    r"|\b(?:can|could|should) go\s*[.!]?$"
)


# "get the test suite green again please": a fix, with no edit verb
MAKE_PASS = re.compile(r"\b(?:get|make|turn)\b.{0,30}\b(?:green|passing|pass again)\b")


# "make clean - does it also get nested __pycache__ dirs?": a make target named, not the verb "make"
# (taken for an edit, the 0.5B was sent to change the README it had read)
MAKE_COMMAND = re.compile(
    r"\bmake\s+(?:clean|test|tests|lint|check|all|install|build|run|format|fmt|dist|docs|help|coverage|setup)\b"
    # the command only when what follows is no change of it: "make lint should check formatting too"
    # and "make run use --people 4" are edits of the target
    r"(?=\s*(?:$|[-,;:?.!()]|\b(?:and|then|please|pls|again|first|now|does|do|did|is|will|would|works?|passes"
    r"|fails?|failing|gives?|prints?|says?|output|with|in|on|from)\b))"
)


# A state wanted, said of a file or a definition: "pyproject should list some keywords: tips, bills",
# "truncate should raise a ValueError when width is under 4", "calc needs a clamp(value, low, high)
# helper" (the 0.5B read the file and answered with the request's own words)
# "when split_bill gets a bad number of people the error should say ...": a condition may come first
_SUBJECT = r"^\s*(?:(?:when|if|whenever)\s.{3,80}?,?\s+)?(?:the\s+|my\s+|our\s+)?[\w./()-]+(?:\s+[\w./()-]+){0,2}\s+"
STATE_WANTED = re.compile(
    _SUBJECT + r"(?:should|must|needs? to|ought to|has to)\s+(?:also\s+|now\s+|really\s+)?(?:list|have|include"
    r"|contain|raise|return|accept|check|support|print|show|say|use|read|default|take|handle|reject|skip|ignore"
    r"|cover|mention|round|allow|refuse|strip|keep|point|link|refer|declare|require|run|call|exit|warn|fail)\b"
    rf"|{_SUBJECT}(?:needs|wants|is missing|lacks|could use)\s+(?:a|an|some)\b"
)


# a list item named by what it says: "tick off the settings docs one", "the currency flag item"
# (or a heading: "in the readme, switch the licence heading to the american spelling" edits the README)
ITEM_PHRASE = re.compile(
    # (words naming it, not a place: "note it in the changelog under a new Unreleased heading" names the changelog)
    r"\bthe ((?:(?!(?:under|in|into|of|at|on|to|from|with|for|by|a|an|the|new)\b)[\w.-]+ ){1,5})"
    r"(?:one|item|entry|task|line|bullet|heading|section|title)\b",
    re.IGNORECASE,
)
# "add an action point to the notes from the may meeting: Dana to write up the settings docs": the text
# after the colon is what is added, and names no file (the 0.5B edited settings.toml too)
FILE_SAID = re.compile(r"[\w.-]*/[\w./-]*|\b[\w-]+\.(?:py|md|txt|toml|json|cfg|ini|ya?ml|rst)\b")
ADDED_AFTER_COLON = re.compile(r"^(.*\b(?:add|append|put|write|jot|note)\b[^:]*?):\s+\S", re.IGNORECASE | re.S)


def edit_said(request: str) -> str:
    """What an edit request names to open: not the text it adds ("add '- Fix percent()' under 0.3.1 in
    it"), nor the list item it means ("tick off the settings docs one" is an item of the todo list:
    the 0.5B read settings.toml)."""
    if not asks_edit(request.lower()):
        return request
    added = ADDED_AFTER_COLON.match(request)
    said = added.group(1) if added and not FILE_SAID.search(request[added.end(1) :]) else request
    return ITEM_PHRASE.sub(" the item", QUOTED.sub(" ", said))


def asks_edit(low: str) -> bool:
    """Does the (lower-case) request ask for a change of a file?"""
    if MAKE_PASS.search(low):
        return True
    low = MAKE_COMMAND.sub("maketarget", low)
    if STATE_WANTED.search(low) and not QUESTION.match(low) and not low.rstrip().endswith("?"):
        return True
    if GIT_IGNORE_ASKED.match(low):  # "ignore egg-info folders in git too", "keep my .venv out of git"
        return True
    said = bool(SHOULD_CHANGE.search(low)) and not QUESTION.match(low)  # not "what should be in a README?"
    wished = bool(HAVE_IT.search(low)) and not QUESTION.match(low)
    return bool(EDIT_FIRST.search(low) or EDIT_LATER.search(low) or said or wished or MAKE_PASS.search(low))


GIT_IGNORE_ASKED = re.compile(
    rf"\s*{LEAD_IN}(?:also\s+)?(?:ignore\b.*\bgit\b|(?:keep|leave)\b.*\bout of git\b"
    # "ruff keeps leaving its cache folder around, get git to ignore it please"
    r"|.*\b(?:get|make|have|tell|let) git (?:to )?ignore\b"
    # "stop git from tracking log files", "don't let git track *.log", "git shouldn't track the build dir"
    r"|(?:stop|don'?t|do not|never)\b.*\b(?:git\b.*\btrack|track(?:ing)?\b.*\bgit\b)"
    r"|git (?:should ?n[o']?t|must ?n[o']?t|should never) (?:be )?track)"
)
# "have it check the message text too", "and have them print the total": a change, said as a wish
HAVE_IT = re.compile(
    rf"(?:^|[,;:.!?-]\s*|\b(?:and|then|just)\s+){LEAD_IN}have (?:it|them|that|this)\s+(?:also\s+)?"
    r"(?!been\b|got\b|a\b|to\b|any\b|the\b)[a-z]+"
)
EDIT_LATER = re.compile(rf"(?:\bthen|\band|[,:;.!?]|\s[-\u2013\u2014])\s+{LEAD_IN}(?:{EDIT_VERBS})\b")
RUN_ASKED = re.compile(
    r"^\s*" + LEAD_IN + r"(?:re)?run\b|\b(?:then|and)\s+(?:re)?run\b|\bexecute\b"
    r"|\bgive it a (?:go|try|spin|whirl|shot)\b|\btry it(?: out)?\b"
)
MANY = re.compile(r"\b(?:every|each|all|both)\b")
RESULT_CALL = re.compile(r"\[The tool call ([\w-]+)\(")
EDITS = ("edit_file", "write_file")
RUNS = ("run_command", "run_python")


def turn_calls(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The tools called so far in the current turn (bare names), from folded results or tool calls."""
    names: list[str] = []
    for message in reversed(messages):
        role = message.get("role")
        if role == "user":
            content = message.get("content")
            if isinstance(content, str):
                names[:0] = [bare_tool(n) for n in RESULT_CALL.findall(content)]
            break
        for call in message.get("tool_calls") or []:
            names.insert(0, bare_tool(str((call.get("function") or {}).get("name", ""))))
    return names


TEST_ASKED = re.compile(
    r"\b(?:test|check|verify|try|run|execute)\s+(?:it|them|this|that|the code|your code|the function)\b|\brun_python\b"
)
FENCE = re.compile(r"^```(?:python|py)?[ \t]*\n(.*?)^```", re.S | re.M)
# What runs a code block "as asked": the block, then its doctests (the examples in its docstrings)
# with a failing exit code when one fails.
DOCTEST_RUN = (
    '\n\nif __name__ == "__main__":\n    import doctest, sys\n'
    "    failed, _ = doctest.testmod()\n    sys.exit(1 if failed else 0)\n"
)


def code_run_owed(request: str, called: list[str]) -> bool:
    """The request asks for the code to be tested ("Test it with run_python") and nothing ran yet."""
    return not any(c in RUNS for c in called) and bool(TEST_ASKED.search(" ".join(request.lower().split())))


def answer_code(text: str) -> str | None:
    """The last Python code block of an answer, made runnable with its doctests; None without one."""
    blocks = [b for b in FENCE.findall(text) if b.strip()]
    return blocks[-1].rstrip() + DOCTEST_RUN if blocks else None
