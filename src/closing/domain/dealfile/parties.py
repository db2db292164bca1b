"""The deal's parties in the deal file (`parties:`): the company, its counsel, the placement
agent, the transfer agent, the escrow agent, each purchaser (by its slug) and its counsel, each
with contacts, its own notification URLs (`notify:`, alerts of the steps it owns go there too)
and its `members` (the operators' logins, as the system authenticates them, who act for it:
`closing status --mine`). A step's `owner` is one of them: by default the company for the
company's steps and each purchaser for its own (`purchaser`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from closing.domain.dealfile.alert_rules import NotifyUrls
from closing.domain.dealfile.fields import Spec
from closing.domain.dealfile.located import Located
from closing.domain.terms import COMPANY as COMPANY_OWNER
from closing.domain.terms import PURCHASER as PURCHASER_OWNER

if TYPE_CHECKING:
    from closing.domain.dealfile.schema import Step

Role = Literal[
    "company",
    "company_counsel",
    "placement_agent",
    "transfer_agent",
    "escrow_agent",
    "purchaser",
    "purchaser_counsel",
    "other",
]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]


class Contact(Spec):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    facsimile: str | None = None


class PartySpec(Spec):
    """One party: what it is (`role`, by default its id when that is a role), for which purchaser
    (a purchaser's counsel), who to reach, and who acts for it."""

    name: str | None = None
    role: Role | None = None
    purchaser: str | None = None  # whose counsel (a purchaser's slug)
    contacts: list[Contact] = Field(default=[], max_length=50)
    notify: NotifyUrls = Field(default=[], max_length=20)
    members: list[str] = Field(default=[], max_length=200)

    def role_of(self, party_id: str) -> str:
        return self.role or (party_id if party_id in ROLES else "other")


def check_owners(
    located: Located, steps: list[Step], parties: dict[str, PartySpec], purchasers: set[str]
) -> None:
    """Each step's owner is a party of the deal file (or the default `company`, `purchaser`);
    a company step is not a purchaser's; a counsel's purchaser is in Schedule 1."""
    known = {COMPANY_OWNER, PURCHASER_OWNER, *parties}
    for index, step in enumerate(steps):
        owner = step.owner
        if owner is None:
            continue
        if owner not in known:
            located.problem(
                ("steps", index, "owner"),
                f"step {step.id!r} is owned by {owner!r}, not a party of the deal; the parties "
                f"are {', '.join(sorted(known))}",
            )
        elif owner == PURCHASER_OWNER and step.for_company:
            located.problem(
                ("steps", index, "owner"),
                f"company step {step.id!r} cannot be owned by each purchaser",
            )
    for party_id, party in parties.items():
        if party.purchaser is not None and party.purchaser not in purchasers:
            located.problem(
                ("parties", party_id, "purchaser"),
                f"party {party_id!r} acts for {party.purchaser!r}, not a purchaser's slug",
            )
