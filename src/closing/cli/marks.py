"""The mark commands (one per row of `closing.domain.mark_commands`, plus `mark`) and `undo`.

Every text a mark records (note, reason, evidence, operator) is one line of at most 2,000
characters, and purchaser and step names at most 200: checked as the command line is read, so a
newline can never forge a line of `history` and a 100 kB name never reaches the database."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from closing.cli.app import (
    RECORDED,
    App,
    by_option,
    checked,
    complete_purchasers,
    complete_steps,
    deal_option,
    for_whom,
    local_time,
    pass_app,
    reason_option,
)
from closing.domain.mark_commands import GENERIC, MARK_COMMANDS, MarkCommand
from closing.domain.text import MAX_TEXT, neutral

if TYPE_CHECKING:
    from closing.services.mark import Recorded


note_option = click.option(
    "--note",
    metavar="TEXT",
    help="A note kept with the event.",
    callback=checked("--note", MAX_TEXT),
)
purchaser_argument = click.argument(
    "purchaser", callback=checked("PURCHASER"), shell_complete=complete_purchasers
)
step_argument = click.argument("step", callback=checked("STEP"), shell_complete=complete_steps)


unverified_option = click.option(
    "--unverified-instructions-ok",
    is_flag=True,
    help="Record a payment although a change of the company's wire instructions is not verified "
    "yet (noted on the event).",
)


def mark_command(spec: MarkCommand) -> click.Command:
    """A `mark-*` command built from its row in the table."""

    def command(
        app: App,
        purchaser: str,
        deal_name: str | None,
        at: str | None,
        by: str | None,
        note: str | None,
        out_of_order: bool,
        reason: str | None,
        **options: Any,
    ) -> None:
        from closing.domain.marking import MarkRequest

        if reason is not None and not out_of_order:
            raise click.UsageError("--reason goes with --out-of-order")
        step_id = options.pop("step", None) or spec.step
        evidence = options.get(spec.evidence_option.lstrip("-").replace("-", "_"))
        request = MarkRequest(
            purchaser=purchaser,
            step=step_id or "",
            at=local_time(at, "--at"),
            on_behalf_of=for_whom(by),
            host=socket.gethostname(),
            evidence_kind=spec.evidence_kind,
            evidence=evidence,
            amount=options.get("amount"),
            note=note,
            partial=bool(options.get("partial")),
            unverified_instructions_ok=bool(options.get("unverified_instructions_ok")),
            out_of_order=out_of_order,
            reason=reason,
        )
        from closing.services.mark import mark

        # A database that is not there is an error, never created: a refusal writes nothing.
        say_recorded(app, "Marked", mark(app.existing_database, deal_name, request, app.now()))

    command.__doc__ = spec.help
    params: list[Callable[[Any], Any]] = [
        purchaser_argument,
        deal_option,
        at_option,
        by_option,
        note_option,
        out_of_order_option,
        out_of_order_reason_option,
    ]
    if spec.step is None:
        params.insert(1, step_argument)
    params.append(
        click.option(
            spec.evidence_option,
            metavar="TEXT",
            help=spec.evidence_help,
            callback=checked(spec.evidence_option, MAX_TEXT),
        )
    )
    if spec.takes_amount:
        params.append(
            click.option(
                "--amount",
                metavar="AMOUNT",
                help="Amount received (default: what is still owed); the total must match the "
                "purchase price (within the step's tolerance).",
                callback=checked("--amount", 100),
            )
        )
        params.append(
            click.option(
                "--partial",
                is_flag=True,
                help="Part of the price: recorded, and the step stays open for the rest.",
            )
        )
        params.append(unverified_option)
    wrapped: Any = pass_app(command)
    for decorate in reversed(params):
        wrapped = decorate(wrapped)
    return click.command(spec.name, help=spec.help)(wrapped)


def say_recorded(app: App, verb: str, recorded: Recorded) -> None:
    from closing.domain.events import RECEIPT, WITHDRAW
    from closing.domain.money import format_money
    from closing.domain.timefmt import local

    event = recorded.event
    party = recorded.purchaser
    name = neutral(party.name)  # data: shown as text, whatever an older closing stored
    RECORDED.append(
        f"{neutral(f'{event.kind} {event.step}'.rstrip())} for {name} (event id {event.id})"
    )
    actor = neutral(event.who)
    zone = recorded.deal.terms.zone
    extra = f" ({format_money(event.amount)})" if event.amount is not None else ""
    remaining = recorded.still_to_do
    if event.kind == WITHDRAW:
        click.echo(
            f"Withdrew {name} at {local(event.occurred_at, zone)} by {actor}: "
            f"{neutral(event.note or '')}. No more alerts for it; its price leaves the totals to "
            "receive."
        )
        return
    if event.kind == RECEIPT:
        verb = "Recorded part of"
    flagged = "".join(f" ⚑ {neutral(flag)}." for flag in recorded.flags)
    progress = (
        f"Still to do: {neutral(', '.join(remaining))}."
        if remaining
        else f"Every step is done: {'the company' if party.is_company else name} is closed."
    )
    click.echo(
        f"{verb} {neutral(event.step)} for {name} at {local(event.occurred_at, zone)} "
        f"by {actor}{extra}.{flagged} {progress}"
    )


out_of_order_option = click.option(
    "--out-of-order",
    is_flag=True,
    help="Record it as it happened although it breaks the agreement's order (a step it requires "
    "not done, a time before the agreement, an amount outside the price): flagged on the board "
    "and in the memo. Needs --reason.",
)
out_of_order_reason_option = click.option(
    "--reason",
    metavar="TEXT",
    help="With --out-of-order: why it is recorded so (kept with the event).",
    callback=checked("--reason", MAX_TEXT),
)

at_option = click.option(
    "--at",
    metavar="TIME",
    help="When it happened: 08:30 or 2002-06-07 08:30 in the deal's zone, or ISO 8601 with an "
    "offset; default now.",
)


def correction_command(kind: str, verb: str, help_text: str, reason_help: str) -> click.Command:
    """`undo`, `reverse` and `waive`: a step of a purchaser (or of `company`), with a reason."""

    @click.command(kind, help=help_text)
    @purchaser_argument
    @step_argument
    @reason_option(reason_help)
    @at_option
    @by_option
    @note_option
    @deal_option
    @pass_app
    def command(
        app: App,
        purchaser: str,
        step: str,
        reason: str,
        at: str | None,
        by: str | None,
        note: str | None,
        deal_name: str | None,
    ) -> None:
        from closing.domain.marking import Correction
        from closing.services.mark import correct

        request = Correction(
            kind,
            purchaser,
            step,
            reason,
            host=socket.gethostname(),
            at=local_time(at, "--at"),
            note=note,
            on_behalf_of=for_whom(by),
        )
        say_recorded(app, verb, correct(app.existing_database, deal_name, request, app.now()))

    return command


undo = correction_command(
    "undo",
    "Undid",
    "Correct a mistake in the record: STEP is no longer done (or waived).\n\nThe mark stays in "
    "the history; the correction is a new event. For something that came undone in the world "
    "(funds sent back) use reverse.",
    "Why the mark was wrong.",
)
reverse = correction_command(
    "reverse",
    "Reversed",
    "Something done came undone in the world (a wire's funds sent back, a credit reversed): "
    "STEP is open again; steps done on top of it stay done and are flagged for attention.",
    "What happened (e.g. funds sent back at the purchaser's request).",
)
waive = correction_command(
    "waive",
    "Waived",
    "STEP does not apply: it counts as satisfied and gets no alerts.",
    "Why it does not apply.",
)


@click.command()
@purchaser_argument
@reason_option("Why the purchaser is out.")
@at_option
@by_option
@deal_option
@pass_app
def withdraw(
    app: App, purchaser: str, reason: str, at: str | None, by: str | None, deal_name: str | None
) -> None:
    """PURCHASER is out of the deal: no alerts, shown as withdrawn, its price no longer to be
    received."""
    from closing.domain.events import WITHDRAW
    from closing.domain.marking import Correction
    from closing.services.mark import correct

    request = Correction(
        WITHDRAW,
        purchaser,
        "",
        reason,
        host=socket.gethostname(),
        at=local_time(at, "--at"),
        on_behalf_of=for_whom(by),
    )
    recorded = correct(app.existing_database, deal_name, request, app.now())
    say_recorded(app, "Withdrew", recorded)


COMMANDS: list[click.Command] = [
    mark_command(GENERIC),
    *map(mark_command, MARK_COMMANDS),
    undo,
    reverse,
    waive,
    withdraw,
]
