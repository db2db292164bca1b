"""The SQL of the closing set's files (`closing attach`, `documents get`, `verify`, the binder):
the `stored_file` table, one row per distinct file keyed by the SHA-256 of its bytes.

A file goes in and comes out in pieces (`put_file_pieces`, `file_pieces`), so that a 60 MB scan
never sits whole in memory: SQLite's incremental blob I/O into a `zeroblob` of the file's size;
on PostgreSQL `bytea` read back a piece at a time (and written whole: members only insert)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from closing.store.connection import Connection

PIECE = 1024 * 1024  # bytes read or written at a time


def put_file(connection: Connection, sha256: str, content: bytes, at: datetime) -> bool:
    """Keep the bytes once under their hash; whether they were new."""
    added = connection.execute(
        "INSERT INTO stored_file (sha256, size, content, stored_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (sha256) DO NOTHING",
        (sha256, len(content), content, connection.bind_moment(at)),
    )
    return added > 0


def put_file_pieces(
    connection: Connection, sha256: str, size: int, pieces: Iterable[bytes], at: datetime
) -> bool:
    """`put_file` of a file of `size` bytes given in pieces (read only when the bytes are new;
    the caller's iterable raises if they do not add up to the file it hashed)."""
    if connection.sqlite:
        added = connection.execute(
            "INSERT INTO stored_file (sha256, size, content, stored_at) "
            "VALUES (?, ?, zeroblob(?), ?) ON CONFLICT (sha256) DO NOTHING",
            (sha256, size, size, connection.bind_moment(at)),
        )
        if added == 0:
            return False
        rowid = connection.value("SELECT rowid FROM stored_file WHERE sha256 = ?", (sha256,))
        with connection.driver.blobopen("stored_file", "content", rowid) as blob:
            for piece in pieces:
                blob.write(piece)
        return True
    # PostgreSQL: the team's members may insert, never update (the record is append-only), so
    # the bytes go in with the row, in one statement.
    if connection.value("SELECT 1 FROM stored_file WHERE sha256 = ?", (sha256,)) is not None:
        return False
    return put_file(connection, sha256, b"".join(pieces), at)


def file_content(connection: Connection, sha256: str) -> bytes | None:
    rows = connection.rows("SELECT content FROM stored_file WHERE sha256 = ?", (sha256,))
    return bytes(rows[0][0]) if rows else None


def file_pieces(connection: Connection, sha256: str) -> Iterator[bytes] | None:
    """The stored bytes in pieces of at most `PIECE` bytes, read as they are asked for (inside
    the caller's transaction); None when no file has that hash."""
    if connection.sqlite:
        rowid = connection.value("SELECT rowid FROM stored_file WHERE sha256 = ?", (sha256,))
        return None if rowid is None else _blob_pieces(connection, rowid)
    size = connection.value(
        "SELECT octet_length(content) FROM stored_file WHERE sha256 = ?", (sha256,)
    )
    return None if size is None else _bytea_pieces(connection, sha256, int(size))


def _blob_pieces(connection: Connection, rowid: int) -> Iterator[bytes]:
    with connection.driver.blobopen("stored_file", "content", rowid, readonly=True) as blob:
        while piece := blob.read(PIECE):
            yield piece


def _bytea_pieces(connection: Connection, sha256: str, size: int) -> Iterator[bytes]:
    for start in range(0, size, PIECE):
        yield bytes(
            connection.value(
                "SELECT substring(content FROM ? FOR ?) FROM stored_file WHERE sha256 = ?",
                (start + 1, PIECE, sha256),
            )
        )
