"""A JSON document as the bytes every `--json` command prints: `orjson.dumps` of it and a line
break, made in pieces (a long list a few hundred items at a time) and escaped to printable ASCII
where it must be (what a terminal would act on). The CLI writes the pieces as they come."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from closing.domain.text import is_unsafe

BATCH = 500  # items of a long member dumped at once


def json_pieces(document: Any) -> Iterator[bytes | memoryview]:
    """`orjson.dumps(document)` and a line break, in pieces: a dict's members one by one, a list
    member of more than `BATCH` items `BATCH` items at a time (each a view into its dumped list,
    without its brackets: a megabyte is not copied to cut them off)."""
    import orjson

    if not isinstance(document, dict) or not all(type(key) is str for key in document):
        yield orjson.dumps(document) + b"\n"  # anything else whole (orjson refuses what it must)
        return
    separator = b"{"
    for key, value in document.items():
        head = separator + orjson.dumps(key) + b":"
        separator = b","
        if isinstance(value, list) and len(value) > BATCH:
            yield head + b"["
            for start in range(0, len(value), BATCH):
                if start:
                    yield b","
                yield memoryview(orjson.dumps(value[start : start + BATCH]))[1:-1]
            yield b"]"
        else:
            yield head + orjson.dumps(value)
    yield (b"{}" if separator == b"{" else b"}") + b"\n"


def escaped(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """Each piece as it is when it is printable ASCII (orjson escapes the controls below space
    inside strings), else with `json_text`'s escapes, in UTF-8."""
    for piece in pieces:
        whole = piece.obj if isinstance(piece, memoryview) else piece  # a view: its whole dump
        if isinstance(whole, bytes) and printable(whole):
            yield piece
        else:
            yield json_text(bytes(piece).decode()).encode()


def printable(written: bytes) -> bool:
    """Printable ASCII but line breaks: nothing to escape, and no 19 MB string to scan."""
    return written.isascii() and b"\x7f" not in written


def json_text(text: str) -> str:
    """JSON with every control, format and separator character inside its strings written as a
    `\\uXXXX` escape. Line breaks outside strings are the indentation's."""
    if text.replace("\n", "").isprintable():
        return text
    return "".join(_json_escape(c) if c != "\n" and is_unsafe(c) else c for c in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
