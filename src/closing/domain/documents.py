"""The closing set, pure: a file attached to a document (`attach` events, each naming the file by
the SHA-256 of its bytes), where each document stands for each party (pending, received (held),
released, countersigned), which steps its files satisfy, and whether a held page may be released.

Files are data: a name is reduced to a plain file name (no folders, no control characters, at
most `MAX_NAME` characters), the media type is read from the bytes before the name, and nothing
here ever renders a file.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from closing.domain.errors import NotFoundError, RefusedError, UsageError
from closing.domain.events import ATTACH, RELEASE, Event, Purchaser, Standing, replay, who_text
from closing.domain.machine import Refusal
from closing.domain.terms import StoredDocument, StoredSignatory, StoredTerms
from closing.domain.timefmt import local

if TYPE_CHECKING:
    from closing.domain.deal import Deal

FILE_EVIDENCE = "file"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NAME = 200

PENDING = "pending"
RECEIVED = "received"
HELD = "received (held)"
RELEASED = "released"
COUNTERSIGNED = "countersigned"

_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def safe_file_name(name: str) -> str:
    """The last part of `name`, with control and format characters (bidi overrides) removed,
    separators and leading dots dropped, at most `MAX_NAME` characters (the extension kept)."""
    last = re.split(r"[/\\]", name)[-1]
    kept = "".join(c for c in last if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    kept = kept.replace(":", "_") or "file"
    if len(kept) > MAX_NAME:
        stem, dot, extension = kept.rpartition(".")
        extension = extension[:20] if dot and stem else ""
        kept = kept[: MAX_NAME - len(extension) - 1].rstrip() + (
            "." + extension if extension else ""
        )
    return kept


def media_type(name: str, head: bytes) -> str:
    """What the file is, from its first bytes (a name can lie), else from its name."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    lowered = name.lower()
    if head.startswith(b"PK\x03\x04"):
        return _DOCX if lowered.endswith(".docx") else "application/zip"
    if lowered.endswith(".eml"):
        return "message/rfc822"
    guessed = mimetypes.guess_type(lowered, strict=True)[0]
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class Attachment:
    """One file received for a document, as its `attach` event records it."""

    document: str
    party: str  # the party's slug (@company for the company's own documents)
    signatory: str | None  # `purchaser` or `company`: whose page it is, when the document is signed
    signatory_name: str | None
    sha256: str
    name: str
    size: int
    media_type: str
    form: str
    hold: bool
    seq: int
    at: datetime
    actor: str
    on_behalf_of: str | None = None  # `--by`, beside the authenticated actor

    @property
    def evidence(self) -> str:
        return attach_evidence(self)

    @property
    def who(self) -> str:
        return who_text(self.actor, self.on_behalf_of)


def attach_evidence(attachment: Attachment) -> str:
    """The event's evidence: every fact of the file, as canonical JSON (covered by the chain)."""
    fields = {
        "document": attachment.document,
        "signatory": attachment.signatory,
        "signatory_name": attachment.signatory_name,
        "sha256": attachment.sha256,
        "name": attachment.name,
        "size": attachment.size,
        "media_type": attachment.media_type,
        "form": attachment.form,
        "hold": attachment.hold,
    }
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()


def read_attachment(party: str, event: Event) -> Attachment:
    data: dict[str, Any] = orjson.loads(event.evidence or "{}")
    return Attachment(
        document=str(data["document"]),
        party=party,
        signatory=data.get("signatory"),
        signatory_name=data.get("signatory_name"),
        sha256=str(data["sha256"]),
        name=str(data["name"]),
        size=int(data["size"]),
        media_type=str(data["media_type"]),
        form=str(data["form"]),
        hold=bool(data["hold"]),
        seq=event.seq,
        at=event.occurred_at,
        actor=event.actor,
        on_behalf_of=event.on_behalf_of,
    )


