"""The SQL of the closing set's files (`closing attach`, `documents get`, `verify`, the binder):
the `stored_file` table, one row per distinct file keyed by the SHA-256 of its bytes."""

from __future__ import annotations

from datetime import datetime

from closing.store.connection import Connection


def put_file(connection: Connection, sha256: str, content: bytes, at: datetime) -> bool:
    """Keep the bytes once under their hash; whether they were new."""
    added = connection.execute(
        "INSERT INTO stored_file (sha256, size, content, stored_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (sha256) DO NOTHING",
        (sha256, len(content), content, connection.bind_moment(at)),
    )
    return added > 0


def file_content(connection: Connection, sha256: str) -> bytes | None:
    rows = connection.rows("SELECT content FROM stored_file WHERE sha256 = ?", (sha256,))
    return bytes(rows[0][0]) if rows else None
