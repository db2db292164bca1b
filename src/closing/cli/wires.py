"""`closing wires import|match|list` (money in from the bank's own files) and `closing
wire-instructions [verify]` (the company's wire instructions under the two-person rule)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import click

from closing.cli.app import (
    App,
    by_option,
    callback_number_option,
    checked,
    complete_purchasers,
    deal_option,
    for_whom,
    pass_app,
    spoke_with_option,
)
from closing.cli.marks import note_option, say_recorded, unverified_option
from closing.domain.text import neutral, plural

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from closing.domain.wire_instructions import Version
    from closing.services.wire_import import ImportResult

SHOWN_ROWS = 50  # rows of an import's table; --json has every one


# --- wire instructions -------------------------------------------------------------------------


def version_lines(version: Version, zone: ZoneInfo) -> list[str]:
    from closing.domain.timefmt import local

    lines = [
        f"  {version.summary()}",
        f"  fingerprint {version.short_fingerprint}",
        f"  entered by {version.entered_by} at {local(version.entered_at, zone)}",
    ]
    if version.verified and version.verified_at is not None:
        lines.append(
            f"  verified by {version.verified_by} at {local(version.verified_at, zone)}: called "
            f"{version.callback_number}, spoke with {version.spoke_with}"
        )
    lines.append(f"  callback numbers: {', '.join(version.callback_numbers) or 'none'}")
    return lines


@click.group("wire-instructions", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@deal_option
@pass_app
@click.pass_context
def wire_instructions(ctx: click.Context, app: App, as_json: bool, deal_name: str | None) -> None:
    """The company's wire instructions: masked, with their fingerprint, who entered them and
    whether a second person verified them."""
    if ctx.invoked_subcommand is not None:
        return
    from closing.domain.wire_instructions import trusted_numbers, wire_status
    from closing.services.wires import instructions
    from closing.views.status_document import version_json

    deal, versions = instructions(app.existing_database, deal_name)
    zone = deal.terms.zone
    current = versions[-1] if versions else None
    if as_json:
        app.print_json(version_json(current, len(versions), zone))
        return
    if current is None or not current.present:
        click.echo(
            f"No wire instructions in {deal.slug}: add company.wire_instructions (and "
            "callback_numbers) to the deal file and load it with closing init."
        )
        return
    state = "verified" if current.verified else "NOT VERIFIED"
    click.echo(neutral(f"Wire instructions of {deal.slug} (version {current.number}): {state}"))
    for line in version_lines(current, zone):
        click.echo(neutral(line))
    if not current.verified:
        status = wire_status(versions)
        numbers = ", ".join(trusted_numbers(versions)) or "none"
        click.echo(
            neutral(
                f"Until another operator than {current.entered_by} calls back one of {numbers} "
                "and records it, wires are refused: closing wire-instructions verify "
                "--callback-number NUMBER --spoke-with NAME"
            )
        )
        if status.verified_version is not None:
            click.echo(
                f"Last verified: version {status.verified_version.number}, fingerprint "
                f"{status.verified_version.short_fingerprint}"
            )


@wire_instructions.command("verify")
@callback_number_option
@spoke_with_option
@by_option
@note_option
@deal_option
@pass_app
def verify_command(
    app: App,
    callback_number: str,
    spoke_with: str,
    by: str | None,
    note: str | None,
    deal_name: str | None,
) -> None:
    """Record that you called back and the instructions are right (not who entered them)."""
    from closing.domain.timefmt import local
    from closing.domain.wire_instructions import Verification
    from closing.services.wires import verify_instructions

    request = Verification(
        callback_number, spoke_with, "", socket.gethostname(), note, on_behalf_of=for_whom(by)
    )
    deal, version = verify_instructions(app.existing_database, deal_name, request, app.now())
    assert version.verified_at is not None
    click.echo(
        neutral(
            f"Verified wire instructions {version.account_masked} (fingerprint "
            f"{version.short_fingerprint}) of {deal.slug} at "
            f"{local(version.verified_at, deal.terms.zone)} by {version.verified_by}: called "
            f"{version.callback_number}, spoke with {version.spoke_with}."
        )
    )


# --- wires from bank files ---------------------------------------------------------------------


@click.group()
def wires() -> None:
    """Incoming wires from the bank's own files (BAI2, ISO 20022 camt.054/camt.053)."""


