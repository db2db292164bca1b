"""`closing binder`: the closing set gathered for the binder: the memo as of now (after `closing
verify`, which must hold), every document x party's files in the deal file's order, each copied
from the database a piece at a time when the binder reaches it, and verify's digest, heads and
seals."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from closing.domain.documents import Attachment, DocumentCopy
from closing.domain.errors import RecordBrokenError
from closing.domain.memo import Memo, Verified, build_memo
from closing.domain.timefmt import local
from closing.services.record import memo_inputs
from closing.services.verify import LogCheck
from closing.store import files
from closing.store.connection import Database


@dataclass(frozen=True)
class BinderFile:
    copy: DocumentCopy
    page: Attachment
    write_to: Callable[[IO[bytes]], None]  # the bytes, a piece at a time, checked


@dataclass(frozen=True)
class BinderContent:
    memo: Memo
    check: LogCheck
    verified_at: str
    files: list[BinderFile]


def _writer(database: Database, page: Attachment) -> Callable[[IO[bytes]], None]:
    def write_to(sink: IO[bytes]) -> None:
        """The file's bytes into `sink` a piece at a time; refused (exit 8) when they no longer
        match the hash the record names (the caller throws away what was written)."""
        digest = hashlib.sha256()
        with database.transaction(write=False) as connection:
            for piece in files.file_pieces(connection, page.sha256) or ():
                digest.update(piece)
                sink.write(piece)
        if digest.hexdigest() != page.sha256:
            raise RecordBrokenError(
                f"the stored bytes of {page.name} no longer match its SHA-256; run closing verify"
            )

    return write_to


def binder_content(database: Database, deal_name: str | None, now: datetime) -> BinderContent:
    """What the binder holds, as of one snapshot of the record (`memo_inputs`); refused (exit 8)
    when the record does not hold."""
    inputs = memo_inputs(database, deal_name, now, with_closing_set=True)
    shown, check, found = inputs.board, inputs.check, inputs.closing_set
    assert found is not None
    slug = shown.terms.slug
    if check.broken is not None:
        broken = check.broken
        raise RecordBrokenError(
            f"the event log of {slug} does not hold (event #{broken.seq} of "
            f"{broken.party.lstrip('@')} is {broken.what}); no binder can certify it: see "
            "closing verify"
        )
    verified = Verified(now, check.events, check.heads)
    memo = build_memo(inputs.record, shown, verified, now, funds=inputs.funds)
    listed = [
        BinderFile(copy, page, _writer(database, page))
        for copy in found.copies
        for page in copy.pages
    ]
    return BinderContent(memo, check, local(now, shown.terms.zone), listed)
