"""Small text helpers for receipts."""


def slugify(text: str) -> str:
    """'Chez Marie, Paris' -> 'chez-marie-paris'."""
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words)


def word_count(text: str) -> int:
    return len(text.split())


def truncate(text: str, width: int = 20) -> str:
    if len(text) <= width:
        return text
    return text[: width - 3] + "..."
