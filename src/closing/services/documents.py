"""The closing set's use cases: `closing attach` (keep the file's bytes under their SHA-256, append
an `attach` event naming them, and mark the steps the document's files now satisfy), `closing
documents` (every document x party and where it stands), `documents get` (a file's bytes back) and
`closing release` (held pages released when the document's conditions are met). Each one
transaction; a refusal writes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from closing.domain.deal import Deal
from closing.domain.documents import (
    FILE_EVIDENCE,
    MAX_FILE_BYTES,
    Attachment,
    DocumentCopy,
    attach_evidence,
    check_release_effective,
    choose_signatory,
    copies,
    find_document,
    media_type,
    pages_named,
    release_evidence,
    release_missing,
    safe_file_name,
)
from closing.domain.errors import NotFoundError, RecordBrokenError, RefusedError, UsageError
from closing.domain.events import (
    ATTACH,
    RELEASE,
    Event,
    Purchaser,
    deal_event,
    on_behalf,
    replay,
)
from closing.domain.marking import MarkRequest, decide_mark
from closing.domain.team import OPERATOR
from closing.services.deals import open_deal
from closing.services.mark import Locked, find_step, locked
from closing.services.team import require
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store import files, identity
from closing.store.connection import Connection, Database


@dataclass(frozen=True)
class AttachRequest:
    party: str
    document: str
    name: str  # as given; reduced to a plain file name
    content: bytes = b""  # the file's bytes, unless `path` names the file to read in pieces
    signatory: str | None = None
    step: str | None = None  # a step this file satisfies on its own (the original warrant, say)
    form: str | None = None  # else the document's expected form
    hold: bool = False
    actor: str = "unknown"  # the authenticated actor: the service sets it from the database
    host: str = "unknown"
    on_behalf_of: str | None = None  # `--by`, as typed
    path: Path | None = None  # read in pieces (hashed, then stored): never whole in memory


@dataclass(frozen=True)
class Attached:
    deal: Deal
    party: Purchaser
    attachment: Attachment
    new_bytes: bool  # False when the same bytes were already kept
    marked: list[Event]
    not_marked: list[str]  # the steps the files would satisfy, and why they were not marked


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise UsageError(
            f"the file is {megabytes(size)}, over the limit of {megabytes(MAX_FILE_BYTES)} a "
            "closing file may have; send a smaller scan"
        )
    if size == 0:
        raise UsageError("the file is empty; nothing attached")


def _pieces(path: Path) -> Iterator[bytes]:
    """The file's bytes a piece at a time; a file that cannot be read is a usage error."""
    try:
        with path.open("rb") as opened:
            while piece := opened.read(files.PIECE):
                yield piece
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _scanned(path: Path) -> tuple[int, str, bytes]:
    """The file's size, SHA-256 and first bytes, read in pieces."""
    digest, size, head = hashlib.sha256(), 0, b""
    for piece in _pieces(path):
        if not head:
            head = piece[:16]
        digest.update(piece)
        size += len(piece)
        check_size(size)  # a file that grows past the limit is refused as it is read
    return size, digest.hexdigest(), head


def _same_pieces(path: Path, size: int, sha256: str) -> Iterator[bytes]:
    """The file's pieces again (to store them), refused if they are not the bytes hashed."""
    digest, read = hashlib.sha256(), 0
    for piece in _pieces(path):
        digest.update(piece)
        read += len(piece)
        if read > size:
            break
        yield piece
    if read != size or digest.hexdigest() != sha256:
        raise RefusedError(f"{path} changed while it was attached; nothing attached, try again")


