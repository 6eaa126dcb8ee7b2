"""The edits the grammar offers once a file is read: which lines, and what the new text may be.

Measured on the 0.5B model: asked to add a line to a file it had not read, it invented the
``old_text`` every time, and the edit failed; asked to change a value, it edited the line above;
asked to remove a todo item, it rewrote it with two new ones. So ``edit_file`` is offered with
``old_text`` limited to lines of the files read (those of the definitions a fix is about, else those
sharing a word with the request), and with the new text written here when the request spells it
out ("4 people instead of 3", "set X to V", a list item moved, a line removed), written next in
words (code: assistant/codewords.py; notes, lists, settings, Makefiles: assistant/linewords.py), or
bounded. The approval diff still shows every edit before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.grammar import KEEP_PREFIX, STARTS_WITH
from assistant.grounding import (
    ADD_CODE,
    ADDED_AFTER_COLON,
    DOC_STARTS,
    EDIT_VERBS,
    MAX_ADDED_CHARS,
    MAX_ADDED_CODE,
    MAX_REPLACED_CHARS,
    QUOTED,
    REWRITE,
    STATE_WANTED,
    TAKEN_OFF,
    _unique,
    bare_tool,
    definition_lines,
    edit_text,
    file_kind,
)
from assistant.substitute import message_changes, substitutions

ADDING = re.compile(r"\b(?:add|append|insert|put|stick)\b")
REMOVING = re.compile(r"\b(?:remove|delete|drop|strike)\b|\btake\b.*\b(?:off|out)\b")
REMOVE_ASKED = re.compile(
    r"^\s*(?:(?:please|now|then|ok|okay|and|also|so|can you|could you|would you)[,]?\s+)*"
    r"(?:remove|delete|drop|strike)\b"
    r"|(?:\bthen|\band|[,.;:])\s+(?:please\s+)?(?:remove|delete|drop|strike)\b|\btake\b.*\b(?:off|out)\b"
    rf"|\b(?:can|could|should|may) {TAKEN_OFF} off\b"
)
AT_TOP = re.compile(r"\b(?:at|to|on) the (?:very )?(?:top|beginning|start)\b|\bprepend\b|\bfirst (?:line|item)\b")
PLACED = re.compile(r"\b(?:under|after|before|above|below|top|beginning|start|between|section)\b")
REPLACING = re.compile(r"\b(?:replace|rename)\b")
AT_END = re.compile(r"\b(?:at|to|on) the (?:very )?(?:end|bottom)\b|\bappend\b")
NEW_DEFINITION = re.compile(r"\b(?:function|def|method|class|test)\b")
SET_VALUE = re.compile(
    r"\b(?:change|set|make|update|switch|turn)\b(?P<what>.{0,80}?)\bto\s+(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[\w.+:/-]+)",
    re.IGNORECASE,
)
TOGGLE = re.compile(
    r"\b(?:(?P<off>turn off|switch off|disable)|turn on|switch on|enable)\s+(?P<what>[\w. -]{1,60}?)"
    r"(?=\s+(?:in|on|for|of)\b|[.,!?]|$)",
    re.IGNORECASE,
)
CONFIG_LINE = re.compile(r"^(?P<key>\s*[A-Za-z_][\w.-]*\s*[=:]\s*)(?P<value>\S.*?)\s*$")
LIST_MARKER = re.compile(r"^(\s*)(?:([-*+])|(\d+)([.)]))\s+")


def _last_line(text: str, lines: list[str]) -> str | None:
    """The text's last non-blank line, when it is one of ``lines`` (an anchor to add after)."""
    tail = [line for line in text.splitlines() if line.strip()]
    return tail[-1] if tail and tail[-1] in lines else None