@wires.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--apply", is_flag=True, help="Record the clear matches (default: only show them).")
@click.option("--json", "as_json", is_flag=True, help="Every credit, as JSON.")
@unverified_option
@by_option
@deal_option
@pass_app
def import_command(
    app: App,
    file: str,
    apply: bool,
    as_json: bool,
    unverified_instructions_ok: bool,
    by: str | None,
    deal_name: str | None,
) -> None:
    """Match FILE's credits to purchasers; with --apply, record them as wired marks."""
    from closing.services.wires import read_and_import

    result = read_and_import(
        app.existing_database,
        deal_name,
        file,
        apply,
        for_whom(by),
        socket.gethostname(),
        app.now(),
        unverified_instructions_ok,
    )
    if as_json:
        app.print_json(import_json(result))
        return
    show_import(app, result)


def import_json(result: ImportResult) -> dict[str, Any]:
    from closing.domain.money import money_text

    return {
        "deal": result.deal.slug,
        "file": {
            "name": result.file.name,
            "format": result.file.format,
            "sha256": result.file.sha256,
        },
        "applied": result.applied,
        "credits": [
            {
                "bank_reference": row.entry.bank_reference,
                "line": row.entry.line,
                "amount": money_text(row.entry.amount),
                "currency": row.entry.currency,
                "value_date": row.entry.value_date.isoformat() if row.entry.value_date else None,
                "ordering_customer": row.entry.ordering_customer,
                "imad": row.entry.imad,
                "account": row.entry.account_masked,
                "status": row.status,
                "purchaser": row.purchaser.slug if row.purchaser else None,
                "partial": row.partial,
                "reason": row.reason,
                "event_id": row.event.id if row.event is not None and row.event.id else None,
            }
            for row in result.rows
        ],
        "disbursements": [
            {"bank_reference": ref, "disbursement": which, "reason": why}
            for ref, which, why in result.disbursements
        ],
        "other_accounts": result.other_accounts,
        "debits": result.debits,
        "pending": result.pending,
        "warning": result.warning,
    }


def show_import(app: App, result: ImportResult) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from closing.domain.money import format_amount

    console = app.console()
    bank_file = result.file
    click.echo(
        neutral(
            f"{bank_file.name}: {bank_file.format}, "
            f"{plural(len(bank_file.entries), 'entry', 'entries')}, sha256 "
            f"{bank_file.sha256[:16]}"
        )
    )
    if result.warning:
        click.echo(neutral(result.warning))
    if result.rows:
        table = Table(
            header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True
        )
        table.add_column("Bank ref", no_wrap=True)
        table.add_column("Amount", justify="right", no_wrap=True)
        table.add_column("Ordering customer", max_width=22, overflow="ellipsis", no_wrap=True)
        table.add_column("Purchaser", no_wrap=True)
        table.add_column("Why", ratio=1)
        for row in result.rows[:SHOWN_ROWS]:
            if row.status == "recorded" and row.purchaser is not None:
                what = row.purchaser.slug + (" (part)" if row.partial else "")
            else:
                what = {
                    "left": "LEFT",
                    "already imported": "seen before",
                    "conflict": "CONFLICT",
                }.get(row.status, "")
            table.add_row(  # a bank file is data: Text, and neutral
                Text(neutral(row.entry.bank_reference)),
                Text(neutral(format_amount(row.entry.amount, row.entry.currency))),
                Text(neutral(row.entry.ordering_customer or "")),
                Text(neutral(what)),
                Text(neutral(row.reason)),
            )
        console.print(table)
        if len(result.rows) > SHOWN_ROWS:
            click.echo(f"... and {len(result.rows) - SHOWN_ROWS:,} more credits (--json for all)")
    for ref, which, why in result.disbursements:
        verb = "confirms" if result.applied else "would confirm"
        click.echo(
            neutral(
                f"Debit {ref} {verb} disbursement {which} ({why})"
                if which
                else f"Debit {ref}: no disbursement ({why})"
            )
        )
    recorded = result.count("recorded")
    left = result.count("left")
    summary = result.summary()
    if not result.applied and recorded:
        summary += " Nothing recorded yet: run again with --apply."
    elif left and result.applied:
        summary += " Match a left credit with: closing wires match BANKREF PURCHASER"
    click.echo(summary)


