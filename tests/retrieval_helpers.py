"""Small corpora and fakes for the retrieval tests."""

from __future__ import annotations

import zlib
from pathlib import Path

GUIDE = """# Widget guide

Widgets are small reusable parts of the dashboard.

## Installing widgets

Run `widgetctl install NAME` to add a widget. The widget catalogue lives at /srv/widgets.

## Removing widgets

Run `widgetctl remove NAME`. Removed widgets keep their settings for 30 days.

```sh
# not a heading: a comment inside a fence
widgetctl remove clock
```

## Colours

The default colour scheme is teal on charcoal. The accent colour can be changed in settings.toml.
"""

CODE = '''"""Tiny module."""

import os


# Greets people.
@decorator
def greet(name):
    return f"Hello {name}"


class Port:
    """The harbour port number is 4711."""

    def number(self):
        return 4711
'''

NOTES = "Meeting notes.\n\nThe zorblax budget was approved on Tuesday.\n\nNext meeting: Friday at noon.\n"


def make_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "guide.md").write_text(GUIDE)
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "port.py").write_text(CODE)
    (root / "notes.txt").write_text(NOTES)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "data.bin").write_bytes(b"\x00\x01\x02binary\x00")
    (root / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e recipe\n".encode("latin-1"))
    (root / "garbage.txt").write_bytes(bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 50)
    (root / ".hidden").mkdir(exist_ok=True)
    (root / ".hidden" / "secret.md").write_text("# hidden\n")
    return root


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page (no PDF library needed)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font_no = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        body = zlib.compress(stream)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream")
        content_no = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_no, font_no)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))  # fmt: skip
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
