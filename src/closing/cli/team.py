"""`closing team list|add|grant|revoke`: who may do what on a deal (closing.domain.team)."""

from __future__ import annotations

import socket

import click

from closing.cli.app import App, by_option, checked, deal_option, for_whom, pass_app
from closing.domain.team import ROLES
from closing.domain.text import neutral

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
        app.out(neutral(f"{deal.slug} has no team yet: nothing is checked until an admin is added"))
    for member in members:
        email = f" <{member.email}>" if member.email else ""
        app.out(neutral(member.shown() + email))


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
    deal, _, words = change_team(app.existing_database, deal_name, change, app.now())
    app.out(neutral(f"Team of {deal.slug}: {words}."))


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


COMMANDS = [team_group]
