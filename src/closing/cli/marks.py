"""The mark commands (one per row of `closing.marks`, plus `mark`) and `undo`."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from closing.cli.app import App, deal_option, instant, one_line, operator, pass_app
from closing.marks import GENERIC, MARK_COMMANDS, MarkCommand

if TYPE_CHECKING:
    from closing.operations import Recorded


def mark_command(spec: MarkCommand) -> click.Command:
    """A `mark-*` command built from its row in the table."""

    def command(
        app: App,
        purchaser: str,
        deal_name: str | None,
        at: str | None,
        by: str | None,
        note: str | None,
        **options: Any,
    ) -> None:
        from closing.operations import MarkRequest, mark

        step_id = options.pop("step", None) or spec.step
        evidence_option = spec.evidence_option.lstrip("-").replace("-", "_")
        evidence = one_line(options.get(evidence_option), spec.evidence_option)
        request = MarkRequest(
            purchaser=one_line(purchaser, "PURCHASER", 200) or "",
            step=one_line(step_id, "STEP", 200) or "",
            at=instant(at, "--at"),
            actor=operator(by),
            host=socket.gethostname(),
            evidence_kind=spec.evidence_kind,
            evidence=evidence,
            amount=one_line(options.get("amount"), "--amount", 100),
            note=one_line(note, "--note"),
        )
        recorded = mark(app.store, deal_name, request, app.now())
        say_recorded(app, "Marked", recorded)

    command.__doc__ = spec.help
    params: list[Callable[[Any], Any]] = [
        click.argument("purchaser"),
        deal_option,
        click.option(
            "--at", metavar="TIME", help="When it happened (ISO 8601 with offset); default now."
        ),
        click.option(
            "--by",
            metavar="NAME",
            help="Who records it (default CLOSING_OPERATOR, else your user name).",
        ),
        click.option("--note", metavar="TEXT", help="A note kept with the event."),
    ]
    if spec.step is None:
        params.insert(1, click.argument("step"))
    params.append(click.option(spec.evidence_option, metavar="TEXT", help=spec.evidence_help))
    if spec.takes_amount:
        params.append(
            click.option(
                "--amount",
                metavar="AMOUNT",
                help="Amount received (default: the purchase price); must match it to the cent.",
            )
        )
    wrapped: Any = pass_app(command)
    for decorate in reversed(params):
        wrapped = decorate(wrapped)
    return click.command(spec.name, help=spec.help)(wrapped)


def say_recorded(app: App, verb: str, recorded: Recorded) -> None:
    from closing.money import format_money
    from closing.text import neutral
    from closing.timefmt import local

    event = recorded.event
    zone = recorded.deal.terms.zone
    extra = f" ({format_money(event.amount)})" if event.amount is not None else ""
    remaining = recorded.deal.machine.still_to_do(recorded.state)
    name = neutral(recorded.purchaser.name)
    progress = (
        f"Still to do: {neutral(', '.join(remaining))}."
        if remaining
        else f"Every step is done: {name} is closed."
    )
    app.out(
        f"{verb} {neutral(event.step)} for {name} at {local(event.occurred_at, zone)} "
        f"by {neutral(event.actor)}{extra}. {progress}"
    )


@click.command()
@click.argument("purchaser")
@click.argument("step")
@click.option("--reason", required=True, metavar="TEXT", help="Why the mark was wrong.")
@click.option("--by", metavar="NAME", help="Who records it.")
@deal_option
@pass_app
def undo(
    app: App, purchaser: str, step: str, reason: str, by: str | None, deal_name: str | None
) -> None:
    """Correct a mark: STEP is no longer done.

    The mark stays in the history; the correction is a new event."""
    from closing.operations import undo as undo_step

    recorded = undo_step(
        app.store,
        deal_name,
        one_line(purchaser, "PURCHASER", 200) or "",
        one_line(step, "STEP", 200) or "",
        one_line(reason, "--reason") or "",
        operator(by),
        socket.gethostname(),
        app.now(),
    )
    say_recorded(app, "Undid", recorded)


COMMANDS: list[click.Command] = [mark_command(GENERIC), *map(mark_command, MARK_COMMANDS), undo]
