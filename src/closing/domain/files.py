"""Reading a file a user names, in bounded time and memory: at most `limit` + 1 bytes whatever
its size says (a file that grows as it is read), and, for the files a deal is read from, only a
regular file: a named pipe would wait for a writer forever, and a device such as /dev/zero (or a
symbolic link to one) never ends. It is opened without blocking (O_NONBLOCK) and its kind is
read from the descriptor opened, so that nothing can be swapped in between."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(OSError):
    """A path that names a folder, a pipe, a device or a socket: `kind` says which."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, f"{kind}, not a regular file")
        self.kind = kind


def read_limited(path: Path, limit: int, *, regular_only: bool = False) -> bytes | None:
    """The file's bytes, reading at most `limit` + 1 whatever its size says (a device, a pipe or
    a file that grows as it is read); None when there are more than `limit`. With
    `regular_only`, anything but a regular file is `NotARegularFile`, found without blocking."""
    if not regular_only:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
        return None if len(data) > limit else data
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    with os.fdopen(os.open(path, flags), "rb") as stream:
        mode = os.fstat(stream.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(
                next((k for test, k in _KINDS if test(mode)), "an unknown kind of file")
            )
        data = stream.read(limit + 1)
    return None if len(data) > limit else data


def digest_of(path: Path, limit: int) -> str:
    """The SHA-256 of a file a deal is read from, read as `read_limited(regular_only=True)`
    reads it, to notice a change; a file it refuses (a pipe, a device, too large) gives a
    digest no file has, so that the change is noticed and the reload says what is wrong."""
    try:
        data = read_limited(path, limit, regular_only=True)
    except NotARegularFile as error:
        return error.kind
    return hashlib.sha256(data).hexdigest() if data is not None else f"over {limit:,} bytes"
