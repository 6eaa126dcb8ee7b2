"""The text of the conversation's messages, as the step rules read it.

Small models see tool results folded into the user's turn (after ANSWER_NOTE) and retrieved
passages before the question (before PASSAGES_ASK); the user's own words are what is left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from assistant.context import PASSAGES_ASK
from assistant.conversation import ANSWER_NOTE
from assistant.grounding import EDITS, affirmed, bare_tool


def with_note(messages: Sequence[dict[str, Any]], note: str, *, passages: bool = True) -> list[dict[str, Any]]:
    """The messages with ``note`` after the last user message's text (a copy); ``passages=False``
    also drops the retrieved passages folded into user messages."""
    out = [dict(m) for m in messages]
    if not passages:
        for m in out:
            if m.get("role") == "user" and PASSAGES_ASK in user_text(m):
                m["content"] = user_text(m).split(PASSAGES_ASK, 1)[1].lstrip()
    if out and out[-1].get("role") == "user":
        out[-1]["content"] = f"{user_text(out[-1])}\n\n{note}"
    return out


def asked_again(messages: Sequence[dict[str, Any]]) -> str:
    """The request again, for the end of a step's prompt (small models answer the last thing they
    read: with a file's code between the request and the ask, the 0.5B wrote the code back unchanged
    for "make mean() of an empty list return 0.0")."""
    said = request_text(last_user_text(messages))
    return f"[What I asked: {said[:600]}]\n" if said else ""


def request_text(content: str) -> str:
    """The user's own words in a (folded) user message: no passages before it, no tool results after,
    no clause the user negates (see ``said_text`` for those kept)."""
    return affirmed(said_text(content)).strip()


def said_text(content: str) -> str:
    """The user's words in a (folded) user message as typed, negated clauses included ("Do not edit
    or delete the tests"): no passages before them, no tool results after."""
    content = content.split(ANSWER_NOTE, 1)[0]
    if PASSAGES_ASK in content:
        content = content.split(PASSAGES_ASK, 1)[1]
    return content


def last_user_text(messages: Sequence[dict[str, Any]]) -> str:
    """The text of the conversation's last user message ("" when there is none)."""
    return next((user_text(m) for m in reversed(messages) if m.get("role") == "user"), "")


def user_text(message: dict[str, Any]) -> str:
    """The text of a user message (content parts joined)."""
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def previous_request(messages: Sequence[dict[str, Any]]) -> str:
    """The user's request of the turn before this one ("" when there is none)."""
    users = [m for m in messages if m.get("role") == "user"]
    return request_text(user_text(users[-2]).split(ANSWER_NOTE, 1)[0]) if len(users) >= 2 else ""


# "go ahead and do it" after "how would I run the tests?": the previous request, as one to act on
DO_IT = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|yes|yeah|yep|sure|great|cool|thanks|please)[,!.]?\s+)*"
    r"(?:go ahead|do it|do that|do so|go for it|please do|yes please|make it so)"
    r"(?:\s+(?:and|then)\s+(?:do it|do that|run (?:it|them)))?(?:\s+(?:now|then|please|for me))?\s*[.!]*\s*$"
)
ASKED_HOW = re.compile(
    r"^\s*(?:how (?:would|do|can|should|could) (?:i|we|you)|can you|could you|would you|should i|should we)\s+"
)


def carried_request(request: str, messages: Sequence[dict[str, Any]]) -> str:
    """The request to act on: for "go ahead and do it" the previous request, without its "how would
    I" (the 0.5B, told to go ahead after asking how to run the tests, read a test file); else itself."""
    previous = previous_request(messages) if DO_IT.match(request.lower()) else ""
    return ASKED_HOW.sub("", previous.lower()).rstrip("? ") if previous else request


def after_tools(messages: Sequence[dict[str, Any]]) -> bool:
    """Did the previous turn use a tool? (Then "it" and "there" point at what it showed.)"""
    for message in reversed(messages[:-1]):
        if message.get("role") == "user":
            return ANSWER_NOTE in user_text(message)  # small models see results folded into the user's turn
        if message.get("role") == "tool" or message.get("tool_calls"):
            return True
    return False


PASSAGE_SOURCE = re.compile(r"^\[\d+\] (\S+?):\d+(?:-\d+)?\b", re.M)


def passage_files(content: str) -> set[str]:
    """The files of the retrieved passages folded into a user message ("[1] textwrap.py:386-396 ...")."""
    if PASSAGES_ASK not in content:
        return set()
    return {path.removeprefix("./") for path in PASSAGE_SOURCE.findall(content.split(PASSAGES_ASK, 1)[0])}


