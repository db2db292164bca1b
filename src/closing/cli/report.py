"""`closing report`: the closing memorandum as PDF, HTML or Markdown; `closing export`: every
event of the record as CSV or JSON, for the closing binder or a spreadsheet.

Each command reads the record through the services, builds the content in the domain
(`closing.domain.memo`, `closing.domain.export`) and sets it with one view (`closing.views.memo`,
`closing.views.export`); this module picks the format and writes the file. The views are imported
inside the commands, so `closing --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from closing.cli.app import App, deal_option, local_time, pass_app, replacing
from closing.domain.errors import RecordBrokenError, UsageError
from closing.domain.text import neutral, plural

MEMO_FORMATS = {"pdf": "PDF", "html": "HTML", "md": "Markdown"}
EXPORT_FORMATS = {"csv": "CSV", "json": "JSON"}
SUFFIXES = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".json": "json",
}


def _format(given: str | None, output: str | None, allowed: dict[str, str], default: str) -> str:
    """--format, else the output file's suffix, else the default."""
    if given:
        return given
    if output:
        found = SUFFIXES.get(Path(output).suffix.lower())
        if found in allowed:
            return found
    return default


def not_for_the_terminal(what: str) -> None:
    """Refused (exit 2) when standard output is a terminal: `what` (a PDF, a file's bytes) is
    for a file or a pipe."""
    if sys.stdout.isatty():
        raise UsageError(f"{what} is not for the terminal: give -o FILE or redirect the output")


def write_stdout(data: bytes) -> None:
    """`data` on standard output as it is (a memo, an export, a file of the closing set), after
    what went before through the text layer."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _write(output: str, data: bytes) -> None:
    """Write the file (everything is rendered before: a failure leaves no half-written memo)."""
    try:
        with replacing(Path(output)) as out:  # the old file survives a failure
            out.write(data)
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror or error}") from None


@click.command(short_help="The closing memorandum, as PDF, HTML or Markdown.")
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--format",
    "kind",
    type=click.Choice(list(MEMO_FORMATS)),
    help="pdf, html or md (default: from -o's suffix, else pdf).",
)
@click.option(
    "-o", "--output", metavar="FILE", help="Write the memo to FILE (default, or -: stdout)."
)
@click.option(
    "--as-of",
    metavar="TIME",
    help="The memo as the record stood at TIME (08:30, 2002-06-07 08:30 in the deal's zone, or ISO "
    "8601 with an offset).",
)
@click.option(
    "--templates",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="A folder of your own memo.html.j2 / memo.md.j2, found before the package's (sandboxed).",
)
@click.option(
    "--author", metavar="NAME", help="The memo's author (else the deal file's memo.author)."
)
@click.option("--firm", metavar="NAME", help="The author's firm (else memo.firm).")
@click.option(
    "--to", "to", metavar="NAME", multiple=True, help="An addressee (repeat; else memo.addressees)."
)
@click.option(
    "--legend",
    metavar="TEXT",
    help='The legend at the top ("Privileged and confidential — attorney work product"), or '
    "none (else memo.legend).",
)
@pass_app
def report(
    app: App,
    deal: str | None,
    deal_name: str | None,
    kind: str | None,
    output: str | None,
    as_of: str | None,
    templates: str | None,
    author: str | None,
    firm: str | None,
    to: tuple[str, ...],
    legend: str | None,
) -> None:
    """The closing memorandum, from the event log: terms, Schedule 1, each step's time, person
    and evidence, corrections, and the head hashes of the record.

    Refuses (exit 8) when the event log does not hold: run closing verify."""
    from closing.domain.memo import Verified, build_memo
    from closing.domain.memo_sections import memo_heading
    from closing.services.record import memo_inputs
    from closing.views.memo import render_memo

    output = None if output == "-" else output  # -o -: standard output, as without -o
    chosen = _format(kind, output, MEMO_FORMATS, "pdf")
    if chosen == "pdf" and output is None:
        not_for_the_terminal("a PDF")
    now = app.now()
    moment = local_time(as_of, "--as-of")
    inputs = memo_inputs(app.existing_database, deal or deal_name, now, moment)
    shown, checked, found = inputs.board, inputs.check, inputs.record
    slug = shown.terms.slug
    if checked.broken is not None:
        broken = checked.broken
        raise RecordBrokenError(
            f"the event log of {slug} does not hold (event #{broken.seq} of "
            f"{broken.party.lstrip('@')} is {broken.what}); no memo can certify it: see closing "
            "verify"
        )
    memo = build_memo(
        found,
        shown,
        Verified(now, checked.events, checked.heads),
        now,
        as_of is not None,
        memo_heading(shown.terms.memo, author, firm, to, legend),
        inputs.funds,
    )
    settings = found.deal.terms.report
    if settings is not None and settings.templates and templates is None:
        click.echo(
            "Warning: the deal file's report.templates is ignored: templates are code, and a "
            "deal file is data; give the folder with closing report --templates DIR",
            err=True,
        )
    refused: list[str] = []
    data, pages = render_memo(memo, chosen, templates, refused)
    for url in dict.fromkeys(refused):
        click.echo(
            f"Warning: the memo names {neutral(url)}: not fetched, left out of the memo", err=True
        )
    if output is None:
        write_stdout(data)
        return
    _write(output, data)
    what = MEMO_FORMATS[chosen] + (f", {plural(pages, 'page')}" if pages is not None else "")
    click.echo(f"Wrote the closing memorandum of {slug} as of {memo.as_of} to {output} ({what}).")


@click.command(short_help="Every event of the record, as CSV or JSON.")
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--format",
    "kind",
    type=click.Choice(list(EXPORT_FORMATS)),
    help="csv or json (default: from -o's suffix, else csv).",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (default, or -: stdout).")
@pass_app
def export(
    app: App, deal: str | None, deal_name: str | None, kind: str | None, output: str | None
) -> None:
    """Every event of the record (and each load of the deal file) with all its fields and hashes:
    money as exact strings, times ISO 8601 with offset; CSV safe to open in a spreadsheet."""
    from closing.domain.export import export_rows
    from closing.services.record import deal_record
    from closing.views.export import export_csv, export_json

    output = None if output == "-" else output  # -o -: standard output, as without -o
    chosen = _format(kind, output, EXPORT_FORMATS, "csv")
    found = deal_record(app.existing_database, deal or deal_name)
    rows = export_rows(found)
    terms = found.deal.terms
    if chosen == "json":
        data = export_json(rows, terms, app.now())
    else:
        # A byte-order mark in a file, so a spreadsheet reads the text as UTF-8.
        data = export_csv(rows).encode("utf-8-sig" if output else "utf-8")
    if output is None:
        write_stdout(data)
        return
    _write(output, data)
    click.echo(
        f"Wrote {plural(len(rows), 'record')} of {terms.slug} to {output} "
        f"({EXPORT_FORMATS[chosen]})."
    )


COMMANDS = [report, export]