@dataclass(frozen=True)
class Release:
    documents: tuple[str, ...]
    effective: date
    reason: str
    at: datetime
    actor: str
    seq: int
    on_behalf_of: str | None = None  # `--by`, beside the authenticated actor

    @property
    def who(self) -> str:
        return who_text(self.actor, self.on_behalf_of)


def release_evidence(documents: Sequence[str], effective: date) -> str:
    fields = {"documents": list(documents), "effective": effective.isoformat()}
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()


def read_release(event: Event) -> Release:
    data: dict[str, Any] = orjson.loads(event.evidence or "{}")
    return Release(
        documents=tuple(data["documents"]),
        effective=date.fromisoformat(data["effective"]),
        reason=event.note or "",
        at=event.occurred_at,
        actor=event.actor,
        seq=event.seq,
        on_behalf_of=event.on_behalf_of,
    )


class DocumentCopy(NamedTuple):
    """One document for one party: the purchaser's counterpart or instrument, or the company's own
    document (party `@company`), with the files received and where it stands (a tuple: a large
    deal's board has one per document and purchaser).

    A release covers the pages received by then: a page held after the last release (the
    purchaser's page sent again) is held until a release of its own."""

    document: StoredDocument
    party: Purchaser
    number: str | None  # W-1, W-2 for numbered instruments
    pages: tuple[Attachment, ...]
    releases: tuple[Release, ...]  # every release naming the document for the party, in order
    # A step of its `release_when` that is not done now, though it was when the pages went
    # (`released against wired, since reversed: funds returned`): what needs attention.
    undone: tuple[str, ...]

    @property
    def signatories(self) -> tuple[StoredSignatory, ...]:
        return self.document.signatories

    def page_of(self, signatory: StoredSignatory) -> Attachment | None:
        for page in reversed(self.pages):
            if page.signatory == signatory.party:
                return page
        return None

    @property
    def missing_signatures(self) -> list[StoredSignatory]:
        return [s for s in self.signatories if self.page_of(s) is None]

    @property
    def complete(self) -> bool:
        """Every signatory's page is in (or, for a document nobody signs, any file is)."""
        if self.signatories:
            return not self.missing_signatures
        return bool(self.pages)

    def release_of(self, page: Attachment) -> Release | None:
        """The release that let `page` go: the first after it was received; None for a page
        received after the last release."""
        return next((release for release in self.releases if release.seq > page.seq), None)

    def is_held(self, page: Attachment) -> bool:
        """Whether `page` came in escrow and no release has covered it yet."""
        return page.hold and self.release_of(page) is None

    @property
    def held(self) -> bool:
        last = self.releases[-1].seq if self.releases else 0
        return any(page.hold and page.seq > last for page in self.pages)

    @property
    def release(self) -> Release | None:
        """The release the document stands released by: the last one, unless a page held since
        waits for its own."""
        return self.releases[-1] if self.releases and not self.held else None

    @property
    def state(self) -> str:
        if not self.pages:
            return PENDING
        if self.held:
            return HELD
        if self.release is not None:
            return RELEASED
        if len(self.signatories) > 1 and self.complete:
            return COUNTERSIGNED
        return RECEIVED


_tuple = tuple.__new__


