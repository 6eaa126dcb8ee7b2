"""Code edits asked for in words.

A small model writing a fix inside a JSON string copies the line and appends garbage ("+ 1000000..."
in 11 of 23 repository tasks, Qwen2.5-Coder-0.5B). So the grammar call only picks *where* (the line
to change, or the line to add after), with a placeholder for the new code, and the code itself is
asked for here, in words: the whole function holding the line, in a fenced block, which replaces
the old function. A reply that is not Python, or the same code back, changes nothing.

Retrieved passages are left out of these requests: they show the code as it was, and with them in
front of it the 0.5B wrote that code back unchanged (0 of 12 repository tasks with retrieval on,
3 of the same 12 without).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.events import TextDelta
from assistant.grounding import edit_text, enclosing_definition
from assistant.turntext import asked_again, with_note

if TYPE_CHECKING:
    from assistant.endpoint import Endpoint

REWRITE_MAX_TOKENS = 600  # the new code of a rewritten function


def plain(params: dict[str, Any]) -> dict[str, Any]:
    """Request parameters without the ones each step sets itself."""
    return {k: v for k, v in params.items() if k not in ("max_tokens", "temperature", "logprobs", "top_logprobs")}


async def rewrite(
    endpoint: Endpoint, root: Path | None, messages: Sequence[dict[str, Any]], arguments: str, params: dict[str, Any]
) -> str:
    """The edit's new code, asked for in words: the line chosen, and "write the code that replaces
    it" (the 0.5B, writing a fix inside the JSON string, copied the line and appended
    "+ 1000000..." in 11 of 23 repository tasks)."""
    args = json.loads(arguments)
    old = str(args.get("old_text", ""))
    text = edit_text(root, str(args.get("path", ""))) if root is not None else None
    found = enclosing_definition(text, old) if text is not None else None
    line, again = old, asked_again(messages)
    if found is not None:  # it writes whole functions: the function holding the line is rewritten
        name, old = found
        ask = (f"{again}[Write the whole corrected function `{name}` of {args.get('path')}, to do "
               "what I asked. Reply with only that function, in one ```python block.]")  # fmt: skip
    else:
        ask = (f"{again}[Write the code that replaces this line of {args.get('path')}, to do what I asked:\n"
               f"```python\n{old}\n```\nReply with only the new code, in one ```python block.]")  # fmt: skip
    args["old_text"] = old
    code = await _changed(endpoint, messages, ask, old, params)
    if found is not None:
        code = _from_def(code, found[0])
    if found is not None and not _def_line(found[0]).search(code):
        args["old_text"] = old = line  # a reply without the function: it replaces the line alone
    if old != line and not compiles(code):
        code = old  # a function cut short or not Python: the file keeps what it had
    args["new_text"] = indented(code or old, old)
    return json.dumps(args)


async def addition(
    endpoint: Endpoint, root: Path | None, messages: Sequence[dict[str, Any]], arguments: str, params: dict[str, Any]
) -> str:
    """Code added after a line, asked for in words like a rewrite (the 0.5B, writing a new test
    inside the JSON string, ran to the token limit twice and the turn to its 300 s limit)."""
    args = json.loads(arguments)
    anchor = str(args.get("old_text", ""))
    text = edit_text(root, str(args.get("path", ""))) if root is not None else None
    last = text is not None and text.rstrip().endswith(anchor.rstrip())
    # the line is named, not shown as code: shown a block, the 0.5B wrote that line back as "the new code"
    where = "at the end of the file" if last else f"after the line `{anchor.strip()}`"
    ask = (f"{asked_again(messages)}[Write only the new code to add to {args.get('path')}, to do what I asked "
           f"(it goes {where}). Reply with only the new code, in one ```python block.]")  # fmt: skip
    code = await _changed(endpoint, messages, ask, anchor, params)
    if not code.strip() or code.strip() == anchor.strip() or not compiles(code):
        args["new_text"] = anchor  # nothing usable: the file keeps what it had
        return json.dumps(args)
    # "added" code that defines a function the file has is that function rewritten; one the file
    # imports is no addition (the 1.5B added a second display_name under the first, and one to
    # render.py, which imports it: the visible tests passed, the hidden ones did not)
    name = _only_def(code)
    if text is not None and name is not None and re.search(IMPORTED.format(re.escape(name)), text, re.M):
        args["new_text"] = anchor
        return json.dumps(args)
    if text is not None and name is not None and name.startswith("test"):
        code = _unique_test(text, code, name)  # a second test_mean would hide the first from pytest
    elif text is not None and name is not None and (again := _redefined(text, code, name)) is not None:
        args["old_text"], args["new_text"] = again
        return json.dumps(args)
    gap = "\n\n\n" if re.match(r"(?:async\s+)?(?:def|class)\s|@", code) else "\n"  # a new top-level definition
    if gap == "\n\n\n" and text is not None and (whole := _whole_definition(text, anchor)) is not None:
        # a new function goes after the one the chosen line is in, not inside it (the 0.5B chose the
        # line `def divide(...):` for "add safe_divide ... leave divide alone": divide lost its body)
        anchor = args["old_text"] = whole
    args["new_text"] = anchor + gap + code
    return json.dumps(args)


def _whole_definition(text: str, anchor: str) -> str | None:
    """The top-level definition (decorators to last body line) that the anchor is inside and does not
    end, when it is one: the text to add a new definition after."""
    at = text.find(anchor) if anchor.strip() else -1
    if at < 0:
        return None
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    last = max(i for i in range(len(lines)) if offsets[i] < at + len(anchor.rstrip("\n")) or i == 0)
    start = next((i for i in range(last, -1, -1) if re.match(r"(?:async\s+)?(?:def|class)\s", lines[i])), None)
    if start is None:
        return None
    while start > 0 and lines[start - 1].startswith("@"):
        start -= 1
    end = last + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > last + 1 and not lines[end - 1].strip():
        end -= 1
    if end <= last + 1 or offsets[start] > at:
        return None  # the anchor ends the definition already, or starts before it
    return "".join(lines[start:end]).rstrip("\n")


def _def_line(name: str) -> re.Pattern[str]:
    """A line that starts the definition of ``name`` (``match`` on one line, ``search`` in a text)."""
    return re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\b", re.M)


def _only_def(code: str) -> str | None:
    """The name of the one function ``code`` defines at its top level (None for none or several)."""
    names = re.findall(r"^(?:async\s+)?def\s+(\w+)", code, re.M)
    return names[0] if len(names) == 1 else None


def _unique_test(text: str, code: str, name: str) -> str:
    """``code`` with its test function renamed when the file already has one of that name."""
    taken = set(re.findall(r"^\s*(?:async\s+)?def\s+(\w+)", text, re.M))
    if name not in taken:
        return code
    new = next(f"{name}_{n}" for n in range(2, 1000) if f"{name}_{n}" not in taken)
    return re.sub(rf"^((?:async\s+)?def\s+){re.escape(name)}\b", rf"\g<1>{new}", code, count=1, flags=re.M)


def _redefined(text: str, code: str, name: str) -> tuple[str, str] | None:
    """(old, new): the file's definition of ``name`` and the code's, when the file has one."""
    head = _def_line(name)
    line = next((line for line in text.splitlines() if head.match(line)), None)
    found = enclosing_definition(text, line) if line is not None else None
    if found is None:
        return None
    return found[1], indented(_from_def(code, name), found[1])


IMPORTED = r"^\s*(?:from\s+\S+\s+)?import\s+[^#\n]*\b{}\b"
SAMPLED_TRIES = ((0.7, 1), (0.9, 2))  # (temperature, seed) of the tries after two greedy ones


async def _changed(endpoint: Endpoint, messages: Sequence[dict[str, Any]], ask: str, old: str,
                   params: dict[str, Any]) -> str:  # fmt: skip
    """The model's code for ``ask``, asked again while it is only ``old`` back: once more, told so
    (greedy), then sampled (the 0.5B wrote `mean` back unchanged twice at temperature 0; unchanged
    code is certainly not the change asked for, a sampled one may be)."""
    code = await written(endpoint, with_note(messages, ask, passages=False), params)
    if _body(code) != _body(old):
        return code
    again = f"{ask}\n\n[That is the code as it is now. It has to change to do what I asked.]"
    tries = [(0.0, None), *SAMPLED_TRIES]
    for temperature, seed in tries:
        retry = await written(endpoint, with_note(messages, again, passages=False), params, temperature, seed)
        if retry.strip() and _body(retry) != _body(old) and compiles(retry):
            return retry
    return code


def _body(code: str) -> list[str]:
    """The code that does the work: the lines after the first `def` (all lines when there is none),
    without blank lines or indentation. A sampled reply that only annotated the signature and
    imported `typing` (the 0.5B, at temperature 0.7) has the old body: it is no change."""
    lines = code.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if re.match(r"\s*(?:async\s+)?def\s", line)), 0)
    return [line.strip() for line in lines[start:] if line.strip()]


def _from_def(code: str, name: str) -> str:
    """The reply from the function's decorators or `def` on: what the model wrote above it (imports,
    `from typing import *`) would land where the old function was."""
    lines = code.splitlines()
    head = _def_line(name)
    at = next((i for i, line in enumerate(lines) if head.match(line)), None)
    if at is None:
        return code
    while at > 0 and lines[at - 1].lstrip().startswith("@"):
        at -= 1
    return "\n".join(lines[at:])


async def written(endpoint: Endpoint, messages: Sequence[dict[str, Any]], params: dict[str, Any],
                  temperature: float = 0.0, seed: int | None = None,
                  max_tokens: int = REWRITE_MAX_TOKENS) -> str:  # fmt: skip
    """The code block of the model's reply to ``messages`` (greedy unless told, bounded)."""
    request = {**plain(params), "max_tokens": max_tokens, "temperature": temperature}
    if seed is not None:
        request["seed"] = seed
    reply = ""
    async for event in endpoint.stream(messages, None, with_logprobs=False, **request):
        if isinstance(event, TextDelta):
            reply += event.text
    return code_block(reply)


def code_block(text: str) -> str:
    """The first fenced code block of a reply, else the reply itself, without blank edges."""
    found = re.search(r"```[\w+-]*\n(.*?)(?:```|$)", text, re.DOTALL)
    return (found.group(1) if found else text).strip("\n").rstrip()


def compiles(code: str) -> bool:
    """Is ``code`` (a function, at any indentation) valid Python?"""
    import textwrap

    try:
        compile(textwrap.dedent(code), "<edit>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def indented(code: str, old: str) -> str:
    """``code`` at the indentation of the line it replaces (a model's block often starts at column 0)."""
    lines = code.splitlines() or [""]
    indent = old[: len(old) - len(old.lstrip())]
    first = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    if len(first) >= len(indent):
        return code
    return "\n".join(indent + line[len(first) :] if line.strip() else line for line in lines)
