"""`closing details accept|reject P [FIELD ...]`: the team's answer to the details a purchaser
proposed through its link (members with the `operator` role). Accepted details apply at once over
the deal file's; the board's ⚑ for them goes."""

from __future__ import annotations

import socket

import click

from closing.cli.app import App, by_option, checked, deal_option, for_whom, pass_app
from closing.domain.text import MAX_TEXT, neutral


@click.group()
def details() -> None:
    """Accept or reject the details a purchaser proposed through its link."""


def _answer(
    app: App,
    accept: bool,
    purchaser: str,
    fields: tuple[str, ...],
    deal_name: str | None,
    by: str | None,
    reason: str | None = None,
    from_revoked_link: bool = False,
) -> None:
    from closing.domain.proposals import detail_label, shown
    from closing.services.proposals import answer_details

    done = answer_details(
        app.existing_database,
        deal_name,
        purchaser,
        list(fields),
        accept,
        app.now(),
        reason=reason,
        from_revoked_link=from_revoked_link,
        on_behalf_of=for_whom(by),
        host=socket.gethostname(),
    )
    for warning in done.warnings:
        click.echo(neutral(f"warning: {warning}"), err=True)
    verb = "Accepted" if accept else "Rejected"
    for field, item in done.details.items():
        click.echo(
            neutral(
                f"{verb} {detail_label(field)} {shown(field, item.value)!r} for {done.party.name} "
                f"(proposed by {item.by})"
            )
        )
    if not accept:
        click.echo(neutral(f"Reason: {done.event.note}"))


@details.command()
@click.argument("purchaser", callback=checked("PURCHASER"))
@click.argument("fields", nargs=-1, metavar="[FIELD ...]")
@deal_option
@click.option(
    "--from-revoked-link",
    is_flag=True,
    help="Accept details proposed through a link that was revoked since (a warning is recorded).",
)
@by_option
@pass_app
def accept(
    app: App,
    purchaser: str,
    fields: tuple[str, ...],
    deal_name: str | None,
    from_revoked_link: bool,
    by: str | None,
) -> None:
    """Accept PURCHASER's proposed details (every one, or the FIELDs named: dtc_number,
    facsimile, ...); they apply over the deal file's at once."""
    _answer(app, True, purchaser, fields, deal_name, by, from_revoked_link=from_revoked_link)


@details.command()
@click.argument("purchaser", callback=checked("PURCHASER"))
@click.argument("fields", nargs=-1, metavar="[FIELD ...]")
@deal_option
@click.option(
    "--reason",
    required=True,
    metavar="TEXT",
    callback=checked("--reason", MAX_TEXT),
    help="Why (recorded; shown in history).",
)
@by_option
@pass_app
def reject(
    app: App,
    purchaser: str,
    fields: tuple[str, ...],
    deal_name: str | None,
    reason: str,
    by: str | None,
) -> None:
    """Reject PURCHASER's proposed details (every one, or the FIELDs named), with the reason."""
    _answer(app, False, purchaser, fields, deal_name, by, reason=reason)


COMMANDS = [details]