def _list_item(anchor: str, item: str, step: int = 1) -> str:
    """``item`` written as a list entry next to ``anchor``, in its style: after it ("- x" after "- y",
    "4. x" after "3. y") or, with ``step`` 0, before it ("1. x" before "1. y")."""
    marker = LIST_MARKER.match(anchor)
    if marker is None:
        return item
    indent, bullet, number, close = marker.groups()
    return f"{indent}{bullet} {item}" if bullet else f"{indent}{int(number) + step}{close} {item}"


def _set_value(request: str, lines: list[str]) -> tuple[str, str] | None:
    """(old line, new line) for "set the currency to USD" on a ``key = value`` line the request names."""
    asked = SET_VALUE.search(request)
    toggled = TOGGLE.search(request)
    if asked is not None:
        what, value = _key_words(asked.group("what")), asked.group("value").strip("'\"")
    elif toggled is not None:  # "turn off show_total", "enable show_total"
        what = _key_words(toggled.group("what"))
        value = "false" if toggled.group("off") else "true"
    else:
        return None
    hits = []
    for line in lines:
        found = CONFIG_LINE.match(line)
        if found and _key_words(found.group("key")) & what:
            hits.append((line, found))
    if len(hits) != 1:
        return None
    line, found = hits[0]
    old = found.group("value")
    # the old value's quotes are kept; a toggle writes a bare boolean
    quoted = asked is not None and old[:1] in "'\"" and old[-1:] == old[:1] and len(old) > 1
    quote = old[0] if quoted else ""
    return line, f"{found.group('key')}{quote}{value}{quote}"


DEFAULT_NAMED = re.compile(
    r"\bdefault (?:value )?(?:for |of )?(?:the )?(?P<name>[a-z_]\w*) (?:of|to|=|as|at) (?P<value>[\w.\"'-]+)"
    r"|\b(?P<name2>[a-z_]\w*) (?:should )?defaults? to (?P<value2>[\w.\"'-]+)"
)
DEFAULT_INSTEAD = re.compile(
    r"\b(?P<value>\d+(?:\.\d+)?)\b[^.;]*\bby default,? (?:not|instead of|rather than) (?P<old>\d+(?:\.\d+)?)\b"
)


def _set_default(request: str, lines: list[str]) -> tuple[str, str] | None:
    """(old line, new line) for "give truncate a default width of 12" or "truncate() should cut at 30
    by default, not 20" on the one line of code holding that default (the 0.5B rewrote the def line
    into a one-line function)."""
    low = " ".join(request.lower().split())
    named, instead = DEFAULT_NAMED.search(low), DEFAULT_INSTEAD.search(low)
    if named is not None:
        name, value = named.group("name") or named.group("name2"), named.group("value") or named.group("value2")
        holder = re.compile(rf"\b{re.escape(name)}\s*(?::\s*[^=,()]+)?=\s*(?P<old>[^,)\s]+)")
    elif instead is not None:
        value = instead.group("value")
        holder = re.compile(rf"=\s*(?P<old>{re.escape(instead.group('old'))})\b")
    else:
        return None
    hits = [(line, m) for line in lines if (m := holder.search(line))]
    if len(hits) != 1:
        return None
    line, found = hits[0]
    return line, line[: found.start("old")] + value.strip("'\"") + line[found.end("old") :]


def _key_words(text: str) -> set[str]:
    """Content words of a setting's name or its description ("tip_percent": tip, percent, tip_percent)."""
    words = _content_words(text)
    return words | _content_words(re.sub(r"[_.\-]", " ", text))


