"""Who owns each step, and the board as one party sees it (`status --owner PARTY`, `--mine`).

A step's owner is its deal-file `owner` (a party of `parties:`), by default the company for the
company's steps and, for a purchaser's steps, that purchaser itself (its slug is its party id).
The operator's own party is the one whose `members` name the operator as the system
authenticated them (never `CLOSING_OPERATOR` or `--by`); `--mine` filters by it.

Pure: from the deal's terms and a board.
"""

from __future__ import annotations

from dataclasses import replace

from closing.domain.board import Board, CompanyStatus, PurchaserStatus, Totals
from closing.domain.errors import NotFoundError
from closing.domain.terms import COMPANY, PURCHASER, StoredStep, StoredTerms


def owner_of(step: StoredStep, purchaser_slug: str | None = None) -> str:
    """The party id that owns `step` (of the purchaser `purchaser_slug`, for its own steps)."""
    owner = step.owner or (COMPANY if step.for_company else PURCHASER)
    if owner == PURCHASER and purchaser_slug is not None:
        return purchaser_slug
    return owner


def party_of_operator(terms: StoredTerms, operator: str) -> str:
    """The party whose `members` name the operator; NotFoundError says how to declare one."""
    wanted = operator.casefold()
    found = [
        party_id
        for party_id, party in terms.parties.items()
        if any(member.casefold() == wanted for member in party.members)
    ]
    if len(found) == 1:
        return found[0]
    if found:
        raise NotFoundError(
            f"{operator} is a member of several parties ({', '.join(found)}); use --owner PARTY"
        )
    raise NotFoundError(
        f"{operator} is a member of no party of deal {terms.slug}; add members: [{operator}] "
        "to a party under parties: in the deal file, or use --owner PARTY"
    )


def known_owner(terms: StoredTerms, owner: str, slugs: set[str]) -> str:
    """`owner` as a party of the deal (a party id, `company`, `purchaser`, or a purchaser's
    slug); NotFoundError lists them."""
    known = {COMPANY, PURCHASER, *terms.parties, *slugs}
    if owner in known:
        return owner
    raise NotFoundError(
        f"deal {terms.slug} has no party {owner!r}; its parties are {', '.join(sorted(known))}"
    )


def for_owner(board: Board, owner: str) -> Board:
    """The board of the steps `owner` owns: a purchaser's slug keeps that purchaser's row and the
    steps it owns itself; another party keeps every row and the steps it owns."""
    terms = board.terms
    slugs = {row.purchaser.slug for row in board.purchasers}
    rows = board.purchasers
    if owner in slugs:  # a purchaser: its own row, the steps it does itself
        rows = [row for row in rows if row.purchaser.slug == owner]
        steps = [s for s in terms.steps if not s.for_company and owner_of(s) == PURCHASER]
    else:
        steps = [step for step in terms.steps if owner_of(step) == owner]
    ids = {step.id for step in steps}
    kept: list[PurchaserStatus] = [
        replace(row, steps={k: s for k, s in row.steps.items() if k in ids}) for row in rows
    ]
    company = CompanyStatus({k: s for k, s in board.company.steps.items() if k in ids})
    totals = board.totals
    if len(kept) < len(board.purchasers):  # one purchaser's board counts that purchaser alone
        totals = Totals.of(kept, list(totals.by_status))
    return replace(
        board,
        terms=replace(terms, steps=steps),
        purchasers=kept,
        company=company,
        totals=totals,
    )