def copies(
    deal: Deal,
    parties: Sequence[Purchaser],
    events: Mapping[int, Sequence[Event]],
) -> list[DocumentCopy]:
    """Every document x party of the deal, in the deal file's order, then Schedule 1's; one
    released with a step of its `release_when` not done now (a company step: when the company
    is among `parties`) says so (`undone`)."""
    terms = deal.terms
    company = next((p for p in parties if p.is_company), None)
    of_company = frozenset(step.id for step in terms.company_steps)
    standings: dict[int, Standing | None] = {}

    def standing(party: Purchaser | None) -> Standing | None:
        """The party's steps now, replayed once (None: no company, or events no machine reads,
        which the board says)."""
        if party is None:
            return None
        if party.id not in standings:
            machine = deal.company_machine if party.is_company else deal.machine
            try:
                standings[party.id] = replay(machine, list(events.get(party.id, ())))
            except Refusal:
                standings[party.id] = None
        return standings[party.id]

    purchasers = [p for p in parties if not p.is_company]
    # Each party's files and releases, read once (most parties of a large deal have none).
    filed: dict[int, tuple[list[Attachment], list[Release]]] = {}
    for party in parties:
        for event in events.get(party.id, ()):
            kind = event.kind
            if kind in (ATTACH, RELEASE):
                attached, releases = filed.setdefault(party.id, ([], []))
                if kind == ATTACH:
                    attached.append(read_attachment(party.slug, event))
                else:
                    releases.append(read_release(event))
    result: list[DocumentCopy] = []
    append = result.append
    for document in terms.documents:
        owners = purchasers if document.per_purchaser else [company] if company else []
        numbered = document.numbered if document.per_purchaser else None
        for index, party in enumerate(owners):
            number = document.number(index) if numbered else None
            found = filed.get(party.id)
            if found is None:
                # Nothing on file (most copies of a large deal): the tuple made at once, without
                # the keyword-checking constructor's frame.
                append(_tuple(DocumentCopy, (document, party, number, (), (), ())))
                continue
            pages = tuple(page for page in found[0] if page.document == document.id)
            released = tuple(r for r in found[1] if document.id in r.documents)
            undone: tuple[str, ...] = ()
            if released and document.release_when:
                undone = released_against(document, standing(party), standing(company), of_company)
            append(DocumentCopy(document, party, number, pages, released, undone))
    return result


def released_against(
    document: StoredDocument,
    party: Standing | None,
    company: Standing | None,
    of_company: frozenset[str],
) -> tuple[str, ...]:
    """Each step of `document`'s `release_when` not done now (it was, for the release to be
    made): `released against wired, since reversed: funds returned`."""
    said = []
    for step in document.release_when:
        standing = company if step in of_company else party
        if standing is None or step in standing.states:
            continue
        reversal = standing.reversed.get(step)
        said.append(
            f"released against {step}, since reversed: {reversal.note or 'no reason given'}"
            if reversal is not None
            else f"released against {step}, which is not done now"
        )
    return tuple(said)


def find_document(terms: StoredTerms, text: str) -> StoredDocument:
    wanted = text.strip().casefold()
    for document in terms.documents:
        if document.id.casefold() == wanted:
            return document
    names = ", ".join(d.id for d in terms.documents) or "none (add documents: to the deal file)"
    raise NotFoundError(f"deal has no document {text!r}; its documents are {names}")


def choose_signatory(
    document: StoredDocument, pages: Sequence[Attachment], wanted: str | None
) -> StoredSignatory | None:
    """Whose page a file is: the signatory `--signatory` names (by name or by party), else the
    first whose page is not in yet, else (a further copy, the original say) the last one."""
    if not document.signatories:
        if wanted:
            raise UsageError(f"nobody signs {document.id}; drop --signatory")
        return None
    if wanted:
        key = wanted.strip().casefold()
        for signatory in document.signatories:
            if key in (signatory.party, (signatory.name or "").casefold()):
                return signatory
        names = ", ".join(s.name or s.party for s in document.signatories)
        raise NotFoundError(
            f"{document.id} has no signatory {wanted!r}; its signatories are {names}"
        )
    received = {page.signatory for page in pages}
    for signatory in document.signatories:
        if signatory.party not in received:
            return signatory
    return document.signatories[-1]


def release_missing(
    document: StoredDocument, party_states: Mapping[str, str], company_states: Mapping[str, str]
) -> list[str]:
    """The release conditions (steps) of `document` not done yet for the party."""
    done = {**company_states, **party_states}
    return [step for step in document.release_when if step not in done]


