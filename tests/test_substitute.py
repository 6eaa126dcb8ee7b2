"""Changes spelled out as "this instead of that" are written by the assistant (assistant/substitute.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.substitute import substitutions

README = ["# tipcalc", "    python -m tipcalc 84.50 --people 3 --tip 15", 'requires-python = ">=3.9"']
SETTINGS = ["[display]", 'language = "en"', "[defaults]", "tip_percent = 18"]
MAIN = ["def main() -> None:", '    print(f"each person pays {share:.2f}")']
CALC = ["def percent(part, whole):", "    return part / whole * 10", "def scale(x):", "    return x * 10"]


@pytest.mark.parametrize(
    ("request_text", "lines", "expected"),
    [
        ("The usage example in the README should split between 4 people instead of 3", README,
         [(README[1], "    python -m tipcalc 84.50 --people 4 --tip 15")]),
        ("rename the `language` key in the display section of the settings to `locale`, keep its value", SETTINGS,
         [('language = "en"', 'locale = "en"')]),
        ("change the tip default from 18 to 20", SETTINGS, [("tip_percent = 18", "tip_percent = 20")]),
        ("the first item should say 'by dish' rather than 'by item'", ["- split by item", "- docs"],
         [("- split by item", "- split by dish")]),
        ("Replace EUR with USD", ['currency = "EUR"'], [('currency = "EUR"', 'currency = "USD"')]),
        ("find where the 'each person pays' line gets printed and make it say 'each person owes' instead", MAIN,
         [(MAIN[1], '    print(f"each person owes {share:.2f}")')]),
        ("change 'each person pays' to 'each person owes'", MAIN,
         [(MAIN[1], '    print(f"each person owes {share:.2f}")')]),
    ],
)  # fmt: skip
def test_a_change_spelled_out_is_written(request_text: str, lines: list[str], expected: list[tuple[str, str]]) -> None:
    assert substitutions(request_text, lines) == expected


def test_what_is_not_a_clear_substitution_is_left_to_the_model() -> None:
    assert substitutions("make it use 25 'b's instead of 30 'a's", ['    assert truncate("a" * 30, 10)']) == []
    assert substitutions("use tabs instead of spaces", CALC) == []  # nothing holds "spaces"
    assert [old for old, _ in substitutions("use 2 instead of 3", README)] == [README[1]]  # not ">=3.9"
    many = [f"x{i} = 10" for i in range(5)]
    assert substitutions("use 100 instead of 10", many) == []  # five lines hold it: too vague
    assert substitutions("change the default to 20", SETTINGS) == []  # no old text named
    assert substitutions("the 'each person pays' line should say 'x' instead of that", MAIN) == []
    both = substitutions("it should multiply by 100 instead of 10", CALC)
    assert [new for _, new in both] == ["    return part / whole * 100", "    return x * 100"]  # the model picks


def test_the_edit_grammar_offers_the_substituted_line(tmp_path: Path) -> None:
    from assistant.editchoices import constrain_edits

    (tmp_path / "README.md").write_text("\n".join(README) + "\n")
    tool = {"type": "function", "function": {"name": "edit_file", "parameters": {"type": "object", "properties": {
        "path": {"type": "string"}, "old_text": {"type": "string"}, "new_text": {"type": "string"}}}}}  # fmt: skip
    (edit,) = constrain_edits([tool], tmp_path, {"README.md"}, "the example should split between 4 people instead of 3")
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": README[1]}
    assert choice["properties"]["new_text"] == {"const": "    python -m tipcalc 84.50 --people 4 --tip 15"}


def test_a_bug_report_is_not_a_change_to_write() -> None:
    """ "median returns 3 instead of 2.5" says what is wrong: 3 is no new value (offered as an edit,
    it would have changed the test's 2.5 into 3)."""
    test_lines = ["    self.assertEqual(median([4, 1, 3, 2]), 2.5)"]
    assert substitutions("median returns 3 instead of 2.5, fix it", test_lines) == []
    assert substitutions("it printed 45.00 instead of 46.00", ["assert total == 46.00"]) == []
    assert substitutions("it should return 2.5 instead of 3", ["    return 3"]) == [("    return 3", "    return 2.5")]


def test_a_message_reworded_is_written_here() -> None:
    """ "find the divide-by-zero error message and change it to say 'division by zero is not allowed'":
    the 0.5B rewrote the whole function around it (ch8-006). The one message whose words the request
    shares is the line changed, its quotes kept."""
    from assistant.substitute import message_changes

    lines = ["def divide(a, b):", "    if b == 0:", '        raise ZeroDivisionError("cannot divide by zero")',
             '    print("dividing now")', "    return a / b"]  # fmt: skip
    said = "find the divide-by-zero error message and change it to say 'division by zero is not allowed'"
    assert message_changes(said, lines) == [
        (lines[2], '        raise ZeroDivisionError("division by zero is not allowed")')
    ]
    assert message_changes("change the error message to 'nope'", lines) == []  # which one? none shares a word
    assert message_changes("change the default to 20", lines) == []