def attach_file(
    database: Database,
    deal_name: str | None,
    request: AttachRequest,
    now: datetime,
    link: Callable[[Connection], str] | None = None,
) -> Attached:
    """`link`, for a page a purchaser's link sends: checks the link inside the transaction
    (instead of the signed-in member's role) and names it, for the event's `on_behalf_of`."""
    if request.path is not None:
        size, sha256, head = _scanned(request.path)
    else:
        size, sha256 = len(request.content), hashlib.sha256(request.content).hexdigest()
        head = request.content[:16]
    check_size(size)
    name = safe_file_name(request.name)
    kind = media_type(name, head)
    with database.transaction() as connection:

        def allowed(deal: Deal, party: Purchaser) -> None:
            if link is None:  # a member's: the role first (a link is checked by `link`)
                document = find_document(deal.terms, request.document)
                require(connection, deal.id, OPERATOR, f"attach {document.id} for {party.name}")

        found = locked(connection, deal_name, request.party, allowed)
        deal, party, standing = found.deal, found.party, found.standing
        document = find_document(deal.terms, request.document)
        who = identity.actor(connection)
        if link is None:
            request = replace(request, actor=who, on_behalf_of=on_behalf(who, request.on_behalf_of))
        else:
            request = replace(request, actor=who, on_behalf_of=link(connection))
        if document.per_purchaser == party.is_company:
            whose = (
                "each purchaser's: name the purchaser"
                if document.per_purchaser
                else ("the company's: attach it to company")
            )
            raise RefusedError(f"cannot attach {document.id} to {party.name}: it is {whose}")
        if standing.withdrawn is not None:
            raise RefusedError(f"cannot attach {document.id}: {party.name} withdrew from the deal")
        events = log.party_events(connection, party.id)
        copy = _copy_of(deal, party, events, document.id)
        signatory = choose_signatory(document, copy.pages, request.signatory)
        step = find_step(deal, request.step, party) if request.step else None
        attachment = Attachment(
            document=document.id,
            party=party.slug,
            signatory=signatory.party if signatory else None,
            signatory_name=signatory.name if signatory else None,
            sha256=sha256,
            name=name,
            size=size,
            media_type=kind,
            form=request.form or document.form,
            hold=request.hold,
            seq=standing.last_seq + 1,
            at=now,
            actor=request.actor,
        )
        if request.path is not None:
            pieces = _same_pieces(request.path, size, sha256)
            new_bytes = files.put_file_pieces(connection, sha256, size, pieces, now)
        else:
            new_bytes = files.put_file(connection, sha256, request.content, now)
        event = Event(
            id=0,
            purchaser_id=party.id,
            seq=attachment.seq,
            kind=ATTACH,
            step=step.id if step else "",
            occurred_at=now,
            recorded_at=now,
            actor=request.actor,
            host=request.host,
            evidence_kind=FILE_EVIDENCE,
            on_behalf_of=request.on_behalf_of,
            evidence=attach_evidence(attachment),
        )
        log.append_event(connection, deal.id, deal.slug, party, event, found.head)
        pages = (*copy.pages, attachment)
        complete = _copy_of(deal, party, [*events, event], document.id).complete
        wanted = [step.id] if step else (document.satisfies if complete else [])
        marked, not_marked = _mark_steps(connection, found, wanted, pages, request, now)
    return Attached(deal, party, attachment, new_bytes, marked, not_marked)


def _copy_of(deal: Deal, party: Purchaser, events: list[Event], document_id: str) -> DocumentCopy:
    for copy in copies(deal, [party], {party.id: events}):
        if copy.document.id == document_id:
            return copy
    raise NotFoundError(f"no document {document_id} for {party.name}")  # pragma: no cover


def _mark_steps(
    connection: Connection,
    found: Locked,
    wanted: list[str],
    pages: tuple[Attachment, ...],
    request: AttachRequest,
    now: datetime,
) -> tuple[list[Event], list[str]]:
    """Mark each step the files now satisfy (the mark's evidence names the files); a step that
    cannot be marked yet (out of order, already done) is said, not refused: the file is kept."""
    deal, party = found.deal, found.party
    marked: list[Event] = []
    not_marked: list[str] = []
    for step_id in wanted:
        head = log.lock_chain_head(connection, party.id)[1]
        machine = deal.company_machine if party.is_company else deal.machine
        standing = replay(machine, log.party_events(connection, party.id))
        if step_id in standing.done:
            continue
        step = find_step(deal, step_id, party)
        mark = MarkRequest(
            purchaser=party.slug,
            step=step_id,
            actor=request.actor,
            host=request.host,
            on_behalf_of=request.on_behalf_of,
            evidence_kind="files",
            evidence=pages_named(pages)[:2000],
        )
        try:
            decision = decide_mark(deal, step, party, standing, mark, now, found.company)
        except RefusedError as refused:
            not_marked.append(f"{step_id}: {refused.message}")
            continue
        marked.append(log.append_event(connection, deal.id, deal.slug, party, decision.event, head))
    return marked, not_marked


@dataclass(frozen=True)
class ClosingSet:
    """Every document x party of a deal, with the files received and where each stands."""

    deal: Deal
    copies: list[DocumentCopy]
    states: dict[int, dict[str, str]]  # party id -> its step states (the release conditions)


