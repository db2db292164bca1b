"""The deal file's `documents:`: the papers the closing consists of, each listed once with who signs
it (each signatory's name and title), whether each purchaser has its own counterpart or instrument
(`per_purchaser`, numbered in order with `numbered: W-`), the form of delivery expected, who holds
the originals, the steps a received file satisfies and the steps that must be done before a page
held in escrow may be released (`release_when`). The cross-checks against the steps are here too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from closing.domain.dealfile.fields import Spec, StepId
from closing.domain.dealfile.located import Located
from closing.domain.terms import DocumentCommon, SignatoryCommon

SIGNING_PARTIES = ("purchaser", "company")


class Signatory(Spec, SignatoryCommon):
    """Who signs a document for a party: the purchaser's authorised signatory (a blank name
    while the purchaser has not said who), or the company's officer."""

    party: Literal["purchaser", "company"]
    name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)


class DocumentSpec(Spec, DocumentCommon):
    id: StepId
    title: str = Field(min_length=1, max_length=300)
    signatories: list[Signatory] = Field(default=[], max_length=20)
    per_purchaser: bool = False
    numbered: str | None = Field(
        default=None, max_length=20
    )  # `W-`: W-1, W-2 in Schedule 1's order
    form: Literal["original", "fax", "pdf", "original-scan", "esign"] = "pdf"
    holds_originals: str | None = Field(default=None, max_length=200)
    satisfies: list[StepId] = Field(default=[], max_length=20)
    release_when: list[StepId] = Field(default=[], max_length=20)
    note: str | None = None


def check_documents(located: Located, documents: list[DocumentSpec], steps: dict[str, str]) -> None:
    """Ids unique; the steps a document satisfies or waits for exist, and are of a party the
    document belongs to (`steps`: step id -> its party)."""
    seen: dict[str, int] = {}
    for index, document in enumerate(documents):
        where = ("documents", index)
        if document.id in seen:
            located.problem(
                (*where, "id"),
                f"duplicate document {document.id!r} (also documents[{seen[document.id]}])",
            )
        seen.setdefault(document.id, index)
        for key, ids in (
            ("satisfies", document.satisfies),
            ("release_when", document.release_when),
        ):
            for step_id in ids:
                if step_id not in steps:
                    located.problem(
                        (*where, key), f"document {document.id!r} names unknown step {step_id!r}"
                    )
                elif (
                    key == "satisfies" and (steps[step_id] == "purchaser") != document.per_purchaser
                ):
                    located.problem(
                        (*where, key),
                        f"document {document.id!r} cannot satisfy {step_id!r}: "
                        + (
                            "a step of each purchaser needs per_purchaser: true"
                            if steps[step_id] == "purchaser"
                            else "a company step is satisfied by a document of the company"
                        ),
                    )
        if not document.per_purchaser and any(s.party == "purchaser" for s in document.signatories):
            located.problem(
                (*where, "signatories"),
                f"document {document.id!r} is signed by a purchaser: give it per_purchaser: true",
            )
