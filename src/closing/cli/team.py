"""`closing team list|add|grant|revoke|invite|sessions`: who may do what on a deal
(closing.domain.team), and who is signed in to the web board (closing.services.web_auth)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import click

from closing.cli.app import App, by_option, checked, deal_option, for_whom, pass_app, web_url_option
from closing.domain.team import ROLES
from closing.domain.text import neutral, plural

_ROLE = click.Choice(ROLES)


@click.group("team")
def team_group() -> None:
    """Who may do what on the deal: viewer, operator, money, verifier, admin (admins change it)."""


@team_group.command("list")
@deal_option
@click.option("--json", "as_json", is_flag=True, help="The members as JSON.")
@pass_app
def list_team(app: App, deal_name: str | None, as_json: bool) -> None:
    """The deal's members and their roles."""
    from closing.services.team import team as members_of

    deal, members = members_of(app.existing_database, deal_name)
    if as_json:
        app.print_json(
            [
                {"login": m.login, "roles": list(m.roles), "name": m.name, "email": m.email}
                for m in members
            ]
        )
        return
    if not members:
        click.echo(
            neutral(f"{deal.slug} has no team yet: nothing is checked until an admin is added")
        )
    for member in members:
        email = f" <{member.email}>" if member.email else ""
        click.echo(neutral(member.shown() + email))


def _change(
    app: App,
    deal_name: str | None,
    login: str,
    by: str | None,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    name: str | None = None,
    email: str | None = None,
    new_member: bool = False,
) -> None:
    """`team add` (the member may be new), `grant` or `revoke`; says what changed."""
    from closing.services.team import TeamChange, change_team

    change = TeamChange(
        login,
        add,
        remove,
        name,
        email,
        new_member=new_member,
        host=socket.gethostname(),
        on_behalf_of=for_whom(by),
    )
    deal, _, words, ended = change_team(app.existing_database, deal_name, change, app.now())
    click.echo(neutral(f"Team of {deal.slug}: {words}."))
    if ended:
        click.echo(neutral(f"Ended {login}'s {plural(ended, 'web session')}: sign in again."))


_login = click.argument("login", callback=checked("LOGIN"))


@team_group.command("add")
@_login
@click.option("--role", "roles", type=_ROLE, multiple=True, required=True, help="A role (repeat).")
@click.option("--name", callback=checked("--name"), help="The member's full name.")
@click.option("--email", callback=checked("--email"), help="The member's e-mail address.")
@deal_option
@by_option
@pass_app
def add_member(
    app: App,
    login: str,
    roles: tuple[str, ...],
    name: str | None,
    email: str | None,
    deal_name: str | None,
    by: str | None,
) -> None:
    """Add LOGIN (an OS account on SQLite, a database role on PostgreSQL, created if missing)."""
    _change(app, deal_name, login, by, roles, (), name, email, new_member=True)


@team_group.command("grant")
@_login
@click.argument("role", type=_ROLE)
@deal_option
@by_option
@pass_app
def grant_role(app: App, login: str, role: str, deal_name: str | None, by: str | None) -> None:
    """Give a member a role."""
    _change(app, deal_name, login, by, add=(role,))


@team_group.command("revoke")
@_login
@click.argument("role", type=_ROLE)
@deal_option
@by_option
@pass_app
def revoke_role(app: App, login: str, role: str, deal_name: str | None, by: str | None) -> None:
    """Take a role away from a member."""
    _change(app, deal_name, login, by, remove=(role,))


@team_group.command("invite")
@_login
@click.option("--email", callback=checked("--email"), help="Send the link to this address.")
@click.option(
    "--print", "show", is_flag=True, help="Print the link (one line) instead of mailing it."
)
@web_url_option("The address people open (default http://127.0.0.1:8080).", metavar="BASE")
@deal_option
@pass_app
def invite_member(
    app: App,
    login: str,
    email: str | None,
    show: bool,
    url: str | None,
    deal_name: str | None,
) -> None:
    """A one-time sign-in link to the web board for LOGIN (works once, within 15 minutes)."""
    from closing.cli.web import DEFAULT_HOST, DEFAULT_PORT, base_url
    from closing.services.web_auth import invite, mail_invitation

    made = invite(
        app.existing_database,
        deal_name,
        login,
        base_url(url, DEFAULT_HOST, DEFAULT_PORT),
        app.now(),
    )
    if show:
        click.echo(made.url)
        return
    sent_to = mail_invitation(made, email)
    click.echo(neutral(f"Sent {login} a sign-in link to {sent_to} (works once, for 15 minutes)."))


@team_group.command("passkeys")
@click.argument("rule", type=click.Choice(["required", "optional"]))
@deal_option
@pass_app
def passkeys_rule(app: App, rule: str, deal_name: str | None) -> None:
    """Whether members with the money, verifier or admin role must sign in to the web board
    with a passkey to record anything there."""
    from closing.services.web_auth import require_passkeys

    required = rule == "required"
    deal = require_passkeys(
        app.existing_database, deal_name, required, app.now(), socket.gethostname()
    )
    if required:
        click.echo(
            neutral(
                f"{deal.slug}: members with the money, verifier or admin role now record in the "
                "browser only when signed in with a passkey."
            )
        )
    else:
        click.echo(neutral(f"{deal.slug}: a sign-in link is enough again for every member."))


@team_group.command("sessions")
@click.option(
    "--end", "end_login", callback=checked("--end"), metavar="LOGIN", help="End LOGIN's sessions."
)
@click.option("--all", "every", is_flag=True, help="Every sign-in, with how and when it ended.")
@click.option("--json", "as_json", is_flag=True, help="The sessions as JSON.")
@pass_app
def list_sessions(app: App, end_login: str | None, every: bool, as_json: bool) -> None:
    """Who is signed in to the web board now (sign-ins and sign-outs are kept)."""
    from closing.domain.web_session import WebSession
    from closing.services.web_auth import end_sessions, sessions_seen

    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def ending(session: WebSession) -> str:
        why = session.ended(now) or ""
        return f"{why} at {utc(session.ended_at)}" if session.ended_at else why

    if end_login:
        ended = end_sessions(app.existing_database, end_login, app.now(), "ended by an admin")
        click.echo(neutral(f"Ended {plural(ended, 'web session')} of {end_login}."))
        return
    now = app.now()
    found = sessions_seen(app.existing_database, now, every)
    if as_json:
        app.print_json(
            [
                {
                    "id": s.id,
                    "login": s.login,
                    "how": s.how,
                    "signed_in_at": s.signed_in_at.isoformat(),
                    "last_seen_at": s.last_seen_at.isoformat(),
                    "expires_at": s.expires_at.isoformat(),
                    "ended": s.ended(now),
                }
                for s in found
            ]
        )
        return
    for s in found:
        click.echo(
            neutral(
                f"#{s.id}  {s.login}  by {s.how}  signed in {utc(s.signed_in_at)}  "
                f"last seen {utc(s.last_seen_at)}"
                + (f"  ended: {ending(s)}" if every and s.ended(now) else "")
            )
        )
    click.echo(f"{plural(len(found), 'web session' if every else 'live web session')}.")


COMMANDS = [team_group]