def marked_without_files(
    copy: DocumentCopy, party_states: Mapping[str, str], company_states: Mapping[str, str]
) -> list[str]:
    """The steps the document satisfies that are marked although its pages are not all on file
    (pages exchanged by e-mail first, filed later): what the list shows as not on file."""
    if copy.complete:
        return []
    done = {**company_states, **party_states}
    return [step for step in copy.document.satisfies if step in done]


def pages_named(pages: Iterable[Attachment]) -> str:
    """`sha256:ab12... stonestreet-page.pdf` of each file, for the mark a set of pages makes."""
    return "; ".join(f"{page.name} (sha256 {page.sha256[:16]})" for page in pages)


def check_release_reason(reason: str) -> None:
    if not reason.strip():
        raise RefusedError("a release needs --reason TEXT")


def check_release_effective(effective: date, agreement: date, today: date) -> None:
    """A release takes effect on a day from the agreement's date to today (in the deal's zone):
    never before the documents could exist, never a day still to come."""
    if effective < agreement:
        said = f"before the agreement date ({agreement})"
    elif effective > today:
        said = f"after today ({today} in the deal's zone)"
    else:
        return
    raise RefusedError(
        f"--effective {effective} is {said}: a release takes effect on a day from {agreement} "
        f"to {today}; nothing released"
    )


@dataclass(frozen=True)
class DocumentLine:
    """What the memo says of one document x party: signatories, form, when released, who holds
    the originals, the files' hashes, and the signatures not on file."""

    document: str  # its title, with the instrument's number
    party: str
    signatories: str
    form: str
    state: str
    released: str  # `released_words`: "" when never released
    holds_originals: str
    files: tuple[str, ...]  # `name: sha256 ...`
    missing: str  # the signatures (or files) not on file, "" when none


def released_words(copy: DocumentCopy, zone: ZoneInfo) -> str:
    """When the document was released, by whom, effective when; for one held again (a page
    received since its release), the pages held and those each release let go."""

    def said(release: Release) -> str:
        return f"{local(release.at, zone)} by {release.who}, effective {release.effective}"

    flags = "".join(f"; ⚠ {words}" for words in copy.undone)
    if copy.release is not None:
        return said(copy.release) + flags
    if not copy.releases:
        return ""
    held = ", ".join(page.name for page in copy.pages if copy.is_held(page))
    earlier = "; ".join(
        ", ".join(page.name for page in copy.pages if copy.release_of(page) == release)
        + f" released {said(release)}"
        for release in copy.releases
    )
    return f"{copy.state}: {held} held; {earlier}{flags}"


def document_lines(found: Sequence[DocumentCopy], zone: ZoneInfo) -> tuple[DocumentLine, ...]:
    lines = []
    for copy in found:
        document = copy.document
        missing = "; ".join(s.shown for s in copy.missing_signatures)
        if not copy.pages:
            missing = "nothing on file" + (f" (signatures: {missing})" if missing else "")
        lines.append(
            DocumentLine(
                document=document.title + (f" {copy.number}" if copy.number else ""),
                party=copy.party.name,
                signatories="; ".join(s.shown for s in document.signatories) or "-",
                form=document.form,
                state=copy.state,
                released=released_words(copy, zone),
                holds_originals=document.holds_originals or "-",
                files=tuple(f"{page.name}: SHA-256 {page.sha256}" for page in copy.pages),
                missing=missing,
            )
        )
    return tuple(lines)


def evidence_words(event: Event) -> str:
    """An attach or release event's evidence as people read it in `closing history`."""
    if event.kind == RELEASE:
        release = read_release(event)
        return f"released {', '.join(release.documents)}, effective {release.effective}"
    page = read_attachment("", event)
    whose = f", {page.signatory}'s page" if page.signatory else ""
    held = ", held" if page.hold else ""
    return (
        f"file of {page.document}{whose}: {page.name} ({page.media_type}, {page.size:,} bytes, "
        f"{page.form}{held}) sha256 {page.sha256[:16]}"
    )
