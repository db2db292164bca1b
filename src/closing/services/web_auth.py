"""Signing the team in to the web board: `closing team invite` (a one-time link, printed or
mailed through the deal's `mailto://` alert channels), signing in with it, the session each
request presents, signing out, `closing team sessions`, and ending a member's sessions when an
admin revokes a role. Sessions and the server's cookie key live in the database, so several
`closing serve` processes on one database work as one."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from closing.domain.deal import Deal
from closing.domain.errors import ClosingError, NotFoundError, NotPermittedError, UsageError
from closing.domain.events import TEAM, deal_event
from closing.domain.share_link import new_token, token_digest
from closing.domain.team import ADMIN
from closing.domain.web_session import (
    ABSOLUTE,
    LINK_LIFETIME,
    PASSKEY_ROLES,
    SigninLink,
    WebSession,
    passkey_refusal,
)
from closing.services.alerts.channels import DeliveryFailed
from closing.services.deals import open_deal
from closing.services.team import require
from closing.store import deals as deal_store
from closing.store import events as event_store
from closing.store import sessions as store
from closing.store import team as team_store
from closing.store.connection import Connection, Database, UniqueViolation
from closing.store.deals import deal_slugs
from closing.store.facts import fact_table, record_facts
from closing.store.identity import acting_as as acting_as  # the web acts as the member
from closing.store.identity import actor
from closing.store.shares import share_deal_slug
from closing.store.team import admin_deals, team_of

SIGNIN_PATH = "/signin/"
log = logging.getLogger("closing.web")


@dataclass(frozen=True)
class Invitation:
    deal: Deal
    login: str
    email: str | None
    url: str
    expires_at: datetime


def invite(
    database: Database, deal_name: str | None, login: str, base_url: str, now: datetime
) -> Invitation:
    """A one-time sign-in link for `login` (a member of the deal's team), made by an admin."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        require(connection, deal.id, ADMIN, f"invite {login} to {deal.slug}")
        member = team_of(connection, deal.id).get(login)
        if member is None:
            raise NotFoundError(
                f"cannot invite {login}: not on the team of {deal.slug}; add them first: "
                f"closing team add {login} --role ROLE"
            )
        _admin_of_every_deal_of(connection, login)
        token = new_token()
        expires = now + LINK_LIFETIME
        store.add_link(
            connection, deal.id, login, token_digest(token), actor(connection), now, expires
        )
        return Invitation(deal, login, member.email, f"{base_url}{SIGNIN_PATH}{token}", expires)


ASKED_BY_EMAIL = "asked by e-mail"  # who made a link a member asked for on the sign-in page
EMAIL_EVERY = timedelta(minutes=5)  # one link per member per 5 minutes, when asked by e-mail
EMAIL_BURST = (timedelta(minutes=10), 30)  # and at most 30 such links in 10 minutes in all


def link_by_email(database: Database, address: str, base_url: str, now: datetime) -> bool:
    """Mail a new sign-in link to the team member with this e-mail address (of the first deal by
    slug they are on) unless one was made for them in the last 5 minutes, or too many were made
    lately; True when one went. The page that asks says the same whatever happened, so it never
    tells whether the address is a member's."""
    with database.transaction() as connection:
        found = store.members_by_email(connection, address) if "@" in address else []
        if not found:
            return False
        deal_id, login = found[0]
        window, most = EMAIL_BURST
        if store.links_since(connection, now - EMAIL_EVERY, login) or (
            store.links_since(connection, now - window) >= most
        ):
            return False
        deal = deal_store.deal_by_id(connection, deal_id)
        token = new_token()
        expires = now + LINK_LIFETIME
        store.add_link(
            connection, deal_id, login, token_digest(token), ASKED_BY_EMAIL, now, expires
        )
    made = Invitation(deal, login, address, f"{base_url}{SIGNIN_PATH}{token}", expires)
    try:
        mail_invitation(made, address)
    except (ClosingError, DeliveryFailed) as error:
        log.warning("event=signin-mail-failed login=%s error=%r", login, str(error))
        return False
    return True


def mail_invitation(invitation: Invitation, address: str | None) -> str:
    """Send the link through the deal's `mailto://` alert channels to `address` (or the member's
    e-mail); the address it went to. Nothing of the link is printed."""
    from closing.services.alerts.channels import Notifier, channel_for

    to = address or invitation.email
    if not to:
        raise UsageError(
            f"no e-mail address for {invitation.login}: give --email ADDRESS, or --print"
        )
    mailers = [
        url for url in invitation.deal.terms.alerts.notify if url.startswith(("mailto", "mailtos"))
    ]
    if not mailers:
        raise UsageError(
            f"deal {invitation.deal.slug} has no mailto:// alert channel to send the link "
            "through; give --print and pass the link on yourself"
        )
    base, _, query = mailers[0].partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() != "to"]
    channel = channel_for(f"{base}?{urlencode([*kept, ('to', to)], safe='${}@:')}")
    body = (
        f"Sign in to the closing board of {invitation.deal.slug} as {invitation.login}:\n"
        f"{invitation.url}\n\nThe link works once, for 15 minutes."
    )
    Notifier().send(channel, f"Sign in to {invitation.deal.slug}", body, {})
    return to


