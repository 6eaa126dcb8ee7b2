"""Project instructions: ``AGENTS.md`` and ``.assistant/instructions.md`` added to the system prompt.

Looked for in the workspace and each parent up to the repository root (the nearest folder with a
``.git``; without one, the workspace alone), outermost first, so the instructions nearest the work
come last. They are the project's text, not the user's: like the project MCP settings they count
only once the user trusts them (asked on a terminal, showing them in full with control characters
visible; "always" remembers their exact content, any change asks again; ``--yes`` never trusts;
with nobody to ask they are left out, with a note). In the request they sit in the system message,
after the system prompt, and ``/context`` counts them as their own source.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.approval import Approver

NAMES = ("AGENTS.md", ".assistant/instructions.md")
FILE_CHARS = 16_000  # a longer file goes in cut, saying so
HEAD = ("[Project instructions, from the project's own files. Follow them for work in this project, unless "
        "the user asks otherwise:]")  # fmt: skip


def repository_root(workspace: Path) -> Path | None:
    for folder in (workspace, *workspace.parents):
        if (folder / ".git").exists():
            return folder
    return None


def instruction_files(workspace: Path) -> list[Path]:
    """The instruction files that exist, from the repository root down to the workspace."""
    workspace = workspace.resolve()
    root = repository_root(workspace)
    folders = [workspace]
    if root is not None:
        folders = [workspace, *[p for p in workspace.parents if p.is_relative_to(root)]]
    found = []
    for folder in reversed(folders):
        for name in NAMES:
            path = folder / name
            if path.is_file():
                found.append(path)
    return found


@dataclass(frozen=True)
class ProjectInstructions:
    workspace: Path
    files: tuple[tuple[Path, str], ...]  # (path, exact text), outermost first

    @property
    def present(self) -> bool:
        return any(text.strip() for _, text in self.files)

    def fingerprint(self) -> str:
        """Of the exact content (and place) of every file: any change needs trust again."""
        what = json.dumps([[str(p), text] for p, text in self.files])
        return hashlib.sha256(what.encode()).hexdigest()[:32]

    def describe(self) -> str:
        """For the trust question: every file in full (the question makes control characters visible)."""
        parts = []
        for path, text in self.files:
            parts.append(f"--- {path} ({len(text.splitlines())} lines)\n{text.rstrip()}")
        return "\n".join(parts)

    def prompt_block(self) -> str:
        """What goes into the system message."""
        parts = [HEAD]
        for path, text in self.files:
            body = text.strip()
            if len(body) > FILE_CHARS:
                body = body[:FILE_CHARS] + f"\n[… {len(body) - FILE_CHARS:,} more characters of this file left out]"
            parts.append(f"## {_shown_path(path, self.workspace)}\n{body}")
        return "\n\n".join(parts)

    def names(self) -> list[str]:
        return [_shown_path(p, self.workspace) for p, _ in self.files]


def _shown_path(path: Path, workspace: Path) -> str:
    try:
        return str(path.relative_to(workspace))
    except ValueError:
        return str(path)


def read_instructions(workspace: Path) -> ProjectInstructions:
    """The instruction files of ``workspace`` (unreadable or non-UTF-8 files are skipped)."""
    files = []
    for path in instruction_files(workspace):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text.strip():
            files.append((path, text))
    return ProjectInstructions(workspace.resolve(), tuple(files))


async def trusted_instructions(approver: Approver) -> tuple[ProjectInstructions | None, str | None]:
    """The workspace's instructions if the user trusts them (asking if possible), else None;
    and a note for the user when there are some and they are left out."""
    found = read_instructions(Path(approver.workspace))
    if not found.present:
        return None, None
    if await approver.trust_instructions(found.describe(), found.fingerprint()):
        return found, None
    names = ", ".join(found.names())
    return None, (f"project instructions in {names} left out: this folder's instructions are not trusted "
                  "(`assistant tools trust --instructions` shows them and trusts them)")  # fmt: skip
