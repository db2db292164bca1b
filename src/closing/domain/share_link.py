"""Share links to the live board: the record of one link (never its token), the recent alerts a
link's page lists, and the token rules: random tokens, kept only as SHA-256 hashes, checked in
constant time.

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

TOKEN_BYTES = 32
TOKEN_START = 4  # characters kept in clear for the masked listing
TEAM = "team"  # `closing share team`: the whole deal
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class ShareRecord:
    """One share link as stored: never its token, only the token's SHA-256 and first characters."""

    id: int
    deal_id: int
    purchaser_id: int | None  # None: the whole deal, for the team
    purchaser_slug: str | None
    purchaser_name: str | None
    token_sha256: str
    token_start: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    can_act: bool = False  # may send details, a signature page, a wire report (issue 25)

    @property
    def team(self) -> bool:
        return self.purchaser_id is None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class RecentAlert:
    """One of a deal's latest alerts, as a link's page lists it."""

    due_at: datetime
    deadline: datetime
    purchaser_slug: str
    step: str
    title: str  # as stored: its time left is filled in when it is shown (`alert_plan.at_sending`)


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


def link_name(record: ShareRecord) -> str:
    """How a link's actions are recorded (beside the server's authenticated actor): its id and
    whose it is, never its token."""
    return f"share link #{record.id} of {record.purchaser_name or 'the team'}"


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/b/{token}"