@wires.command("match")
@click.argument("bank_reference", metavar="BANKREF", callback=checked("BANKREF"))
@click.argument("purchaser", callback=checked("PURCHASER"), shell_complete=complete_purchasers)
@note_option
@unverified_option
@by_option
@deal_option
@pass_app
def match_command(
    app: App,
    bank_reference: str,
    purchaser: str,
    note: str | None,
    unverified_instructions_ok: bool,
    by: str | None,
    deal_name: str | None,
) -> None:
    """Record a left-over credit (by its bank reference) as PURCHASER's wire."""
    from closing.services.wires import match_by_hand

    recorded, _ = match_by_hand(
        app.existing_database,
        deal_name,
        bank_reference,
        purchaser,
        for_whom(by),
        socket.gethostname(),
        app.now(),
        unverified_instructions_ok,
        note,
    )
    say_recorded(app, "Marked", recorded)


@wires.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@deal_option
@pass_app
def list_command(app: App, as_json: bool, deal_name: str | None) -> None:
    """Every imported credit and what became of it."""
    from closing.domain.money import format_amount, money_text
    from closing.domain.timefmt import local
    from closing.services.wires import credits
    from closing.views.status_document import iso

    deal, found = credits(app.existing_database, deal_name)
    zone = deal.terms.zone
    if as_json:
        app.print_json(
            [
                {
                    "bank_reference": c.bank_reference,
                    "amount": money_text(c.amount),
                    "currency": c.currency,
                    "value_date": c.value_date,
                    "ordering_customer": c.ordering_customer,
                    "imad": c.imad,
                    "account": c.account_masked,
                    "file": {"name": c.file_name, "format": c.file_format, "line": c.line},
                    "file_sha256": c.file_sha256,
                    "imported_at": iso(c.imported_at, zone),
                    "imported_by": c.imported_by,
                    "status": c.status,
                    "purchaser": p.slug if p else None,
                    "event_number": number,  # in the deal, as closing history shows it
                    "event_id": c.event_id,
                    "reason": c.reason,
                }
                for c, p, number in found
            ]
        )
        return
    if not found:
        click.echo(
            f"No wires imported yet in {deal.slug}; import a bank file with closing wires "
            "import FILE."
        )
        return
    from rich.text import Text

    lines = Text()
    for credit, purchaser, number in found:
        what = (
            f"recorded for {purchaser.name} (event #{number})"
            if credit.status == "recorded" and purchaser is not None
            else f"CONFLICT: {credit.reason}"
            if credit.status == "conflict"
            else "LEFT for a person"
        )
        lines.append(
            neutral(
                f"{credit.bank_reference}  {format_amount(credit.amount, credit.currency)}  "
                f"{credit.value_date or ''}  {credit.ordering_customer or '(no name)'}: {what}"
            )
            + "\n"
        )
        details = [f"{credit.file_name}:{credit.line}", f"account {credit.account_masked}"]
        if credit.imad:
            details.append(f"IMAD {credit.imad}")
        details.append(f"imported by {credit.imported_by} {local(credit.imported_at, zone)}")
        details.append(credit.reason)
        lines.append(f"    {neutral(' · '.join(details))}\n")
    lines.rstrip()
    app.console().print(lines)


COMMANDS: list[click.Command] = [wire_instructions, wires]
