"""Edits of notes, lists, settings and Makefiles, written in words after a few worked examples.

For code, a small model's edit is asked for as a whole function in a fenced block
(assistant/codewords.py). For the other files the grammar call only picks the line (the one to
change, or the one to add after), and the new text is asked for here, in a short exchange of its
own: a system line, a few worked examples as earlier turns, then the file's name, the line and the
request. Measured on Qwen2.5-Coder-0.5B, on six such edits:

* writing the new text inside the edit call's JSON: "- add --currency flag - 1000000..." for
  "mark that todo item with (luis)", ``ruff check .pytest_cache ...`` for a Makefile's lint
  target, the old line back;
* asked in words after the file ("write the new text for this line"): the line back unchanged, six
  times in six;
* with the worked examples: ``- add a --currency flag (luis)``, ``*.egg-info/``,
  ``keywords = ["tips", "bills", "restaurant"]``, three of six right, two near.

What comes back is checked before it is offered as the edit: the same line back, lines of the
example's layout ("Asked: ..."), a run of one character, or a settings file that no longer parses
change nothing. The approval diff shows the edit before it is written, as for every edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.codewords import SAMPLED_TRIES, code_block, written
from assistant.grounding import edit_text
from assistant.turntext import carried_request, last_user_text, request_text

if TYPE_CHECKING:
    from assistant.endpoint import Endpoint

MAX_TOKENS = 120  # a line or a few: what these edits write
MAX_CHARS = 400

CHANGE_SYSTEM = ("You change one line of a file as the user asks. Reply with only the new text of that line "
                 "(one or more lines), nothing else.")  # fmt: skip
ADD_SYSTEM = "You add lines to a file as the user asks. Reply with only the new lines, nothing else."
# (file, request, line, new text): kinds of change, not the benchmark's requests
CHANGE_SHOTS = (
    ("todo.txt", "mark the milk item with (anna)", "- buy milk", "- buy milk (anna)"),
    ("config.ini", "the server should listen on 8080", "port = 80", "port = 8080"),
    ("Makefile", "make test should also show coverage - coverage report after pytest", "\tpytest",
     "\tpytest\n\tcoverage report"),
    ("NEWS.md", "the 1.0 heading should say it came out on 2023-05-01", "## 1.0", "## 1.0 - 2023-05-01"),
    ("tasks.md", "put DONE in front of the backups one", "- set up backups", "- DONE set up backups"),
)  # fmt: skip
ADD_SHOTS = (
    (".gitignore", "ignore log files too", "build/", "*.log"),
    ("pyproject.toml", "the package should list its license: MIT", 'version = "1.2.0"', 'license = "MIT"'),
    ("notes.md", "I need to remember to water the plants", "- buy milk", "- water the plants"),
)
ECHO_SHARE = 0.8
VARIANT_RATIO = 0.8
ADD_WORDS = re.compile(r"\b(?:add|append|insert|another|new (?:line|entry|item)|duplicate|copy|also list)\b", re.I)
LEAD = re.compile(r"^\s*(?:(?:ok|okay|so|and|also|now|then|please|right|cool)\b[,.!]?\s+)+", re.I)
RULE = re.compile(r"^[\w.$()/-]+\s*:(?!=)", re.M)  # a Makefile target's line
LAYOUT = re.compile(r"^(?:File|Line|Asked|After the line):", re.M)
RUN = re.compile(r"(.)\1{24}")  # "1000000000000000000000000..." is no edit


def _turn(path: str, line: str, asked: str, adding: bool) -> str:
    where = "After the line" if adding else "Line"
    return f"File: {path}\n{where}: {line}\nAsked: {asked}"


def exchange(path: str, line: str, asked: str, adding: bool) -> list[dict[str, Any]]:
    """The messages that ask for the new text: system, worked examples, then this edit."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": ADD_SYSTEM if adding else CHANGE_SYSTEM}]
    for shot_path, shot_asked, shot_line, shot_new in ADD_SHOTS if adding else CHANGE_SHOTS:
        messages.append({"role": "user", "content": _turn(shot_path, shot_line, shot_asked, adding)})
        messages.append({"role": "assistant", "content": shot_new})
    messages.append({"role": "user", "content": _turn(path, line, asked, adding)})
    return messages


TRIES = ((0.0, None), SAMPLED_TRIES[0])  # (temperature, seed): greedy, then once sampled


async def worded_edit(endpoint: Endpoint, root: Path | None, messages: Sequence[dict[str, Any]], arguments: str,
                      params: dict[str, Any], adding: bool) -> str | None:  # fmt: skip
    """The edit call's arguments with the new text written in words (the line kept when ``adding``);
    None when nothing usable came back, greedy or sampled once (then no edit is made)."""
    args = json.loads(arguments)
    path, line = str(args.get("path", "")), str(args.get("old_text", ""))
    # without "ok, also": the 0.5B began the Makefile's new lines with the "ok" the request began with
    asked = LEAD.sub("", carried_request(request_text(last_user_text(messages)), messages)) or line
    text = edit_text(root, path) if root is not None else None
    for temperature, seed in TRIES:
        reply = await written(endpoint, exchange(path, line, asked, adding), params, temperature, seed, MAX_TOKENS)
        new = usable(reply, line, path, text or "", adding, asked)
        if new is not None:
            if adding and _replaces(line, new, asked):
                # "make the copyright year a range": the 0.5B wrote the line with 2024-2025 under the
                # one with 2024 (t12-021); a changed copy of the line, not asked to be added, replaces it
                adding = False
            args["new_text"] = f"{line}\n{new}" if adding else new
            return json.dumps(_after_recipe(args, text or "") if adding and _is_makefile(path) else args)
    return None


