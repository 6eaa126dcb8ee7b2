"""Reading files safely and cutting them into chunks that respect their structure.

Everything here streams: a file is read in bounded pieces (``read_pieces``),
so a 100 MB file — even one with a single 100 MB line — is never held in
memory whole, and chunks come out as soon as they are complete.

Chunking rules (``chunk_stream``):
- Markdown: a heading starts a new chunk (unless the current one is still
  tiny, so short sections merge); fenced code is never mistaken for a heading.
  Each chunk carries its heading trail ("Install > Options").
- reStructuredText: the same, with underlined titles.
- Source code: a top-level definition (``def``, ``class``, ``function``,
  ``func``, ``fn``, ``struct``…) starts a new chunk, together with the comments
  and decorators right above it; the chunk's heading is that definition line.
- Everything else (plain text, PDF pages): paragraphs.
A chunk that grows past the target size is cut at its last blank line (or at
the current line when there is none), and the next chunk repeats the last
``overlap`` characters' worth of lines, so a passage cut in two is still found.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["markdown", "rst", "code", "text", "pdf"]

TARGET_CHARS = 800  # ≈ 200 tokens: inside all-MiniLM-L6-v2's 256-token window with the title prefix
OVERLAP_CHARS = 120
MIN_CHARS = 200  # a structural boundary cuts only once the chunk has this much
PIECE_CHARS = 8192  # longest piece of a line read at once
SNIFF_BYTES = 8192

MARKDOWN_EXT = {".md", ".markdown", ".mdx", ".mkd"}
RST_EXT = {".rst", ".rest"}
CODE_EXT = {
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".scala",
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".sh", ".bash", ".zsh", ".lua",
    ".pl", ".r", ".jl", ".ex", ".exs", ".erl", ".hs", ".ml", ".sql", ".cmake",
}  # fmt: skip
BINARY_EXT = {
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".mp3", ".mp4", ".wav", ".ogg", ".avi",
    ".mov", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar", ".whl", ".jar", ".so", ".dylib",
    ".dll", ".exe", ".o", ".a", ".pyc", ".pyo", ".class", ".bin", ".gguf", ".onnx", ".safetensors", ".pt", ".pth",
    ".npy", ".npz", ".sqlite", ".sqlite3", ".db", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".parquet", ".pkl",
}  # fmt: skip

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`*+#:.])\1{2,}\s*$")
_CODE_DEF = re.compile(
    r"^(?:async\s+def|def|class|function|func|fn|pub(?:\([a-z]+\))?\s+(?:fn|struct|enum|trait|mod)|impl|struct|enum"
    r"|trait|interface|type|module|export\s+(?:default\s+)?(?:async\s+)?(?:function|class|const|interface|type)"
    r"|public|private|protected|static|sub|local\s+function|CREATE)\b"
)
_CODE_PREAMBLE = re.compile(r"^(?:@|#|//|/\*|\*|--|;)")


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int  # 1-based, inclusive (pages for PDF)
    end_line: int
    heading: str = ""  # heading trail (Markdown, reST), definition line (code), page (PDF)


@dataclass(frozen=True)
class Sniffed:
    """What a file is: a kind and an encoding to read it with, or the reason it is skipped."""

    kind: Kind | None
    encoding: str | None = None
    skip_reason: str | None = None
    note: str | None = None  # e.g. "decoded as cp1252"


def kind_for(path: Path) -> Kind:
    ext = path.suffix.lower()
    if ext in MARKDOWN_EXT:
        return "markdown"
    if ext in RST_EXT:
        return "rst"
    if ext in CODE_EXT:
        return "code"
    if ext == ".pdf":
        return "pdf"
    return "text"


def sniff(path: Path) -> Sniffed:
    """Decide from the name and the first few KB whether and how to read a file."""
    ext = path.suffix.lower()
    if ext in BINARY_EXT:
        return Sniffed(None, skip_reason="binary")
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        return Sniffed(None, skip_reason=f"unreadable ({exc.strerror or exc})")
    if head.startswith(b"%PDF-") or ext == ".pdf":
        return Sniffed("pdf", encoding=None)
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return Sniffed(kind_for(path), enc)
    if b"\x00" in head:
        return Sniffed(None, skip_reason="binary")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return Sniffed(kind_for(path), "utf-8")
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    if text and printable / len(text) > 0.97:
        return Sniffed(kind_for(path), "cp1252", note="not UTF-8: decoded as cp1252")
    return Sniffed(None, skip_reason=f"not UTF-8 text (undecodable byte at offset {bad_at})")


def read_pieces(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text) pieces of at most PIECE_CHARS; a longer line comes in several pieces.

    Undecodable bytes later in a file that looked like UTF-8 become U+FFFD rather than stopping.
    """
    with path.open("r", encoding=encoding, errors="replace", newline=None) as fh:
        lineno = 1
        while True:
            piece = fh.readline(PIECE_CHARS)
            if not piece:
                return
            yield lineno, piece
            if piece.endswith("\n"):
                lineno += 1


