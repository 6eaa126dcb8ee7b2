"""Retrieved passages cut to the definition the question names (assistant/retrieval/focus.py)."""

from __future__ import annotations

from assistant.context import PASSAGES_HEAD, fold_passages
from assistant.retrieval.focus import focus, named

CHUNK = """[1] random.py:360-375 (class Random(_random.Random):)
        return self.randrange(a, b+1)

    ## -------------------- sequence methods  -------------------

    # picks one
    def choice(self, seq):
        \"\"\"Choose a random element from a non-empty sequence.\"\"\"
        if not len(seq):
            raise IndexError('Cannot choose from an empty sequence')
        return seq[self._randbelow(len(seq))]

    def shuffle(self, x):
        \"\"\"Shuffle list x in place, and return None.\"\"\"
        randbelow = self._randbelow
        for i in reversed(range(1, len(x))):
            j = randbelow(i + 1)"""


def test_the_names_a_question_gives_as_code() -> None:
    assert named("What error does random.choice raise for an empty sequence?") == {"choice"}
    assert named("What does get_nowait() raise, and what about fill()?") == {"get_nowait", "fill"}
    assert named("Which hash function does uuid.uuid5 use?") == {"uuid5"}
    assert named("What is the YIQ colour space used for?") == set()


def test_a_passage_is_cut_to_the_named_definition_with_its_lines() -> None:
    cut = focus(CHUNK, "What error does random.choice raise for an empty sequence?")
    head, _, text = cut.partition("\n")
    assert head == "[1] random.py:364-369 (class Random(_random.Random):)"  # the comment above it is kept
    assert text.splitlines()[0] == "    # picks one" and "IndexError" in text
    assert "shuffle" not in text and "randrange" not in text


def test_a_passage_without_the_definition_or_a_question_without_names_is_unchanged() -> None:
    assert focus(CHUNK, "How do I pick a random element?") == CHUNK
    assert focus(CHUNK, "What does random.sample do?") == CHUNK  # not defined here
    assert focus("[1] notes.md:1-3\nplain text", "what does x.y do") == "[1] notes.md:1-3\nplain text"
    whole = "[2] m.py:1-4\ndef choice(seq):\n    a = 1\n    return a\n"
    assert focus(whole, "what does m.choice return?") == whole  # the cut would keep nearly all of it


def test_folded_passages_are_focused_on_the_question() -> None:
    current = [{"role": "user", "content": "What error does random.choice raise for an empty sequence?"}]
    out = fold_passages([{"role": "system", "content": CHUNK}], current)
    content = out[0]["content"]
    assert content.startswith(PASSAGES_HEAD) and "random.py:364-369" in content and "shuffle" not in content
