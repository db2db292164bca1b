"""Data shown as text: `closing.domain.text.neutral` leaves no control, format or separator
character for
a terminal or a log reader to act on."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from closing.domain.text import neutral, neutral_lines, one_line_problem, quoted


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Stonestreet Limited Partnership", "Stonestreet Limited Partnership"),
        ("a\nb", "a\\nb"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("abc\u202edef", "abc\\u202edef"),
        ("\u2066x\u2069", "\\u2066x\\u2069"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tab\there", "tab\\there"),
        ("Zürich · 東京 ✓", "Zürich · 東京 ✓"),
        ("[bold red]x[/]", "[bold red]x[/]"),
    ],
)
def test_unsafe_characters_are_shown_as_escapes(value: str, shown: str) -> None:
    """Controls, C1, bidi overrides and isolates, separators and newlines become visible escapes;
    printable text (markup included: that is Rich's concern) is unchanged."""
    assert neutral(value) == shown


@given(st.text())
def test_neutral_text_has_no_unsafe_character(value: str) -> None:
    """Whatever the input, the output holds no character of category Cc, Cf, Zl, Zp or Cs."""
    assert not any(
        unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"} for c in neutral(value)
    )


@given(st.text())
def test_quoted_values_are_one_line(value: str) -> None:
    """A logfmt value never holds a line break or a bare quote."""
    text = quoted(value)
    assert "\n" not in text and "\r" not in text
    assert text.startswith('"') and text.endswith('"')
    assert '"' not in text[1:-1].replace('\\"', "")


def test_neutral_lines_keeps_the_line_breaks_of_a_body() -> None:
    """An alert body keeps its lines; each line is neutral."""
    assert neutral_lines("Purchaser: a\x1bb\nStep: c") == "Purchaser: a\\x1bb\nStep: c"


def test_one_line_problem_says_what_is_wrong() -> None:
    """Too long, a line break, an override: each said in words, with the escape."""
    assert one_line_problem("x" * 2001) == "is 2,001 characters long; at most 2,000"
    assert one_line_problem("a\nb") == (
        "contains a line break (\\n); write it on one line, as plain text"
    )
    assert one_line_problem("a\u202eb") == (
        "contains the character U+202E RIGHT-TO-LEFT OVERRIDE (\\u202e); write it on one line, "
        "as plain text"
    )
    assert one_line_problem("fine") is None


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Stonestreet", '"Stonestreet"'),
        ("Stone\x7fstreet", '"Stone\\u007fstreet"'),  # ASCII, but DEL is a control
        ("Stone\x1b[2Jstreet", '"Stone\\u001b[2Jstreet"'),  # orjson's own escape
        ("Stone\u202estreet", '"Stone\\u202estreet"'),
        ("Zürich AG", '"Zürich AG"'),
    ],
)
def test_json_output_escapes_every_control_and_keeps_plain_text(
    value: str, written: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` writes what a terminal would act on as `\\uXXXX`, ASCII or not; the rest as is."""
    from closing.cli.app import App

    App(None, False).print_json({"name": value})
    assert capsys.readouterr().out == f'{{"name":{written}}}\n'