RESULT_HEAD = re.compile(r"\n\n\[The tool call ([\w.-]+)\((.*?)\) returned:\]\n", re.S)
QUESTION_ASKED = re.compile(
    r"^\s*(?:what|what's|whats|which|how|why|where|when|who|whose|is|are|was|were|does|do|did|can|could|should"
    r"|will|would|has|have|any|anything|anywhere)\b|.*\?\s*$",
    re.S,
)
# "hey what does add give back for 2 and 3": a greeting or lead-in before the question
QUESTION_LEAD = re.compile(
    r"^\s*(?:(?:hey|hi|hello|ok|okay|so|um|uh|oh|ah|btw|right|cool|and|also|sorry|quick (?:one|question)"
    r"|one more thing|another (?:one|question))\b[\s,.!:;-]*)+"
)


def asks_question(said: str) -> bool:
    """Is the (user's) request a question: starts with a question word after any lead-in, or ends in "?"."""
    low = said.lower()
    return bool(QUESTION_ASKED.match(QUESTION_LEAD.sub("", low)))


NOTHING_FOUND = re.compile(r"no (?:files match|matches for) '.*'\Z", re.S)
NOTHING_MATCHED = "Nothing matched: no such file or text exists in the project. "
ANSWER_LAST = "From the results above, answer in one or two sentences: "
CHANGE_TOLD = "The change above is made. In one sentence, tell me what changed."
CHANGE_AND_RESULTS_TOLD = (
    "The change above is made. In one or two sentences, tell me what changed and what the last result shows."
)


def results_first(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer step's messages for a small model (a copy): the last user message laid out as this
    turn's results, each under a plain label ("[Contents of calc.py:]"), then the ask with the request
    last. In the folded layout (request, results, the request again) the 0.5B began 10 of 40 answers
    with the fold's own words ("The tool call read_file({...}) returned: ...") or the request itself."""
    out = [dict(m) for m in messages]
    content = user_text(out[-1]) if out and out[-1].get("role") == "user" else ""
    head, folded, rest = content.partition(ANSWER_NOTE)
    parts = RESULT_HEAD.split("\n\n" + rest.lstrip("\n")) if folded else []
    said = said_text(head).strip()
    if len(parts) < 4 or not said:
        return out
    names = [bare_tool(n) for n in parts[1::3]]
    changed = any(n in EDITS for n in names)
    if not changed and not asks_question(said):
        # an instruction ("Read the file notes.txt and tell me the secret word in it") keeps the folded
        # layout: with it last, after its results, the 0.5B wrote the instruction back
        return out
    if names[-1] in EDITS:
        # after a change, asked to answer the request, the 0.5B wrote the request back ("truncate should
        # raise a ValueError when width is under 4."); asked what changed, it says what changed
        ask = f"My request was: {said}\n{CHANGE_TOLD}"
    elif changed:
        ask = f"My request was: {said}\n{CHANGE_AND_RESULTS_TOLD}"
    elif all(NOTHING_FOUND.match(body.strip()) for body in parts[3::3]):
        # every search found nothing: said plainly first (asked "is there a setup.cfg anywhere?" after
        # a glob that matched no file, the 0.5B answered "yes")
        ask = NOTHING_MATCHED + ANSWER_LAST + said
    else:
        ask = ANSWER_LAST + said
    passages = head.split(PASSAGES_ASK, 1)[0] + PASSAGES_ASK + "\n\n" if PASSAGES_ASK in head else ""
    blocks = [
        f"{result_label(n, a)}\n{body.strip()}"
        for n, a, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True)
    ]
    out[-1]["content"] = passages + "\n\n".join(blocks) + "\n\n" + ask
    return out


def result_label(name: str, arguments: str) -> str:
    """A tool result's label in words ("[Contents of calc.py:]", "[Output of `make test`:]")."""
    try:
        args = json.loads(arguments)
    except ValueError:
        args = {}
    args = args if isinstance(args, dict) else {}
    bare = bare_tool(name)
    path, pattern = str(args.get("path") or "."), str(args.get("pattern") or "")
    label = {
        "read_file": f"Contents of {path}", "list_files": f"Files in {path}",
        "grep": f"Lines matching {pattern!r}", "glob": f"Files matching {pattern!r}",
        "run_command": f"Output of `{args.get('command', '')}`", "run_python": "Output of the Python code",
        "edit_file": f"Result of the change to {path}", "write_file": f"Result of writing {path}",
    }.get(bare, f"Result of {bare}")  # fmt: skip
    return f"[{label}:]"
