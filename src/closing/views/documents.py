"""The closing set as text and JSON (`closing documents`, and the documents of `status --json`):
each document x party, its expected signatories, the files received, held or released, the form
and each file's SHA-256. Names and titles are data: shown neutral, never as markup."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from closing.domain.documents import PENDING, Attachment, DocumentCopy, Release
from closing.domain.terms import StoredSignatory
from closing.domain.text import neutral
from closing.domain.timefmt import local


def _page(copy: DocumentCopy, page: Attachment, zone: ZoneInfo) -> dict[str, Any]:
    release = copy.release_of(page)
    return {
        "signatory": page.signatory,
        "signatory_name": page.signatory_name,
        "name": page.name,
        "sha256": page.sha256,
        "size": page.size,
        "media_type": page.media_type,
        "form": page.form,
        "hold": page.hold,
        "attached_at": page.at.isoformat(),
        "attached_at_local": local(page.at, zone),
        "attached_by": page.actor,
        "on_behalf_of": page.on_behalf_of,
        "held": copy.is_held(page),
        "released_at": None if release is None else release.at.isoformat(),
    }


def _release(release: Release) -> dict[str, Any]:
    return {
        "at": release.at.isoformat(),
        "by": release.actor,
        "on_behalf_of": release.on_behalf_of,
        "effective": release.effective.isoformat(),
        "reason": release.reason,
    }


def copy_document(
    copy: DocumentCopy, zone: ZoneInfo, marked_without_files: Sequence[str] = ()
) -> dict[str, Any]:
    """One document x party as JSON (`marked_without_files`: the steps it satisfies that were
    marked with pages not on file)."""
    document = copy.document
    release = copy.release
    return {
        "document": document.id,
        "title": document.title,
        "party": copy.party.slug,
        "party_name": copy.party.name,
        "number": copy.number,
        "state": copy.state,
        "form": document.form,
        "holds_originals": document.holds_originals,
        "signatories": [
            {
                "party": s.party,
                "name": s.name,
                "title": s.title,
                "received": copy.page_of(s) is not None,
            }
            for s in document.signatories
        ],
        "missing_signatures": [s.party for s in copy.missing_signatures],
        "satisfies": document.satisfies,
        "marked_without_files": list(marked_without_files),
        "release_when": document.release_when,
        "released": None if release is None else _release(release),
        "releases": [_release(r) for r in copy.releases],
        "attention": list(copy.undone),
        "files": [_page(copy, page, zone) for page in copy.pages],
    }


@functools.cache
def _signing_parties(signatories: tuple[StoredSignatory, ...]) -> tuple[str, ...]:
    """Whose pages a document with nothing on file still misses: all its signatories'."""
    return tuple(s.party for s in signatories)


def document_states(copies: Iterable[DocumentCopy]) -> Iterator[dict[str, Any]]:
    """Each document x party as the board's JSON shows it: where it stands, at a glance."""
    # Most copies of a large deal have nothing on file yet: one dict per document serves as the
    # pattern of theirs (a copy of it, with the party's slug and number, is a third cheaper to
    # make than the dict written out).
    pending: dict[int, dict[str, Any]] = {}
    for copy in copies:
        document, party, number, pages, releases, undone = copy
        if not pages and not releases:
            pattern = pending.get(id(document))
            if pattern is None:
                pattern = pending[id(document)] = {
                    "document": document.id,
                    "party": None,
                    "number": None,
                    "state": PENDING,
                    "missing_signatures": _signing_parties(document.signatories),
                    "files": 0,
                    "sha256": None,
                    "released_at": None,
                    "attention": (),
                }
            yield {**pattern, "party": party.slug, "number": number}
            continue
        last = pages[-1] if pages else None
        release = copy.release
        yield {
            "document": document.id,
            "party": party.slug,
            "number": number,
            "state": copy.state,
            "missing_signatures": [s.party for s in copy.missing_signatures],
            "files": len(pages),
            "sha256": last.sha256 if last else None,
            "released_at": release.at.isoformat() if release else None,
            "attention": undone,
        }


def documents_text(
    copies: Sequence[DocumentCopy], zone: ZoneInfo, unfiled: Sequence[Sequence[str]] = ()
) -> str:
    """One paragraph per document x party, for a person (`unfiled`: each one's steps marked
    without its pages on file)."""
    if not copies:
        return "The deal file lists no documents (add documents: to it)."
    lines: list[str] = []
    for index, copy in enumerate(copies):
        document = copy.document
        number = f" {copy.number}" if copy.number else ""
        lines.append(
            f"{document.id}{number} - {neutral(copy.party.name)}: {copy.state} "
            f"(form {document.form})"
        )
        for signatory in document.signatories:
            page = copy.page_of(signatory)
            got = "received" if page else "not on file"
            lines.append(f"  signed by {neutral(signatory.shown)}: {got}")
        # The files and the releases in the order they came: a release covers the files above it.
        items: list[Attachment | Release] = [*copy.pages, *copy.releases]
        for item in sorted(items, key=lambda item: item.seq):
            if isinstance(item, Release):
                lines.append(
                    f"  released {local(item.at, zone)} by {neutral(item.who)}, effective "
                    f"{item.effective.isoformat()}: {neutral(item.reason)}"
                )
                continue
            held = ", held" if copy.is_held(item) else ""
            lines.append(
                f"  file {neutral(item.name)} ({item.media_type}, {item.size:,} bytes, "
                f"{item.form}{held}) sha256 {item.sha256[:16]} at {local(item.at, zone)} by "
                f"{neutral(item.who)}"
            )
        marked = unfiled[index] if index < len(unfiled) else ()
        if marked:
            lines.append(f"  {', '.join(marked)} marked, but not every page is on file")
        lines += [f"  ⚠ {neutral(words)}" for words in copy.undone]  # the board's attention mark
    return "\n".join(lines)
