"""An event stream's chunks compressed once for every stream (`closing.web.streams.Segments`):
each stream's bytes are a gzip member any client decodes, whatever each stream sent before the
shared chunk, and the shared chunk's compression is made once."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from closing.web.streams import Segments, StreamGzip


def _decoded_as_it_comes(pieces: list[bytes]) -> bytes:
    """What a browser decodes piece by piece (each flushed piece readable at once)."""
    decoder = zlib.decompressobj(31)
    return b"".join(decoder.decompress(piece) for piece in pieces)


def test_streams_with_other_histories_decode_the_shared_chunks() -> None:
    segments = Segments()
    board = b"event: board\ndata: " + os.urandom(3000).hex().encode() + b"\n\n"
    patch = b"event: patch\ndata: " + b"<tr>row</tr>" * 200 + b"\n\n"
    ping = b": ping\n\n"
    first, second = StreamGzip(segments), StreamGzip(segments)
    one = [first.body(board, True), first.body(patch, True), first.body(ping, True)]
    two = [second.body(ping, True), second.body(patch, True)]
    assert one[1] == two[1]  # the same compressed bytes on both streams
    assert _decoded_as_it_comes(one) == board + patch + ping  # readable before the end
    assert _decoded_as_it_comes(two) == ping + patch
    ended = b"".join(one) + first.body(b"", False)
    assert gzip.decompress(ended) == board + patch + ping  # the trailer's CRC and length hold
    assert gzip.decompress(b"".join(two) + second.body(b"last", False)) == ping + patch + b"last"


def test_a_shared_chunk_is_compressed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    segments = Segments()
    made: list[int] = []
    compressed = Segments._compressed

    def counted(chunk: bytes) -> bytes:
        made.append(len(chunk))
        return compressed(chunk)

    monkeypatch.setattr(Segments, "_compressed", staticmethod(counted))
    patch = b"data: " + b"x" * 5000 + b"\n\n"
    streams = [StreamGzip(segments) for _ in range(500)]
    for stream in streams:
        stream.body(patch, True)
        stream.body(b": ping\n\n", True)
    assert made.count(len(patch)) == 1
    assert made.count(len(b": ping\n\n")) == 500  # small chunks are not kept


def test_kept_chunks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Segments, "KEPT_BYTES", 10_000)
    segments = Segments()
    for n in range(20):
        segments.of(bytes([n]) * 1000)
    assert segments._size <= 10_000 and len(segments._kept) == 10
    assert segments.of(bytes([19]) * 1000) is segments._kept[bytes([19]) * 1000]