def read_closing_set(connection: Connection, deal: Deal) -> ClosingSet:
    purchasers, company = stored_deals.parties(connection, deal.id)
    parties = [*([company] if company else []), *purchasers]
    events = log.events_by_party(connection, deal.id)
    states: dict[int, dict[str, str]] = {}
    for party in parties:
        machine = deal.company_machine if party.is_company else deal.machine
        states[party.id] = replay(machine, events.get(party.id, [])).states
    return ClosingSet(deal, copies(deal, parties, events), states)


def closing_set(database: Database, deal_name: str | None) -> ClosingSet:
    with database.transaction(write=False) as connection:
        return read_closing_set(connection, open_deal(connection, deal_name))


def file_bytes(
    database: Database,
    deal_name: str | None,
    party_text: str,
    document_text: str,
    signatory: str | None = None,
) -> tuple[Attachment, bytes, bool]:
    """The last file received for the document and party (of `signatory` when given), with its
    bytes checked against its hash, and whether it is held in escrow (the caller says so)."""
    from closing.services.deals import find_purchaser

    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        party = find_purchaser(connection, deal, party_text)
        document = find_document(deal.terms, document_text)
        copy = _copy_of(deal, party, log.party_events(connection, party.id), document.id)
        pages = list(copy.pages)
        if signatory:
            chosen = choose_signatory(document, pages, signatory)
            pages = [p for p in pages if chosen is not None and p.signatory == chosen.party]
        if not pages:
            raise NotFoundError(f"no file of {document.id} for {party.name} is on file")
        page = pages[-1]
        escrow = copy.is_held(page)
        content = files.file_content(connection, page.sha256)
    if content is None:
        raise RecordBrokenError(
            f"the file {page.name} (sha256 {page.sha256}) is gone from the database"
        )
    if hashlib.sha256(content).hexdigest() != page.sha256:
        raise RecordBrokenError(
            f"the stored bytes of {page.name} no longer match its SHA-256 {page.sha256}; "
            "run closing verify"
        )
    return page, content, escrow


@dataclass(frozen=True)
class Released:
    deal: Deal
    released: list[tuple[Purchaser, list[str]]]  # each party and the documents released for it
    effective: date


def release_pages(
    database: Database,
    deal_name: str | None,
    party_texts: list[str],
    reason: str,
    on_behalf_of: str | None,
    host: str,
    now: datetime,
    effective: date | None = None,
) -> Released:
    """Release every held page of the parties named (all when none is): refused, naming what is
    missing, unless each document's `release_when` steps are done for its party."""
    from closing.services.deals import find_purchaser

    if not reason.strip():
        raise UsageError("a release needs --reason TEXT: why the pages may go")
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        require(connection, deal.id, OPERATOR, "release signature pages")
        today = now.astimezone(deal.zone).date()
        if effective is not None:
            check_release_effective(effective, deal.terms.agreement_date, today)
        actor = identity.actor(connection)
        behalf = on_behalf(actor, on_behalf_of)
        wanted = {find_purchaser(connection, deal, text).id for text in party_texts}
        found = read_closing_set(connection, deal)
        company = next((c.party for c in found.copies if c.party.is_company), None)
        company_states = found.states.get(company.id, {}) if company else {}
        held: dict[int, list[DocumentCopy]] = {}
        for copy in found.copies:
            if copy.held and (not wanted or copy.party.id in wanted):
                held.setdefault(copy.party.id, []).append(copy)
        if not held:
            raise RefusedError("nothing to release: no page of the parties named is held")
        problems = []
        for party_copies in held.values():
            for copy in party_copies:
                missing = release_missing(
                    copy.document, found.states[copy.party.id], company_states
                )
                if missing:
                    problems.append(
                        f"{copy.document.id} of {copy.party.name} needs {', '.join(missing)}"
                    )
        if problems:
            raise RefusedError("cannot release: " + "; ".join(problems) + "; nothing released")
        day = effective or today
        result: list[tuple[Purchaser, list[str]]] = []
        for party_copies in held.values():
            party = party_copies[0].party
            documents = [copy.document.id for copy in party_copies]
            seq, head = log.lock_chain_head(connection, party.id)
            evidence = release_evidence(documents, day)
            event = deal_event(
                party, seq + 1, RELEASE, now, actor, host, reason, "release", evidence, behalf
            )
            log.append_event(connection, deal.id, deal.slug, party, event, head)
            result.append((party, documents))
    return Released(deal, result, day)


__all__ = [
    "AttachRequest",
    "Attached",
    "ClosingSet",
    "attach_file",
    "closing_set",
    "file_bytes",
    "release_pages",
]
