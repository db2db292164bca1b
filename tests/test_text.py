"""Data shown as text: `closing.domain.text.neutral` leaves no control, format or separator
character for
a terminal or a log reader to act on."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
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


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    document=st.dictionaries(st.text(), _JSON_VALUES, max_size=5),
    long=st.lists(_JSON_VALUES, max_size=40),
)
def test_json_pieces_are_the_whole_documents_bytes(
    document: dict[str, object], long: list[object]
) -> None:
    """A document written in pieces (a long list member a few items at a time) is byte for byte
    `orjson.dumps` of the whole, whatever its members."""
    import orjson

    from closing.views import json_bytes as output

    whole = {**document, "rows": long}
    original = output.BATCH
    output.BATCH = 3  # several batches from a short list
    try:
        assert b"".join(output.json_pieces(whole)) == orjson.dumps(whole) + b"\n"
    finally:
        output.BATCH = original


def test_json_pieces_of_an_empty_document_and_of_a_list() -> None:
    from closing.views.json_bytes import json_pieces

    assert b"".join(json_pieces({})) == b"{}\n"
    assert b"".join(json_pieces([1, "a"])) == b'[1,"a"]\n'
    with pytest.raises(TypeError):  # as orjson refuses it: a key JSON cannot have
        b"".join(json_pieces({5: 1}))


def test_a_write_error_in_the_writer_thread_stops_the_output_and_is_raised() -> None:
    """The thread writing a large document fails (a full disk): the error is raised by the
    command's own thread, and no more of the document is made."""
    import errno

    from closing.cli import app as output

    made: list[int] = []

    def pieces() -> Iterator[bytes]:
        for n in range(50):
            made.append(n)
            yield b"x" * (output.FLUSH_AT // 2)

    class Full(io.RawIOBase):
        writes = 0

        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            self.writes += 1
            raise OSError(errno.ENOSPC, "No space left on device")

    sink = Full()
    with pytest.raises(OSError) as raised:
        output.write_pieces(pieces(), sink)  # type: ignore[arg-type]
    assert raised.value.errno == errno.ENOSPC
    assert sink.writes == 1  # nothing written after the failure
    assert len(made) < 50  # and the rest of the document never made


def test_a_large_document_reaches_a_pipe_whole() -> None:
    """Through a real pipe (widened, written from the thread) the reader gets every byte."""
    import subprocess
    import sys

    script = (
        "import sys; from closing.views.json_bytes import json_pieces\n"
        "from closing.cli.app import write_pieces\n"
        "doc = {'rows': [{'n': n, 'name': 'Purchaser %05d' % n} for n in range(60000)]}\n"
        "write_pieces(json_pieces(doc), sys.stdout.buffer)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    import orjson

    rows = orjson.loads(done.stdout)["rows"]
    assert len(done.stdout) > 2 * (1 << 20)
    assert [row["n"] for row in rows] == list(range(60000))
