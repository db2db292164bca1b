"""Signing in to the web board, pure: a one-time sign-in link (good once, for 15 minutes), a web
session (idle 30 minutes, 12 hours at most) and whether it still holds at a moment. Tokens are
`closing.domain.share_link`'s (random, kept as SHA-256 hashes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from closing.domain.team import ADMIN, MONEY, VERIFIER

LINK_LIFETIME = timedelta(minutes=15)
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)  # a session's last use is written at most once a minute
PASSKEY_ROLES = (MONEY, VERIFIER, ADMIN)  # the roles a deal may require a passkey for
PASSKEY = "passkey"  # how a session signed in with one begins


@dataclass(frozen=True)
class SigninLink:
    """A one-time sign-in link as stored (never its token)."""

    id: int
    deal_id: int
    login: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True)
class WebSession:
    """A signed-in member's session as stored (never its token)."""

    id: int
    login: str
    how: str  # "link #3" or "passkey …"
    csrf: str  # the token every form of this session carries
    signed_in_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    ended_how: str | None
    deal_id: int | None = None  # opened with a sign-in link: the deal it was made for
    link_by: str | None = None  # and who made it (a passkey's sign-in: None, None)

    def ended(self, now: datetime) -> str | None:
        """Why the session no longer holds at `now` ("signed out", "idle", ...), or None."""
        if self.ended_at is not None:
            return self.ended_how or "ended"
        if now >= self.expires_at:
            return "expired (12 hours)"
        if now - self.last_seen_at >= IDLE:
            return "idle for 30 minutes"
        return None

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY


def passkey_refusal(roles: tuple[str, ...], session: WebSession, required: bool) -> str | None:
    """Why the member may not record anything in the browser now (the deal requires passkeys
    of members with money, verifier or admin, and this session began with a link); None when
    they may."""
    held = [role for role in PASSKEY_ROLES if role in roles]
    if not required or not held or session.how.startswith(PASSKEY):
        return None
    return (
        f"cannot record this: the deal requires {session.login}, who has the {', '.join(held)} "
        "role, to sign in with a passkey (register one on the deals page, then sign out and "
        "in with it); nothing recorded"
    )