def _file_choices(rel: str, text: str, lines: list[str], request: str, symbols: frozenset[str],
                  fix: bool = False, rewrite: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """The edit arguments the grammar offers for one read file."""
    low = request.lower()
    path = {"const": rel}
    if file_kind(rel) == "config" and (setting := _set_value(request, lines)) is not None:
        return [_edit_choice(path, setting[0], {"const": setting[1]})]
    if file_kind(rel) == "code" and (default := _set_default(request, lines)) is not None:
        return [_edit_choice(path, default[0], {"const": default[1]})]
    if MOVED.search(low) and (moved := _moved_item(low, text, lines)) is not None:
        # "move the currency item to the top of my todo list": the list, reordered here (the 0.5B read
        # the list twice and changed nothing)
        return [_edit_choice(path, moved[0], {"const": moved[1]})]
    bumps = [(line, new) for line in lines if (new := bumped(line, request)) is not None and _key_said(line, low)]
    if len(bumps) == 1:
        # "bump us to 0.4.0", "make pyproject require 3.10": the one line whose key the request names,
        # its version replaced here (offered every line, the 0.5B picked `[project]`: t11-030)
        return [_edit_choice(path, bumps[0][0], {"const": bumps[0][1]})]
    if SORTED.search(low) and (ordered := _sorted_items(text)) is not None:
        # "read through my todo list and then sort it alphabetically": the list, sorted here (ch8-003)
        return [_edit_choice(path, ordered[0], {"const": ordered[1]})]
    if not ADDING.search(low) and (changes := substitutions(request, lines) or message_changes(request, lines)):
        # "4 people instead of 3", "rename `language` to `locale`": the change is written out
        return [_edit_choice(path, old, {"const": new}) for old, new in changes]
    block: list[str] = []
    for sym in sorted(symbols):
        found = definition_lines(text, sym)
        if fix:  # the 0.5B, fixing percent(), rewrote its `def` line and left the wrong `return` below it
            found = [line for line in found[1:] if not line.strip().startswith(DOC_STARTS)] or found
        block.extend(line for line in found if line in lines)
    named = _content_words(request) - _content_words(rel.replace("/", " ").replace(".", " "))
    # a version the request names is the line's own ("the 0.3.1 heading"): those lines first
    versions = set(VERSION.findall(request))
    versioned = [line for line in lines if versions & set(VERSION.findall(line))]
    relevant = block or versioned or [line for line in lines if _content_words(line) & named] or lines
    # ignoring something more in git is a line added to .gitignore ("keep my .venv folder out of git")
    adding = bool(ADDING.search(low)) or (rel.rsplit("/", 1)[-1] == ".gitignore" and not REMOVING.search(low))
    adding = adding and not MARKING.search(low)  # "put [x] in front of it": that line changes
    adding = adding or _new_setting(rel, low, lines)
    # a removal is asked, not described: "dedupe must remove repeated items; fix it" is a fix (the
    # 0.5B, offered only deletions, deleted the line it had to fix)
    removal = REMOVE_ASKED.search(low) if file_kind(rel) == "code" else REMOVING.search(low)
    if not adding and not fix and removal and not REPLACING.search(low):
        # "remove the first item", "take it off": the line goes, newline and all (the 0.5B, asked to
        # remove a todo item, rewrote it with two new ones)
        picked = _ordinal_item(low, text, lines) or relevant
        return [_edit_choice(path, _whole_line(line, text), {"const": ""}) for line in picked]
    in_quotes = QUOTED.search(request)
    quoted = (in_quotes.group(1) or in_quotes.group(2)) if in_quotes else None
    colon = ADDED_AFTER_COLON.match(request) if adding and file_kind(rel) != "code" and not quoted else None
    if colon is not None:
        # "add an action point to the notes from the may meeting: Dana to write up the settings docs":
        # the text after the colon is the line added, as if quoted (the 0.5B wrote "Write up the settings
        # docs", without "Dana to")
        quoted = request[colon.end(1) :].lstrip(": ").strip().rstrip(".") or None
        section = SECTION_ADDED.search(colon.group(1)) if rel.lower().endswith(".md") else None
        if section and quoted and (last := _last_line(text, lines)) is not None:
            # "add a short requirements section: 3.9 or newer": a heading and its text at the end (the
            # 0.5B's line was "3.9 or newer" under the usage example, t12-017)
            title = section.group(1).strip()
            body = f"{last}\n\n## {title[0].upper()}{title[1:]}\n\n{quoted[0].upper()}{quoted[1:]}."
            return [_edit_choice(path, last, {"const": body})]
    if adding and quoted and AT_TOP.search(QUOTED.sub(" ", low)):
        # "put 'ship 0.4' at the very top of my todo list": before the first line, in its style
        unique = set(lines)
        first = next((line for line in text.splitlines() if line in unique), None)
        if first is not None:
            item = _list_item(first, quoted, step=0)
            return [_edit_choice(path, first, {"const": item + "\n" + first})]
    at_end = AT_END.search(low) or (quoted and not PLACED.search(QUOTED.sub(" ", low)))
    # a note, a list or an ignore file gains a line at its end unless a place is said (offered every
    # line, the 0.5B anchored ".venv" on `__pycache__/` and wrote that line back)
    at_end = at_end or (file_kind(rel) is None and not PLACED.search(QUOTED.sub(" ", low)))
    if adding and (at_end or (file_kind(rel) == "code" and NEW_DEFINITION.search(low))):
        relevant = [_last_line(text, lines) or relevant[-1]]
    if not adding and file_kind(rel) == "code":
        # a line of code rewritten keeps its indentation, and is bounded: the 0.5B's fixes started one
        # space short and ran on ("       100000...") until cut
        by_indent: dict[str, list[str]] = {}
        for line in relevant:
            by_indent.setdefault(line[: len(line) - len(line.lstrip())], []).append(line)
        if rewrite:  # the new code is written next, in words (assistant/steps.py)
            return [_edit_choice(path, {"enum": relevant}, {"const": REWRITE})]
        return [_edit_choice(path, {"enum": same}, {"type": "string", "maxLength": MAX_REPLACED_CHARS,
                                                    **({STARTS_WITH: indent} if indent else {})})
                for indent, same in by_indent.items()]  # fmt: skip
    if not adding and rewrite:  # the new text is written next, in words (assistant/linewords.py)
        return [_edit_choice(path, {"enum": relevant}, {"const": REWRITE})]
    if not adding:  # a line rewritten: bounded
        return [_edit_choice(path, {"enum": relevant}, {"type": "string", "maxLength": MAX_REPLACED_CHARS})]
    if rewrite and file_kind(rel) == "code":
        # the code added is written next, in words; quoted text in a request about code is an
        # example ("a slugify test whose input has a number, like 'Table 12'"), not the line to add
        return [_edit_choice(path, {"enum": relevant}, {"const": ADD_CODE})]
    if quoted and len(relevant) == 1:  # "add 'release 0.4'": the user wrote the text
        line = relevant[0]
        return [_edit_choice(path, line, {"const": line + "\n" + _list_item(line, quoted)})]
    if rewrite:  # the lines added are written next, in words (assistant/linewords.py)
        return [_edit_choice(path, {"enum": relevant}, {"const": ADD_CODE})]
    # what a note or a setting gains is a line or two: bounded, so that a small model cannot write on
    # for minutes (the 0.5B, adding to a todo list, hit the 240 s turn limit three times)
    bound = {"maxLength": MAX_ADDED_CODE if file_kind(rel) == "code" else MAX_ADDED_CHARS}
    return [_edit_choice(path, line, {"type": "string", KEEP_PREFIX: line, **bound}) for line in relevant]


SECTION_ADDED = re.compile(
    r"\b(?:a|an|the)\s+(?:(?:short|brief|small|new|little)\s+)?([a-z][\w -]{1,30}?)\s+(?:section|heading)\b", re.I
)
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
ORDINAL_ITEM = re.compile(r"\b(first|second|third|fourth|fifth|last) (?:item|line|entry|thing|task|one|point)\b")


def _ordinal_item(low: str, text: str, lines: list[str]) -> list[str]:
    """The list item an ordinal names ("the first item"), in the file's order."""
    found = ORDINAL_ITEM.search(low)
    if found is None:
        return []
    unique = set(lines)
    items = [line for line in text.splitlines() if line in unique and LIST_MARKER.match(line)]
    index = ORDINALS[found.group(1)]
    return [items[index]] if -len(items) <= index < len(items) else []


def _new_setting(rel: str, low: str, lines: list[str]) -> bool:
    """Does a change of a settings file name no key it has ("the package metadata should point at
    README.md as its readme": a `readme` key added, not a line rewritten)?"""
    if file_kind(rel) != "config" or REMOVING.search(low) or not STATE_WANTED.search(low):
        return False
    keys = [line.split("=", 1)[0] for line in lines if "=" in line and not line.lstrip().startswith("#")]
    said = _content_words(low)
    return bool(keys) and not any(_key_words(key) & said for key in keys)


VERSION = re.compile(r"(?<![\w.])\d+\.\d+(?:\.\d+)*(?![\w.]*\w)")


def bumped(line: str, request: str) -> str | None:
    """The line with its one version replaced by the one new version the request gives ("bump us to
    0.4.0": `version = "0.3.1"` -> `version = "0.4.0"`; a version the line has, said too, is the old
    one), or None. Asked to write such a line, the 0.5B wrote nothing usable, and no edit was made
    (t11-030)."""
    there = VERSION.findall(line)
    said = set(VERSION.findall(request)) - set(there)  # "we're dropping python 3.9 - require 3.10"
    if len(said) != 1 or len(there) != 1:
        return None
    return line.replace(there[0], said.pop(), 1)


def _key_said(line: str, low: str) -> bool:
    """Does the request name the setting's key ("version", "require(s)") of a `key = value` line?"""
    key = re.split(r"[=:]", line, maxsplit=1)[0] if re.search(r"[=:]", line) else ""
    words = {w.rstrip("s") for w in re.findall(r"[a-z]{3,}", key.lower())}
    return bool(words & {w.rstrip("s") for w in re.findall(r"[a-z]{3,}", low)})


# text put on a line that is there: "tick off the settings docs one - put [x] in front of it"
MARKING = re.compile(
    r"\b(?:put|add|write|stick|prepend|append)\b.{0,40}?\b(?:in front of|before|after|next to|at the (?:start|end) of)"
    r" (?:it|that|this|them|the (?:item|line|entry|one|heading|title))\b"
    # "put a (done) after the call mum item": a mark put on an item its words name (not "add a reminder
    # after the a item", a new line)
    r"|\b(?:put|add|write|stick|prepend|append)\s+(?!(?:a|an|another|one more|the)\s+(?:new\s+)?"
    r"(?:reminder|item|line|task|entry|note|todo|bullet|point)s?\b).{1,30}?\b(?:in front of|before|after|next to)"
    r" the (?:[\w'()-]+ ){1,5}?(?:item|entry|one|bullet|task)\b"
    # "put the release date 2024-04-20 on the 0.3.1 heading"
    r"|\b(?:put|add|write)\b.{0,40}?\bon (?:the|that|this) (?:[\w.-]+ ){0,3}(?:heading|title|line|item|entry)\b"
)
SORTED = re.compile(r"\balphabeti[sz]e|\b(?:sort|order|reorder)\b.*\b(?:alphabetical(?:ly)?|a-z|a to z|by name)\b")
MOVED = re.compile(r"\b(?:move|bump)\b.*\b(?:to|at) the (?:very )?(top|beginning|start|front|bottom|end)\b")


def _moved_item(low: str, text: str, lines: list[str]) -> tuple[str, str] | None:
    """(old, new) of a list item moved to its list's top or bottom: the item most words of the request
    name (one, among the list's items), the lines between it and the list's edge moved past it."""
    where = MOVED.search(low)
    all_lines = text.splitlines()
    unique = set(lines)
    items = [i for i, line in enumerate(all_lines) if line in unique and LIST_MARKER.match(line)]
    if where is None or len(items) < 2:
        return None
    said = _content_words(low)
    scores = [len(_content_words(all_lines[i]) & said) for i in items]
    best = max(scores)
    if best == 0 or scores.count(best) != 1:
        return None
    at = items[scores.index(best)]
    to_top = where.group(1) in ("top", "beginning", "start", "front")
    run = [i for i in items if (i <= at if to_top else i >= at)]
    if run != list(range(run[0], run[-1] + 1)) or len(run) < 2:  # items not side by side, or already there
        return None
    block = all_lines[run[0] : run[-1] + 1]
    item = all_lines[at]
    rest = [line for line in block if line != item]
    moved = [item, *rest] if to_top else [*rest, item]
    return "\n".join(block), "\n".join(moved)


def _sorted_items(text: str) -> tuple[str, str] | None:
    """(old, new) of the file's longest run of list items, sorted by their words (case aside), or None
    when there is none or it is sorted already."""
    all_lines = text.splitlines()
    best: list[int] = []
    run: list[int] = []
    for i, line in enumerate(all_lines):
        if LIST_MARKER.match(line) and (not run or i == run[-1] + 1):
            run.append(i)
        else:
            run = [i] if LIST_MARKER.match(line) else []
        if len(run) > len(best):
            best = list(run)
    if len(best) < 2:
        return None
    block = [all_lines[i] for i in best]
    ordered = sorted(block, key=lambda line: LIST_MARKER.sub("", line).strip().lower())
    old = "\n".join(block)
    return (old, "\n".join(ordered)) if ordered != block and text.count(old) == 1 else None


def _whole_line(line: str, text: str) -> str:
    """The line with its newline, so that removing it leaves no empty line."""
    return line + "\n" if text.count(line + "\n") == 1 else "\n" + line


def _edit_choice(path: dict[str, Any], old: str | dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["path", "old_text", "new_text"],
            "properties": {"path": path, "old_text": old if isinstance(old, dict) else {"const": old},
                           "new_text": new}}  # fmt: skip


def constrain_edits(tools: Sequence[dict[str, Any]], root: Path, read: set[str], request: str = "",
                    symbols: frozenset[str] = frozenset(), only: Sequence[str] = (),
                    fix: bool = False, rewrite: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """``edit_file`` limited to files the model has read, ``old_text`` to one of their lines (for the grammar).

    Measured on the 0.5B model: asked to add a line to a file it had not read, it invented the
    ``old_text`` every time, and the edit failed. Limited to real lines, every edit applies; the
    approval diff still shows it before anything is written. Among the lines, those of a definition
    the fix is about (``symbols``), else those sharing a word with the request, are the choices
    (asked to change the currency, the 0.5B edited ``tip_percent`` on the line above). Asked to
    *add*, the line chosen is kept and the new text follows it (the 0.5B replaced the line it
    anchored on); text the user quoted is the text added; "set X to V" on a settings line is that
    change. ``only``: the files the edit may touch (those the request names), when given; ``fix``:
    only the body of the definitions is offered.
    """
    choices: list[dict[str, Any]] = []
    for rel in sorted(read):
        if only and rel not in only:
            continue
        text = edit_text(root, rel)
        lines = _unique(text) if text is not None else []
        if text is None or not lines:
            continue
        choices.extend(_file_choices(rel, text, lines, request, symbols, fix, rewrite))
    if not choices:
        return list(tools)
    out = []
    for tool in tools:
        fn = tool.get("function", tool)
        if bare_tool(str(fn.get("name", ""))) != "edit_file":
            out.append(tool)
            continue
        fn = {**fn, "parameters": {"anyOf": choices}}
        out.append({"type": "function", "function": fn} if "function" in tool else fn)
    return out


_FILLER_WORDS = (
    "the and for with from into onto this that these those my our your its please can you could would then now "
    "also end top bottom new item items line lines list file files value instead"
)
_FILLER = frozenset(_FILLER_WORDS.split())


def _content_words(text: str) -> set[str]:
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]+", text)}
    return {w for w in words if len(w) >= 3 and w not in _FILLER and not re.fullmatch(EDIT_VERBS, w)}
