"""The board's JSON document kept between changes, as beancount keeps a ledger it has parsed:
`closing status --json` on a SQLite file writes what it printed to the user's cache folder
($XDG_CACHE_HOME/closing/boards: mode 0600 in a folder of the user's that no one else may write
in), under the state of the database's files (device, inode, size and modification time of the
file, links followed, and of its write-ahead log beside it) and of the code that works the board
out (closing's modules, the holidays package, the time zone data), with the span of moments it
holds for (`closing.domain.board_expiry`) and a CRC-32 of its bytes. The next run with the files
as they were and the clock inside that span prints it again (its `as_of` set to the moment)
without opening the database. Any write to the database (a mark, an import, an alert delivered,
a change made with sqlite3) changes the files, and the document is made afresh; so is one whose
file is damaged in any way.

A document is kept only when the files had not changed for `SETTLED` before it was read, and did
not change while it was: a write in the same tick of the file system's clock as the one before
could leave the files' state as it was (git's "racy" index entries). Nothing is kept for a URL
with options (`?mode=ro&immutable=1` reads the file without its log) or a file closing may not
write (read as immutable), nor on PostgreSQL, which has no files to look at: the board is made
each time. CLOSING_BOARD_CACHE=off keeps nothing and reads nothing.

Data only: the document is bytes printed as they are, never parsed into code."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import closing
from closing.store.connection import Database
from closing.store.url import read_only_options

FORMAT = 1
OFF = ("off", "0", "no", "false")  # CLOSING_BOARD_CACHE values that turn it off
KEPT = 8  # documents kept at most (one per database file and deal name): the newest
SETTLED = 1.0  # seconds the database's files must have been still before a document is kept
HEADER_LIMIT = 1 << 16  # bytes: a longer first line is not a kept document's


@dataclass(frozen=True)
class KeptBoard:
    """A kept document: its bytes, and where in them the value of `as_of` lies."""

    body: bytes
    as_of: tuple[int, int]  # where the value of `as_of` (a JSON string, quotes and all) lies
    zone: str  # the deal's time zone, which `as_of` is given in


class BoardCache:
    """The kept documents of one deal (as named on the command line) of one SQLite file."""

    def __init__(self, file: Path, deal_name: str | None, folder: Path) -> None:
        # The file itself, not a link to it: SQLite writes its log beside the file linked to.
        self.file = file = file.resolve()
        self.folder = folder
        name = f"{file}\0{deal_name or ''}".encode("utf-8", "surrogateescape")
        self.path = folder / f"{hashlib.sha256(name).hexdigest()}.json"
        self.deal_name = deal_name
        self.key = self._key()  # taken before the database is read

    @classmethod
    def of(cls, database: Database, deal_name: str | None) -> BoardCache | None:
        """The cache of `database` (a SQLite file), or None: PostgreSQL, a database in memory,
        a URL with options (`mode=ro`, `immutable=1`: read otherwise than a plain file is), a file
        or folder closing may not write (read as immutable), CLOSING_BOARD_CACHE=off, or no
        cache folder of this user's alone to be had."""
        location = database.location
        file = location.file
        off = os.environ.get("CLOSING_BOARD_CACHE", "").strip().lower() in OFF
        if file is None or off or location.sqlite_options:
            return None
        try:
            from platformdirs import user_cache_path

            if read_only_options(file):
                return None
            folder = user_cache_path("closing", appauthor=False) / "boards"
            return cls(file, deal_name, folder)
        except OSError:
            return None

    def _key(self) -> list[object] | None:
        """The state of the database's files and of closing's code; None when they cannot be
        read, or changed less than `SETTLED` ago."""
        try:
            stamps = [_stamp(self.file), _stamp(Path(f"{self.file}-wal"))]
        except OSError:
            return None
        newest = max(stamp[3] for stamp in stamps)
        settled = newest <= (time.time() - SETTLED) * 1e9
        return [FORMAT, _code(), self.deal_name, stamps] if settled else None

    def read(self, now: datetime) -> KeptBoard | None:
        """The document kept for the files as they are now, if it holds at `now`."""
        if self.key is None or not _own(self.folder):
            return None
        try:
            with open(self.path, "rb") as kept:
                line = kept.readline(HEADER_LIMIT)
                header = json.loads(line)
                if not isinstance(header, dict) or header.get("key") != self.key:
                    return None
                since, until = (datetime.fromisoformat(header[k]) for k in ("since", "until"))
                if not since <= now < until:
                    return None
                body = kept.read()
            start, end = header["as_of"]
            if (
                len(body) != header["size"]
                or zlib.crc32(body) != header["crc32"]  # not torn, not changed since
                or body[start : start + 1] != b'"'
            ):
                return None
            ZoneInfo(header["zone"])  # a zone this machine knows
            return KeptBoard(body, (int(start), int(end)), str(header["zone"]))
        except Exception:  # anything else in the file: no document, made afresh
            return None

    def keep(
        self,
        body: Sequence[bytes | memoryview],
        as_of: tuple[int, int],
        zone: str,
        since: datetime,
        until: datetime,
    ) -> None:
        """Keep `body` (in pieces), made from the database as it was when this cache was
        opened, for the moments from `since` until `until`; nothing when the files changed
        meanwhile. Best effort: a cache that cannot be written is no error."""
        if self.key is None or self._key() != self.key:
            return
        header = {
            "key": self.key,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "as_of": list(as_of),
            "zone": zone,
            "size": sum(len(piece) for piece in body),
            "crc32": _crc32(body),
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not _own(self.folder):
                return
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".board-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(json.dumps(header).encode() + b"\n")
                    out.writelines(body)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _forget_older(self.folder)
        except OSError:
            return


def _forget_older(folder: Path) -> None:
    """Remove all but the `KEPT` newest documents (and what a process that died left half
    written, after an hour)."""
    documents = []
    for entry in os.scandir(folder):
        modified = entry.stat().st_mtime
        if entry.name.startswith(".board-"):
            if modified < time.time() - 3600:
                Path(entry.path).unlink(missing_ok=True)
        elif entry.name.endswith(".json"):
            documents.append((modified, entry.path))
    for _, path in sorted(documents, reverse=True)[KEPT:]:
        Path(path).unlink(missing_ok=True)


def _crc32(pieces: Sequence[bytes | memoryview]) -> int:
    found = 0
    for piece in pieces:
        found = zlib.crc32(piece, found)
    return found


def _own(folder: Path) -> bool:
    """Whether `folder` is this user's and no one else may write in it."""
    try:
        found = folder.stat()
    except OSError:
        return False
    return found.st_uid == os.getuid() and not found.st_mode & 0o022


def _stamp(path: Path) -> list[int]:
    """A file's device, inode, size and modification time; zeros when it is not there or is
    empty (SQLite makes an empty write-ahead log when it opens the database, and removes it
    when the last connection closes: neither changes what the database holds)."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return [0, 0, 0, 0]
    if found.st_size == 0:
        return [0, 0, 0, 0]
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns]


_CODE: list[object] = []


def _code() -> list[object]:
    """closing's version and the newest modification of its modules (a checkout edited in place
    makes its documents afresh), and of what deadlines are worked out with: the holidays
    package and the time zone data (an upgrade of either)."""
    if not _CODE:
        newest = 0
        for folder, _, files in os.walk(Path(closing.__file__).parent):
            for name in files:
                if name.endswith(".py"):
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
        _CODE.extend([closing.__version__, newest])
        import zoneinfo
        from importlib.util import find_spec

        places = [*zoneinfo.TZPATH]
        for package in ("holidays", "tzdata"):
            spec = find_spec(package)
            if spec is not None and spec.origin:
                places.append(str(Path(spec.origin).parent))
        for place in places:
            with suppress(OSError):
                _CODE.append([place, os.stat(place).st_mtime_ns])
    return _CODE
