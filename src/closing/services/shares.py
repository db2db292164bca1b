"""Share links: random tokens, kept only as SHA-256 hashes, checked in constant time.

A token is 32 random bytes (256 bits) in URL-safe base64. The database keeps its SHA-256 and its
first four characters (so that `closing share --list` can tell links apart); whoever holds the
database cannot rebuild a link from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from closing.domain.errors import NotFoundError, RefusedError
from closing.services.operations import Deal, find_purchaser, open_deal
from closing.store.database import Store
from closing.store.shares import ShareRecord, insert_share, revoke_share, share_by_id, shares_of

TOKEN_BYTES = 32
TOKEN_START = 4  # characters kept in clear for the masked listing
TEAM = "team"  # `closing share team`: the whole deal
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def masked(record: ShareRecord) -> str:
    return f"{record.token_start}…"


def match(presented: str, shares: Sequence[ShareRecord]) -> ShareRecord | None:
    """The active share whose token is `presented`, comparing the hash with every active share in
    constant time (no early exit), so the time taken says nothing about how close a guess was."""
    if not _TOKEN_SHAPE.fullmatch(presented):
        presented = ""  # still hashed and compared: the same work for every wrong token
    digest = token_digest(presented).encode()
    found: ShareRecord | None = None
    for share in shares:
        same = hmac.compare_digest(digest, share.token_sha256.encode())
        if same and share.active and presented:
            found = share
    return found


@dataclass(frozen=True)
class NewShare:
    record: ShareRecord
    token: str  # shown once, never stored
    deal: Deal


def create_share(
    store: Store, deal_name: str | None, who: str, actor: str, now: datetime
) -> NewShare:
    """A new link for the team (`who` = "team") or for one purchaser (slug or name prefix)."""
    token = new_token()
    with store.session() as session:
        deal = open_deal(session, deal_name)
        purchaser_id = None
        if who.strip().casefold() != TEAM:
            party = find_purchaser(session, deal, who)
            if party.is_company:
                raise NotFoundError(
                    "the company's steps are on every link; share the board with: closing share "
                    "team, or closing share PURCHASER"
                )
            purchaser_id = party.id
        share_id = insert_share(
            session,
            deal_id=deal.id,
            purchaser_id=purchaser_id,
            token_sha256=token_digest(token),
            token_start=token[:TOKEN_START],
            created_at=now,
            created_by=actor,
        )
        record = share_by_id(session, share_id)
    assert record is not None
    return NewShare(record, token, deal)


def list_shares(store: Store, deal_name: str | None) -> tuple[Deal, list[ShareRecord]]:
    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        return deal, shares_of(session, deal.id)


def revoke(store: Store, share_id: int, actor: str, now: datetime) -> ShareRecord:
    """Revoke a link at once: its pages, streams and JSON answer 404 from the next request."""
    with store.session() as session:
        record = share_by_id(session, share_id)
        if record is None:
            raise NotFoundError(f"no share link #{share_id}; see closing share --list")
        if not revoke_share(session, share_id, now, actor):
            raise RefusedError(f"share link #{share_id} was already revoked")
        revoked = share_by_id(session, share_id)
    assert revoked is not None
    return revoked


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/b/{token}"