def pdf_pieces(path: Path) -> Iterator[tuple[int, str]]:
    """Lines of a PDF's extracted text, numbered by page (a chunk's range is then a page range)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    for page_no, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        for line in text.splitlines():
            yield page_no, line + "\n"
        yield page_no, "\n"  # a page break is a paragraph break


class _Chunker:
    """The streaming state machine behind ``chunk_stream``."""

    def __init__(self, kind: Kind, target: int, overlap: int) -> None:
        self.kind = kind
        self.target = target
        self.overlap = overlap
        self.min = min(MIN_CHARS, target // 2)
        self.buf: list[tuple[int, str]] = []
        self.chars = 0
        self.headings: list[tuple[int, str]] = []  # markdown/rst: (level, title) stack
        self.buf_heading = ""
        self.last_def = ""  # code: the last top-level definition line seen
        self.in_fence = False
        self.rst_levels: list[str] = []

    def feed(self, lineno: int, text: str) -> Iterator[Chunk]:
        if len(text) > self.target:  # a very long line (or piece of one): its own chunks
            yield from self.flush()
            for i in range(0, len(text), self.target):
                part = text[i : i + self.target]
                if part.strip():
                    yield Chunk(part, lineno, lineno, self.trail())
            return
        hard, title = self.boundary(lineno, text)
        if self.kind == "code" and hard is not None:
            self.last_def = text.strip()[:100]
            if self.buf and self.chars < self.min:  # a tiny definition merges into the next: name it after that
                self.buf_heading = self.last_def
        if hard is not None and self.chars >= self.min:
            keep = self.buf[hard:] if hard < len(self.buf) else []
            self.buf = self.buf[:hard]
            yield from self.flush()
            self.buf = keep
            self.chars = sum(len(t) for _, t in keep)
        if title is not None:
            self.set_heading(*title)
            if self.buf and self.chars < self.min:  # a tiny section merges into the next: name it after that
                self.buf_heading = self.trail()
        if not self.buf:
            self.buf_heading = self.last_def if self.kind == "code" else self.trail()
        self.buf.append((lineno, text))
        self.chars += len(text)
        if self.chars >= self.target:
            yield from self.cut()

    def boundary(self, lineno: int, text: str) -> tuple[int | None, tuple[int, str] | None]:
        """Where a structural cut goes (index into buf) and any new heading (level, title)."""
        if self.kind == "markdown":
            if _FENCE.match(text):
                self.in_fence = not self.in_fence
                return None, None
            m = None if self.in_fence else _MD_HEADING.match(text)
            return (len(self.buf), (len(m.group(1)), m.group(2))) if m else (None, None)
        if self.kind == "rst":
            m = _RST_UNDERLINE.match(text)
            prev = self.buf[-1][1].strip() if self.buf else ""
            if m and prev and not _RST_UNDERLINE.match(prev) and len(text.strip()) >= len(prev):
                char = m.group(1)
                if char not in self.rst_levels:
                    self.rst_levels.append(char)
                return len(self.buf) - 1, (self.rst_levels.index(char) + 1, prev)
            return None, None
        if self.kind == "code" and _CODE_DEF.match(text):
            start = len(self.buf)
            while start > 0 and _CODE_PREAMBLE.match(self.buf[start - 1][1]):
                start -= 1
            return start, None
        return None, None

    def set_heading(self, level: int, title: str) -> None:
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, title.strip()))

    def trail(self) -> str:
        return " > ".join(t for _, t in self.headings)

    def cut(self) -> Iterator[Chunk]:
        """The chunk is full: cut at its last blank line (past half), else here; keep an overlap."""
        at = len(self.buf)
        acc = 0
        for i, (_, t) in enumerate(self.buf):
            acc += len(t)
            if not t.strip() and acc >= self.target // 2 and i < len(self.buf) - 1:
                at = i + 1
        emitted, rest = self.buf[:at], self.buf[at:]
        overlap: list[tuple[int, str]] = []
        size = 0
        for item in reversed(emitted[1:]):
            if size + len(item[1]) > self.overlap:
                break
            overlap.insert(0, item)
            size += len(item[1])
        self.buf = emitted
        yield from self.flush()
        self.buf = overlap + rest
        self.chars = sum(len(t) for _, t in self.buf)
        # The rest continues the definition (or section) being written: named after the last one seen.
        self.buf_heading = self.trail() if self.kind != "code" else (self.last_def or self.buf_heading)

    def flush(self) -> Iterator[Chunk]:
        lines = self.buf
        self.buf, self.chars = [], 0
        while lines and not lines[0][1].strip():
            lines = lines[1:]
        while lines and not lines[-1][1].strip():
            lines = lines[:-1]
        if lines:
            text = "".join(t for _, t in lines).strip("\n")
            heading = self.buf_heading if self.kind != "pdf" else f"page {lines[0][0]}"
            yield Chunk(text, lines[0][0], lines[-1][0], heading)


def chunk_stream(
    pieces: Iterable[tuple[int, str]], kind: Kind, *, target: int = TARGET_CHARS, overlap: int = OVERLAP_CHARS
) -> Iterator[Chunk]:
    """Chunks of a stream of (line number, text) pieces, as soon as each is complete."""
    chunker = _Chunker(kind, target, overlap)
    for lineno, text in pieces:
        yield from chunker.feed(lineno, text)
    yield from chunker.flush()


def chunk_text(text: str, kind: Kind = "text", **kwargs: int) -> list[Chunk]:
    """Chunks of an in-memory string (tests, benchmarks)."""
    pieces = ((i, line) for i, line in enumerate(text.splitlines(keepends=True), start=1))
    return list(chunk_stream(pieces, kind, **kwargs))


def file_chunks(path: Path, sniffed: Sniffed, **kwargs: int) -> Iterator[Chunk]:
    """Chunks of a file, streamed; ``sniffed`` must not be a skip."""
    assert sniffed.kind is not None
    if sniffed.kind == "pdf":
        return chunk_stream(pdf_pieces(path), "pdf", **kwargs)
    return chunk_stream(read_pieces(path, sniffed.encoding or "utf-8"), sniffed.kind, **kwargs)