def _is_makefile(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in ("Makefile", "makefile", "GNUmakefile")


def _after_recipe(args: dict[str, Any], text: str) -> dict[str, Any]:
    """A new Makefile target goes after the whole rule it was anchored in, never between a target and
    its recipe (the 0.5B anchored "install:" on "test:", which would take over test's recipe)."""
    line, new = str(args["old_text"]), str(args["new_text"])[len(str(args["old_text"])) + 1 :]
    if not RULE.search(new):
        return args
    lines = text.splitlines()
    at = next((i for i, old in enumerate(lines) if old == line), None)
    if at is None:
        return args
    end = at
    while end + 1 < len(lines) and (lines[end + 1].startswith("\t") or (end == at and RULE.match(lines[at]))):
        end += 1
    block = "\n".join(lines[at : end + 1])
    if text.count(block) != 1:
        return args
    return {**args, "old_text": block, "new_text": f"{block}\n\n{new.strip(chr(10))}"}


def usable(reply: str, line: str, path: str, text: str, adding: bool, asked: str = "") -> str | None:
    """The new text of a reply, or None when it changes nothing or cannot be right (the request
    written back: "get git to ignore it please" became a line of .gitignore, t11-027)."""
    new = code_block(reply).strip("\n")
    if LAYOUT.search(new) or RUN.search(new) or len(new) > MAX_CHARS or not new.strip():
        return None
    if asked and _echoes(asked, new):
        return None
    if _is_makefile(path):
        new = _recipe_tabs(new, line)
    if adding:
        existing = {old.strip() for old in text.splitlines()}
        kept = [part for part in new.split("\n") if part.strip() and part.strip() not in existing]
        new = "\n".join(kept)
        if not new:
            return None
    elif new.strip() == line.strip():
        return None
    after = text.replace(line, f"{line}\n{new}" if adding else new, 1) if text else ""
    if after and not parses(path, after):
        return None
    return new


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def _echoes(asked: str, new: str) -> bool:
    """Is the new text the request written back? Nearly all its words, and next to nothing else
    ("priya was at the may meeting, add her to the list of who was there", t12-022)."""
    said, wrote = _words(asked), _words(new)
    if not said:
        return False
    return said <= wrote or (len(said & wrote) >= ECHO_SHARE * len(said) and len(wrote - said) <= 1)


def replaced_copy(arguments: str, asked: str) -> str:
    """An edit that keeps a line and adds a changed copy of it under it, when adding was not asked:
    the copy replaces the line ("make the copyright year a range": the 0.5B kept the line with 2024
    and added one with 2024-2025 under it, t12-021)."""
    try:
        args = json.loads(arguments)
        old, new = str(args["old_text"]), str(args["new_text"])
    except (ValueError, KeyError, TypeError):
        return arguments
    added = new[len(old) + 1 :] if new.startswith(old + "\n") else ""
    if "\n" in old or not _replaces(old, added, asked):
        return arguments
    return json.dumps({**args, "new_text": added})


def _replaces(line: str, new: str, asked: str) -> bool:
    """Does ``new``, written under ``line``, replace it: a changed copy of it, and adding not asked?"""
    return _variant(line, new) and not ADD_WORDS.search(asked)


def _variant(line: str, new: str) -> bool:
    """Is ``new`` one line that is ``line`` changed a little (a year made a range, a name added)?"""
    from difflib import SequenceMatcher

    old, new = line.strip(), new.strip()
    return bool(old) and "\n" not in new and old != new and SequenceMatcher(None, old, new).ratio() >= VARIANT_RATIO


def _recipe_tabs(new: str, line: str) -> str:
    """A Makefile's recipe lines start with a tab; the model's often start with spaces or nothing
    ("install:\npip install -e ."): each line under a target line, or under a recipe line, gets one."""
    out: list[str] = []
    in_rule = line.startswith("\t") or bool(RULE.match(line))
    for part in new.split("\n"):
        if RULE.match(part):
            in_rule = True
        elif part.strip() and in_rule and not part.startswith("\t") and not part.lstrip().startswith("#"):
            part = "\t" + part.lstrip()
        elif not part.strip():
            in_rule = False
        out.append(part)
    return "\n".join(out)


def parses(path: str, text: str) -> bool:
    """Does a settings file still parse after the edit (files of other kinds: True)?"""
    if path.endswith(".toml"):
        import tomllib

        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return False
    elif path.endswith(".json"):
        try:
            json.loads(text)
        except ValueError:
            return False
    return True
