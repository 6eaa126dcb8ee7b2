"""What a small model is told about its tools and the workspace, and which paths a call may name.

The tool block of the system prompt (one line per tool, a few examples, the workspace's files) and
the narrowing of the built-in file tools' path arguments to what exists, for grammar-constrained
steps (assistant/steps.py).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from assistant.grammar import tool_parts
from assistant.grounding import bare_tool, names_gitignore

SKIP_DIRS = {".git", "__pycache__", "node_modules", ".venv", "venv", ".mypy_cache", ".ruff_cache", ".pytest_cache",
             ".tox", "dist", "build", ".idea", ".vscode"}  # fmt: skip


PATH_ARGUMENTS = {  # built-in files tools: which path argument names an existing file or folder
    ("read_file", "path"): "file", ("edit_file", "path"): "file", ("list_files", "path"): "dir",
    ("glob", "path"): "dir", ("grep", "path"): "any", ("run_command", "cwd"): "cwd",
    ("grep", "include"): "globs",
}  # fmt: skip
MAX_ENUM_PATHS = 1000


@lru_cache(maxsize=8)
def prompt_file(name: str) -> str:
    return (resources.files("assistant.prompts") / name).read_text(encoding="utf-8").strip()


def _signature(name: str, params: dict[str, Any]) -> str:
    props = params.get("properties") or {}
    required = set(params.get("required") or [])
    args = []
    for arg, schema in props.items():
        kind = _type_name(schema)
        mark = "" if arg in required else "?"
        args.append(f"{arg}{mark}: {kind}" if kind else f"{arg}{mark}")
    return f"{name}({', '.join(args)})"


def _type_name(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        names = [_type_name(o) for o in options if _type_name(o) != "null"]
        return " | ".join(n for n in names if n)
    kind = schema.get("type", "")
    return "/".join(kind) if isinstance(kind, list) else str(kind)


def compact_tools(tools: Sequence[dict[str, Any]]) -> str:
    """The tools as one line each (name, arguments, the first sentence of the description)."""
    lines = []
    for tool in tools:
        name, params = tool_parts(tool)
        fn = tool.get("function", tool)
        desc = " ".join(str(fn.get("description") or "").split())
        first = desc.split(". ")[0].rstrip(".")
        lines.append(f"- {_signature(name, params)}: {first}." if first else f"- {_signature(name, params)}")
    return prompt_file("tools_compact.md").format(tools="\n".join(lines))


def tool_examples(names: set[str]) -> str:
    """The few-shot examples whose calls use only offered tools (answers without a call always)."""
    blocks = prompt_file("tool_examples.md").split("\n\n")
    kept = []
    for block in blocks:
        called = re.findall(r'"name": "([^"]+)"', block)
        if all(n in names for n in called):
            kept.append(block.strip())
    return "Examples:\n" + "\n".join(kept) if kept else ""


@lru_cache(maxsize=1)
def example_calls() -> frozenset[tuple[str, str]]:
    """(tool, arguments as canonical JSON) of the calls the few-shot examples show."""
    found = set()
    for line in prompt_file("tool_examples.md").splitlines():
        start = line.find("{")
        try:
            call = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            continue
        if isinstance(call, dict) and isinstance(call.get("arguments"), dict):
            found.add((str(call.get("name")), json.dumps(call["arguments"], sort_keys=True)))
    return frozenset(found)


def workspace_overview(root: Path, limit: int = 40, visit: int = 400) -> str:
    """The workspace's files, breadth first (top level, then one folder down), at most ``limit``.

    Small models pick the right file far more often when they can see the names. Names are
    untrusted: anything but printable characters is escaped.
    """
    shown: list[str] = []
    queue: list[tuple[Path, str, int]] = [(root, "", 0)]
    seen = 0
    while queue and len(shown) < limit and seen < visit:
        folder, prefix, depth = queue.pop(0)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: (e.is_dir(follow_symlinks=False), e.name))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.name.startswith(".") or entry.name in SKIP_DIRS:
                continue
            name = prefix + _printable(entry.name)
            if entry.is_dir(follow_symlinks=False):
                if depth < 1:
                    queue.append((Path(entry.path), name + "/", depth + 1))
                else:
                    shown.append(name + "/")
            else:
                shown.append(name)
            if len(shown) >= limit:
                break
    more = " ..." if queue or len(shown) >= limit else ""
    return ", ".join(shown) + more if shown else "(empty)"


def _printable(name: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)


def workspace_paths(root: Path, limit: int = MAX_ENUM_PATHS, said: str = "") -> tuple[list[str], list[str]] | None:
    """(files, folders) of the workspace as relative paths; None when there are more than ``limit``.

    Hidden files are left out unless ``said`` (the user's request) names them: "what's in
    .gitignore" may read `.gitignore`; nothing else makes `.env` a path a call can write.
    """
    named_hidden = set(re.findall(r"(?<![\w.])\.[\w.-]+", said))
    if names_gitignore(set(re.findall(r"[a-z]+", said.lower()))):  # "ignore egg-info folders in git too"
        named_hidden.add(".gitignore")
    files: list[str] = []
    dirs: list[str] = ["."]
    for folder, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIP_DIRS)
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        dirs.extend(prefix + d for d in subdirs)
        files.extend(prefix + n for n in sorted(names) if not n.startswith(".") or n in named_hidden)
        if len(files) + len(dirs) > limit:
            return None
    return files, dirs


def narrow_paths(tools: Sequence[dict[str, Any]], paths: tuple[list[str], list[str]] | None,
                 already_read: set[str] | frozenset[str] = frozenset(),
                 said: str = "") -> list[dict[str, Any]]:  # fmt: skip
    """Tools whose path arguments may only name what exists in the workspace (for the grammar only).

    Measured on the 0.5B model: asked for "my todo list" it wrote ``todo.txt`` for ``notes/todo.txt``;
    with the existing names as the only choices it writes the real one. The loop still validates
    against the tool's own schema; a file to create (write_file) stays free. A file the
    conversation already shows is not offered to read_file again (the 0.5B re-read the file it had
    just read instead of editing it); with nothing left to read, read_file is not offered.
    A command runs in the workspace, or in a folder of it the request (``said``) asks to run in.
    """
    if paths is None:
        return list(tools)
    files, dirs = paths
    # a command runs in the workspace (the 0.5B, told to work in "the current folder (your
    # workspace)", ran the tests with cwd "your_workspace"; offered every folder, it ran
    # `python3 -m unittest discover -s tests` inside tests/ in 9 of 23 repository tasks, where
    # nothing is found), or in a folder the user names as the place to run
    # grep's file filter is a kind of file the workspace has (the 0.5B wrote "b"; nothing was found)
    globs = ["*", *sorted({"*." + f.rsplit(".", 1)[1] for f in files if "." in f.rsplit("/", 1)[-1][1:]})]
    choices = {"file": files, "dir": dirs, "any": files + dirs, "cwd": [".", *run_folders(said, dirs)], "globs": globs}
    unread = [f for f in files if f not in already_read]
    out = []
    for tool in tools:
        name, params = tool_parts(tool)
        if bare_tool(name) == "read_file" and already_read:
            if not unread:
                continue
            choices["file"] = unread
        else:
            choices["file"] = files
        props = params.get("properties") or {}
        narrowed = {
            arg: kind for (tname, arg), kind in PATH_ARGUMENTS.items() if tname == bare_tool(name) and arg in props
        }
        if not narrowed or any(not choices[k] for k in narrowed.values()):
            out.append(tool)
            continue
        new_props = {**props, **{arg: {"enum": choices[kind]} for arg, kind in narrowed.items()}}
        fn = dict(tool.get("function", tool))
        fn["parameters"] = {**params, "properties": new_props}
        out.append({"type": "function", "function": fn} if "function" in tool else fn)
    return out


def run_folders(said: str, dirs: Sequence[str]) -> list[str]:
    """The workspace's folders a request names as the place to run something: "in tests/",
    "from the docs folder", "cd scripts" (not "the test in tests/test_x.py")."""
    low = said.lower()
    place = r"\b(?:in|from|inside|within|under|cd)\s+(?:the\s+)?[`'\"]?"
    return [d for d in dirs if re.search(rf"{place}{re.escape(d.lower())}/?(?![\w./-])", low)]


def tool_prompt(tools: Sequence[dict[str, Any]], workspace: Path | None = None) -> str:
    """The tool block of the system prompt for grammar-constrained profiles."""
    names = {tool_parts(t)[0] for t in tools}
    examples = tool_examples(names)
    block = compact_tools(tools) + ("\n\n" + examples if examples else "")
    if workspace is not None:
        block += "\n\nFiles in the workspace: " + workspace_overview(workspace)
    return block
