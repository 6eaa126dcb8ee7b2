"""The lines of retrieved passages repeated next to a small model's question (assistant/keylines.py)."""

from __future__ import annotations

from assistant.context import KEY_LINES_HEAD, PASSAGES_ASK, PASSAGES_HEAD, fold_passages
from assistant.keylines import key_lines, named, passage_lines, words
from assistant.retrieval.retriever import PREAMBLE

SHUTIL = """[1] shutil.py:1450-1456 (def which)
def which(cmd, mode=os.F_OK | os.X_OK, path=None):
    \"\"\"Given a command, mode, and a PATH string, return the path which
    conforms to the given mode on the PATH, or None if there is no such file.\"\"\"

    if _access_check(cmd, mode):
        return cmd"""
NETRC = """[2] netrc.py:66-71 (class netrc)
class netrc:
    def __init__(self, file=None):
        default_netrc = file is None
        if file is None:
            file = os.path.join(os.path.expanduser("~"), ".netrc")
        self.hosts = {}"""


def test_passage_lines_are_numbered_from_the_passage_start_and_skip_blank_lines() -> None:
    lines = passage_lines(SHUTIL)
    assert lines[0] == ("shutil.py", 1450, "def which(cmd, mode=os.F_OK | os.X_OK, path=None):")
    assert [n for _, n, _ in lines] == [1450, 1451, 1452, 1454, 1455]
    assert passage_lines("no heading here\ntext") == []


def test_words_split_identifiers_and_drop_stop_words() -> None:
    assert words("What does random.choice raise for an EmptySequence?") == {"random", "choice", "raise",
                                                                           "empty", "sequence"}  # fmt: skip
    assert named("What mode does shutil.which check, and lru_cache?") == {"which", "lru_cache"}


def test_the_definition_of_the_named_function_and_the_lines_sharing_rare_words_come_first() -> None:
    got = key_lines("What mode does shutil.which check files for by default?", [SHUTIL, NETRC])
    assert got[0] == "shutil.py:1450: def which(cmd, mode=os.F_OK | os.X_OK, path=None):"
    assert len(got) == 3 and all(line.startswith("shutil.py:") for line in got)
    got = key_lines("Which file does netrc read when no file is given?", [SHUTIL, NETRC], n=2)
    assert 'netrc.py:70:             file = os.path.join(os.path.expanduser("~"), ".netrc")' not in got  # stripped
    assert any(line.startswith("netrc.py:") and "file" in line for line in got)


def test_a_question_sharing_no_word_with_the_passages_gets_no_lines() -> None:
    assert key_lines("hello there", [SHUTIL, NETRC]) == []


def test_folded_passages_put_the_key_lines_after_the_passages_and_before_the_ask() -> None:
    passages = [{"role": "system", "content": f"{PREAMBLE}\n\n{SHUTIL}"}, {"role": "system", "content": NETRC}]
    out = fold_passages(passages, [{"role": "user", "content": "What mode does shutil.which check?"}])
    text = out[0]["content"]
    assert text.startswith(PASSAGES_HEAD) and PREAMBLE not in text
    head, _, rest = text.partition(KEY_LINES_HEAD)
    assert "[2] netrc.py:66-71" in head
    assert rest.index("shutil.py:1450: def which(") < rest.index(PASSAGES_ASK)
    assert text.endswith(f"{PASSAGES_ASK}\n\nWhat mode does shutil.which check?")
    plain = fold_passages(passages, [{"role": "user", "content": "hello"}])[0]["content"]
    assert KEY_LINES_HEAD not in plain  # nothing shared: no heading over an empty list
