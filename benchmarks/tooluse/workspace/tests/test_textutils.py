from textutils import slugify, truncate, word_count


def test_slugify():
    assert slugify("Chez Marie, Paris") == "chez-marie-paris"


def test_word_count():
    assert word_count("two words") == 2


def test_truncate():
    assert truncate("a" * 30, 10) == "aaaaaaa..."