def sign_in_with_link(
    database: Database, token: str, now: datetime
) -> tuple[str, WebSession] | None:
    """A new session (its token and record) for the link's member, the link used up; None when
    the link is unknown, used or expired (one answer for all three)."""
    with database.transaction() as connection:
        link = store.link_by_digest(connection, token_digest(token), lock=True)
        if link is None or not link.usable(now) or not _still_meant(connection, link):
            return None
        if not store.use_link(connection, link.id, now):
            return None
        how = f"sign-in link #{link.id}"
        return open_session(connection, link.login, how, now, link.deal_id, link.created_by)


def _admin_of_every_deal_of(connection: Connection, login: str) -> None:
    """Refuse (exit 4) a sign-in link for `login` made by anyone but an admin of every deal
    `login` is on: the link signs in to all of them, and an admin of one deal must not act on
    another as its member."""
    me = actor(connection)
    mine = {s for s, _, roles in store.deal_slugs_of(connection, me) if ADMIN in roles.split(",")}
    others = [slug for slug, _, _ in store.deal_slugs_of(connection, login) if slug not in mine]
    if others:
        raise NotPermittedError(
            f"cannot invite {login}: {login} is also on {', '.join(others[:3])}, where {me} is not "
            f"an admin, and a sign-in link opens every deal of {login}'s; an admin of every one "
            "of them makes it (or the member signs in with a passkey); nothing made"
        )


def _still_meant(connection: Connection, link: SigninLink) -> bool:
    """Whether the link's member is still on the deal's team with a role, unchanged since the
    link was made (`closing team revoke` ends the member's sessions, and so its links too)."""
    found = team_store.member_change(connection, link.deal_id, link.login)
    return found is not None and bool(found[0]) and found[1] <= link.created_at


def link_for(database: Database, token: str, now: datetime) -> SigninLink | None:
    """The usable link `token` opens (not used up: a page shows it first)."""
    with database.transaction(write=False) as connection:
        link = store.link_by_digest(connection, token_digest(token))
        return link if link is not None and link.usable(now) else None


def open_session(
    connection: Connection,
    login: str,
    how: str,
    now: datetime,
    deal_id: int | None = None,
    link_by: str | None = None,
) -> tuple[str, WebSession]:
    """A new session for `login` (signed in `how`; with a sign-in link, its deal and maker): its
    token (for the cookie) and record."""
    token = new_token()
    csrf = secrets.token_urlsafe(32)
    end = now + ABSOLUTE
    session_id = store.add_session(
        connection, token_digest(token), login, how, csrf, now, end, deal_id, link_by
    )
    return token, WebSession(
        session_id, login, how, csrf, now, now, end, None, None, deal_id, link_by
    )


def session_of(database: Database, token: str, now: datetime) -> WebSession | None:
    """The live session `token` opens (its last use noted, at most once a minute); None for an
    unknown, ended, idle or expired one."""
    digest = token_digest(token)
    with database.transaction(write=False) as connection:
        session = store.session_by_digest(connection, digest)
    if session is None or session.ended(now) is not None:
        return None
    if session.needs_touch(now):
        with database.transaction() as connection:
            store.touch_session(connection, session.id, now)
    return session


def sign_out(database: Database, session: WebSession, now: datetime) -> None:
    with database.transaction() as connection:
        store.end_session(connection, session.id, now, "signed out")


