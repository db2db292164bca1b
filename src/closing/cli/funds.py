"""`closing funds-flow` (the statement), `closing mark-sent` (an outgoing wire) and `closing
beneficiary verify` (a disbursement's beneficiary bank details, by a second person's callback)."""

from __future__ import annotations

import socket

import click

from closing.cli.app import (
    App,
    by_option,
    callback_number_option,
    checked,
    deal_option,
    for_whom,
    local_time,
    pass_app,
    spoke_with_option,
)
from closing.cli.marks import (
    at_option,
    note_option,
    out_of_order_option,
    out_of_order_reason_option,
    unverified_option,
)
from closing.domain.text import neutral


@click.command("funds-flow")
@click.option("--json", "as_json", is_flag=True, help="As JSON (amounts as exact text).")
@click.option(
    "--as-of",
    metavar="TIME",
    help="The flow as the record stood then: 2019-06-28 15:00 in the deal's zone, or ISO 8601.",
)
@deal_option
@pass_app
def funds_flow_command(app: App, as_json: bool, as_of: str | None, deal_name: str | None) -> None:
    """The funds flow as a statement: gross by purchaser, each deduction, the net, each
    disbursement and where it stands, and what is left in each account, to the cent."""
    from closing.services.funds import funds_flow
    from closing.views.funds import statement_json, statement_text

    deal, found = funds_flow(
        app.existing_database, deal_name, app.now(), local_time(as_of, "--as-of")
    )
    if as_json:
        app.print_json(statement_json(found, deal.slug, deal.terms.zone))
        return
    for line in statement_text(found, deal.slug, deal.terms.zone, as_of is not None):
        click.echo(line)


@click.command("mark-sent")
@click.argument("disbursement", callback=checked("DISBURSEMENT"))
@click.option(
    "--imad", metavar="IMAD", help="The Fed's input reference.", callback=checked("--imad")
)
@click.option(
    "--omad", metavar="OMAD", help="The Fed's output reference.", callback=checked("--omad")
)
@click.option(
    "--amount",
    metavar="AMOUNT",
    help="What was sent (default: the flow's amount; another needs --out-of-order).",
    callback=checked("--amount", 100),
)
@at_option
@out_of_order_option
@out_of_order_reason_option
@unverified_option
@by_option
@note_option
@deal_option
@pass_app
def mark_sent_command(
    app: App,
    disbursement: str,
    imad: str | None,
    omad: str | None,
    amount: str | None,
    at: str | None,
    out_of_order: bool,
    reason: str | None,
    unverified_instructions_ok: bool,
    by: str | None,
    note: str | None,
    deal_name: str | None,
) -> None:
    """Record that DISBURSEMENT's wire went out, with its IMAD/OMAD."""
    from closing.domain.disbursements import SendRequest
    from closing.domain.errors import UsageError
    from closing.domain.funds import funds_words
    from closing.domain.money import parse_money
    from closing.domain.timefmt import local
    from closing.services.funds import mark_sent

    if reason is not None and not out_of_order:
        raise click.UsageError("--reason goes with --out-of-order")
    try:
        money = None if amount is None else parse_money(amount)
    except ValueError as error:
        raise UsageError(f"--amount: {error}") from None
    if money is not None and money <= 0:
        raise UsageError(f"--amount: {amount!r} is not a positive amount; a wire sends something")
    request = SendRequest(
        disbursement,
        imad,
        omad,
        money,
        local_time(at, "--at"),
        "",
        socket.gethostname(),
        for_whom(by),
        out_of_order,
        reason,
        note,
    )
    deal, event = mark_sent(
        app.existing_database, deal_name, request, app.now(), unverified_instructions_ok
    )
    click.echo(
        neutral(
            f"Recorded {funds_words(event)} at {local(event.occurred_at, deal.terms.zone)} by "
            f"{event.who}."
        )
    )


@click.group("beneficiary")
def beneficiary() -> None:
    """A disbursement's beneficiary bank details, under the two-person rule."""


@beneficiary.command("verify")
@click.argument("disbursement", callback=checked("DISBURSEMENT"))
@callback_number_option
@spoke_with_option
@by_option
@note_option
@deal_option
@pass_app
def verify_beneficiary_command(
    app: App,
    disbursement: str,
    callback_number: str,
    spoke_with: str,
    by: str | None,
    note: str | None,
    deal_name: str | None,
) -> None:
    """Record that you called back and DISBURSEMENT's beneficiary details are right."""
    from closing.domain.funds import funds_words
    from closing.domain.wire_instructions import Verification
    from closing.services.funds import verify_beneficiary

    request = Verification(
        callback_number, spoke_with, "", socket.gethostname(), note, on_behalf_of=for_whom(by)
    )
    _, event = verify_beneficiary(
        app.existing_database, deal_name, disbursement, request, app.now()
    )
    click.echo(neutral(f"Verified: {funds_words(event)} (by {event.who})."))


COMMANDS: list[click.Command] = [funds_flow_command, mark_sent_command, beneficiary]
