"""JSON on standard output, as every `--json` command writes it: compact UTF-8 bytes made in
pieces and written from a thread of their own (`App.print_json`, `App.print_status_json`)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import Any, BinaryIO

from closing.domain.text import is_unsafe

# A large board's document is 21 MB: dumped whole and then written, the pipe (64 KiB at a time, as
# fast as the reader drains it) kept the process waiting about 35 ms after all its work was done.
# A long list member is dumped a few hundred items at a time, and a thread writes each megabyte
# while the next is dumped. The bytes are those `orjson.dumps` gives for the whole. The document
# itself is made whole first: an error making it leaves nothing half-written on stdout.

BATCH = 500  # items of a long member dumped at once
FLUSH_AT = 1 << 20  # bytes handed to the writer at once


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


def write_pieces(pieces: Iterable[bytes | memoryview], out: BinaryIO) -> None:
    """Write `pieces` to `out`, a megabyte at a time from a thread of its own once there is more
    than one (the write waits on the reader without holding the interpreter; at most two
    megabytes wait for it). An error writing is raised here and no more is made; an error or an
    interrupt making the pieces stops at once, without waiting for a stalled reader."""
    import threading
    from queue import Full, Queue

    gathered: list[bytes | memoryview] = []
    size = 0
    queue: Queue[list[bytes | memoryview] | None] = Queue(maxsize=2)
    failed: list[BaseException] = []
    writer: threading.Thread | None = None

    def write() -> None:
        while (chunk := queue.get()) is not None:
            for piece in chunk:
                if failed:
                    break
                try:
                    write_all(out, piece)
                except BaseException as error:  # raised again by the thread that made the output
                    failed.append(error)

    try:
        for piece in pieces:
            if writer is None and size + len(piece) >= FLUSH_AT:
                _widen_pipe(out)
            gathered.append(piece)
            size += len(piece)
            if size >= FLUSH_AT:
                if failed:
                    break
                if writer is None:
                    writer = threading.Thread(target=write, name="closing-output", daemon=True)
                    writer.start()
                queue.put(gathered)
                gathered, size = [], 0
    except BaseException as error:
        if writer is not None:  # the rest is dropped; a writer stuck on a stalled reader is left
            failed.append(error)
            with suppress(Full):
                queue.put_nowait(None)
        raise
    if writer is None:
        write_all(out, b"".join(gathered))
        return
    if not failed:
        queue.put(gathered)
    queue.put(None)
    writer.join()
    if failed:
        raise failed[0]


def write_all(out: BinaryIO, data: bytes | memoryview) -> None:
    """Every byte of `data` to `out`, or an OSError: straight to its file descriptor when it has
    one (a short write, as on a disk that fills, is followed until the system says why it
    stops), else through its own write."""
    try:
        descriptor = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        written = out.write(data)
        if written is not None and written < len(data):
            raise OSError(errno.EIO, "Input/output error: the output took only part") from None
        out.flush()
        return
    out.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _widen_pipe(out: BinaryIO) -> None:
    """A pipe of a megabyte instead of 64 KiB (Linux): the writer waits on the reader 16 times
    less often. Anything else, or a system that refuses, is left as it is."""
    try:
        import fcntl
        import stat

        descriptor = out.fileno()
        if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            fcntl.fcntl(descriptor, getattr(fcntl, "F_SETPIPE_SZ", 1031), FLUSH_AT)
    except (OSError, ValueError, AttributeError, ImportError):
        pass


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
