"""Share links (`closing share`): make one for the team or one purchaser, list a deal's, revoke
one; each in one transaction on the `Database`. The token rules are the domain's
(`closing.domain.share_link`): only a token's hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from closing.domain.deal import Deal
from closing.domain.errors import NotFoundError, RefusedError
from closing.domain.share_link import TEAM, TOKEN_START, ShareRecord, new_token, token_digest
from closing.domain.team import ADMIN
from closing.services.deals import find_purchaser, open_deal
from closing.services.team import require
from closing.store.connection import Database
from closing.store.facts import fact_table, record_facts
from closing.store.identity import actor_shown
from closing.store.shares import insert_share, revoke_share, share_by_id, shares_of


@dataclass(frozen=True)
class NewShare:
    record: ShareRecord
    token: str  # shown once, never stored
    deal: Deal


def create_share(
    database: Database,
    deal_name: str | None,
    who: str,
    on_behalf_of: str | None,
    now: datetime,
    read_only: bool = False,
) -> NewShare:
    """A new link for the team (`who` = "team") or for one purchaser (slug or name prefix). A
    purchaser's link may act (send its details, signature page, wire report) unless `read_only`;
    the team's never does: the team signs in."""
    token = new_token()
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        require(connection, deal.id, ADMIN, f"share the board of {deal.slug}")
        purchaser_id = None
        if who.strip().casefold() != TEAM:
            party = find_purchaser(connection, deal, who)
            if party.is_company:
                raise NotFoundError(
                    "the company's steps are on every link; share the board with: closing share "
                    "team, or closing share PURCHASER"
                )
            purchaser_id = party.id
        share_id = insert_share(
            connection,
            deal_id=deal.id,
            purchaser_id=purchaser_id,
            token_sha256=token_digest(token),
            token_start=token[:TOKEN_START],
            created_at=now,
            created_by=actor_shown(connection, on_behalf_of),
            can_act=purchaser_id is not None and not read_only,
        )
        record_facts(connection, deal.id, now, fact_table("share"))
        record = share_by_id(connection, share_id)
    assert record is not None
    return NewShare(record, token, deal)


def list_shares(database: Database, deal_name: str | None) -> tuple[Deal, list[ShareRecord]]:
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        return deal, shares_of(connection, deal.id)


def revoke(
    database: Database, share_id: int, on_behalf_of: str | None, now: datetime
) -> ShareRecord:
    """Revoke a link at once: its pages, streams and JSON answer 404 from the next request."""
    with database.transaction() as connection:
        record = share_by_id(connection, share_id)
        if record is None:
            raise NotFoundError(f"no share link #{share_id}; see closing share --list")
        require(connection, record.deal_id, ADMIN, f"revoke share link #{share_id}")
        if not revoke_share(connection, share_id, now, actor_shown(connection, on_behalf_of)):
            raise RefusedError(f"share link #{share_id} was already revoked")
        record_facts(connection, record.deal_id, now, fact_table("share"))
        revoked = share_by_id(connection, share_id)
    assert revoked is not None
    return revoked