def live_sessions(database: Database, now: datetime, every: bool = False) -> list[WebSession]:
    """The sessions that still hold, oldest first; with `every`, each sign-in there has been,
    ended or not (the record of who signed in and out, when, how)."""
    with database.transaction(write=False) as connection:
        found = store.open_sessions(connection, None if every else now)
    return found if every else [session for session in found if session.ended(now) is None]


def sessions_seen(database: Database, now: datetime, every: bool = False) -> list[WebSession]:
    """`closing team sessions`: `live_sessions` as whoever asks may see them: its own, and an
    admin's those of the members of the deals it administers (everyone's while no deal has a
    team)."""
    with database.transaction(write=False) as connection:
        teams, me = admin_deals(connection), actor(connection)
    seen = {me}
    for members, admins in teams.values():
        if me in admins:
            seen |= members
    found = live_sessions(database, now, every)
    return found if not teams else [session for session in found if session.login in seen]


def end_sessions(database: Database, login: str, now: datetime, why: str) -> int:
    """End every session of `login` (an admin revoked a role, or asked): how many. Anyone but an
    admin of a deal `login` is on is refused (exit 4), nothing ended (a member signs itself out
    in the browser)."""
    with database.transaction() as connection:
        if not _admin_over(connection, login):
            raise NotPermittedError(
                f"cannot end {login}'s web sessions: {actor(connection)} needs the admin role "
                f"on a deal {login} is on (a member signs out in the browser); nothing ended"
            )
        return store.end_sessions_of(connection, login, now, why)


def _admin_over(connection: Connection, login: str | None) -> bool:
    """Whether whoever is signed in is an admin of a deal `login` is on (of any deal when
    `login` is None or on none); when no deal has a team yet, nothing is checked."""
    teams = admin_deals(connection)
    if not teams:
        return True
    me = actor(connection)
    theirs = [admins for members, admins in teams.values() if login in members]
    return any(me in admins for admins in theirs or [a for _, a in teams.values()])


def cookie_key(database: Database) -> str:
    """The key that signs session cookies, the same for every server on the database."""
    for _ in range(2):
        try:
            with database.transaction() as connection:
                return store.secret(connection, "cookie", secrets.token_urlsafe(48))
        except UniqueViolation:  # another server made it at the same moment: read theirs
            continue
    raise UniqueViolation("web_secret")  # pragma: no cover


def deals_of(database: Database, login: str) -> list[tuple[str, str, str]]:
    """The deals `login` may see: (slug, title, roles), those it has a role on."""
    with database.transaction(write=False) as connection:
        return store.deal_slugs_of(connection, login)


def deal_of_share(database: Database, token: str) -> str | None:
    """The deal a share link opens (one server serves every deal's links)."""
    if not token or len(token) > 100:
        return None
    with database.transaction(write=False) as connection:
        return share_deal_slug(connection, token_digest(token))


def first_deal(database: Database) -> str | None:
    """The deal `closing serve` shows first when none is named and several are loaded."""
    with database.transaction(write=False) as connection:
        slugs = deal_slugs(connection, limit=1)
    return slugs[0] if slugs else None


def require_passkeys(
    database: Database, deal_name: str | None, required: bool, now: datetime, host: str
) -> Deal:
    """An admin requires (or stops requiring) passkeys of the deal's money, verifier and admin
    members in the browser; a `team` event records it."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        words = "required" if required else "no longer required"
        require(connection, deal.id, ADMIN, f"change how {deal.slug}'s team signs in")
        who = actor(connection)
        store.set_passkeys_required(connection, deal.id, required, now, who)
        company = deal_store.party_where(connection, deal.id)
        assert company is not None
        seq, head = event_store.lock_chain_head(connection, company.id)
        note = f"passkeys {words} in the browser for the {', '.join(PASSKEY_ROLES)} roles"
        event = deal_event(company, seq + 1, TEAM, now, who, host, note)
        event_store.append_event(connection, deal.id, deal.slug, company, event, head)
        record_facts(connection, deal.id, now, fact_table("web_deal_policy"))
        return deal


def passkey_refusal_for(database: Database, slug: str, session: WebSession) -> str | None:
    """Whether the deal's passkey rule keeps this session from recording (the refusal), or not."""
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, slug)
        member = team_of(connection, deal.id).get(session.login)
        required = store.passkeys_required(connection, deal.id)
    return passkey_refusal(member.roles if member else (), session, required)
