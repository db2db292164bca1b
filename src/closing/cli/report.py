"""`closing report`: the closing memorandum as PDF, HTML or Markdown; `closing export`: every
event of the record as CSV or JSON, for the closing binder or a spreadsheet.

The memo's content comes from `closing.domain.memo` (pure); this module only sets it in a format and
writes it. Jinja2 and WeasyPrint are imported inside the commands, so `closing --help` stays fast.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from closing.cli.app import App, deal_option, local_time, pass_app
from closing.domain.errors import DealFileError, Problem, RecordBrokenError, UsageError
from closing.domain.text import plural

if TYPE_CHECKING:
    from jinja2 import Environment

    from closing.domain.memo import Memo

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
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


def _write(output: str, data: bytes) -> None:
    """Write the file (everything is rendered before: a failure leaves no half-written memo)."""
    try:
        Path(output).write_bytes(data)
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror or error}") from None


# --- the memo in each format -------------------------------------------------------------------


class Markdown(str):
    """Text that is already Markdown: the template environment leaves it as it is."""


_MD_INLINE = re.compile(r"([\\`*_\[\]<|~])|&(?=#?\w+;)")  # `>` only matters at a line start
_MD_LINE_START = re.compile(r"^(?:[#>+=-]|\d+[.)])")


def md_escape(value: object) -> str:
    """Text as Markdown that prints exactly that text: every character that could start
    emphasis, code, a link, HTML, an entity or a table cell is escaped, as is a line-start mark
    (a heading, a list, a quote); line breaks become spaces so a value cannot leave its cell."""
    if value is None:
        return ""
    if isinstance(value, Markdown):
        return str(value)
    text = " ".join(str(value).splitlines())
    text = _MD_INLINE.sub(lambda m: "\\" + m.group(0), text)
    return "\\" + text if _MD_LINE_START.match(text) else text


def _md_code(value: str) -> Markdown:
    return Markdown(f"`{value}`") if "`" not in value else Markdown(md_escape(value))


def _environment(folder: str | None, markdown: bool) -> Environment:
    """The package's templates, after the deal's own folder when it has one."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    loaders = [FileSystemLoader(folder)] if folder else []
    loader = ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))])
    if markdown:
        env = Environment(
            loader=loader,
            autoescape=False,
            finalize=md_escape,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["raw"] = Markdown
        env.globals.update(br=Markdown("<br>"), code=_md_code)
        return env
    return Environment(
        loader=loader,
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_text(memo: Memo, kind: str, folder: str | None = None) -> str:
    """The memo as HTML (`html`) or Markdown (`md`) from `memo.<kind>.j2`."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

    name = f"memo.{kind}.j2"
    if folder and not Path(folder).is_dir():
        raise DealFileError(
            [
                Problem(
                    folder, None, "report.templates: no such folder; restore it or reload the deal"
                )
            ]
        )
    try:
        template = _environment(folder, markdown=kind == "md").get_template(name)
        return template.render(memo=memo)
    except TemplateSyntaxError as error:
        where = error.filename or name
        raise DealFileError([Problem(where, error.lineno, f"template: {error.message}")]) from None
    except TemplateNotFound:
        raise DealFileError([Problem(folder or str(TEMPLATES), None, f"no {name}")]) from None
    except TemplateError as error:
        raise DealFileError([Problem(folder or name, None, f"template: {error}")]) from None


def render_pdf(html: str, folder: str | None = None) -> tuple[bytes, int]:
    """The HTML memo set as a Letter-size PDF by WeasyPrint; the PDF and its page count."""
    import logging

    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    base = folder or str(TEMPLATES)
    # Local files (a deal template's logo, say) and data: URLs only: a memo never reaches the
    # network, whatever a template asks for.
    local_only = URLFetcher(allowed_protocols=("file", "data"))
    document = HTML(string=html, base_url=base + os.sep, url_fetcher=local_only).render()
    return bytes(document.write_pdf()), len(document.pages)


@click.command(short_help="The closing memorandum, as PDF, HTML or Markdown.")
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--format",
    "kind",
    type=click.Choice(list(MEMO_FORMATS)),
    help="pdf, html or md (default: from -o's suffix, else pdf).",
)
@click.option("-o", "--output", metavar="FILE", help="Write the memo to FILE (default: stdout).")
@click.option(
    "--as-of",
    metavar="TIME",
    help="The memo as the record stood at TIME (08:30, 2002-06-07 08:30 in the deal's zone, or ISO "
    "8601 with an offset).",
)
@pass_app
def report(
    app: App,
    deal: str | None,
    deal_name: str | None,
    kind: str | None,
    output: str | None,
    as_of: str | None,
) -> None:
    """The closing memorandum, from the event log: terms, Schedule 1, each step's time, person
    and evidence, corrections, and the head hashes of the record.

    Refuses (exit 8) when the event log does not hold: run closing verify."""
    from closing.domain.memo import Verified, build_memo
    from closing.services.board import board
    from closing.services.record import deal_record
    from closing.services.verify import verify_log

    chosen = _format(kind, output, MEMO_FORMATS, "pdf")
    if chosen == "pdf" and output is None and sys.stdout.isatty():
        raise UsageError("a PDF is not for the terminal: give -o FILE or redirect the output")
    now = app.now()
    shown = board(app.existing_database, deal or deal_name, now, local_time(as_of, "--as-of"))
    slug = shown.terms.slug
    checked = verify_log(app.existing_database, slug, now)
    if checked.broken is not None:
        broken = checked.broken
        raise RecordBrokenError(
            f"the event log of {slug} does not hold (event #{broken.seq} of "
            f"{broken.party.lstrip('@')} is {broken.what}); no memo can certify it: see closing "
            "verify"
        )
    found = deal_record(app.existing_database, slug)
    memo = build_memo(
        found, shown, Verified(now, checked.events, checked.heads), now, as_of is not None
    )
    settings = found.deal.terms.report
    folder = settings.templates if settings else None
    pages: int | None = None
    if chosen == "pdf":
        data, pages = render_pdf(render_text(memo, "html", folder), folder)
    else:
        data = render_text(memo, chosen, folder).encode()
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    _write(output, data)
    what = MEMO_FORMATS[chosen] + (f", {plural(pages, 'page')}" if pages is not None else "")
    app.out(f"Wrote the closing memorandum of {slug} as of {memo.as_of} to {output} ({what}).")


# --- the binder export ---------------------------------------------------------------------------

_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with =, +, -, @, a tab or a carriage
    return gets a leading apostrophe (OWASP's advice); plain numbers stay numbers."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA) and not _NUMBER.match(text):
        return "'" + text
    return text


def export_csv(rows: list[dict[str, str | int | None]]) -> str:
    from closing.domain.memo import EXPORT_FIELDS

    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([neutralise(row[name]) for name in EXPORT_FIELDS])
    return buffer.getvalue()


@click.command(short_help="Every event of the record, as CSV or JSON.")
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--format",
    "kind",
    type=click.Choice(list(EXPORT_FORMATS)),
    help="csv or json (default: from -o's suffix, else csv).",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (default: stdout).")
@pass_app
def export(
    app: App, deal: str | None, deal_name: str | None, kind: str | None, output: str | None
) -> None:
    """Every event of the record (and each load of the deal file) with all its fields and hashes:
    money as exact strings, times ISO 8601 with offset; CSV safe to open in a spreadsheet."""
    from closing.domain.memo import export_rows
    from closing.services.record import deal_record

    chosen = _format(kind, output, EXPORT_FORMATS, "csv")
    found = deal_record(app.existing_database, deal or deal_name)
    rows = export_rows(found)
    terms = found.deal.terms
    if chosen == "json":
        import orjson

        document = {
            "deal": terms.slug,
            "title": terms.title,
            "time_zone": terms.cutoff.time_zone,
            "exported_at": app.now().astimezone(terms.zone).isoformat(),
            "records": rows,
        }
        data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    else:
        # A byte-order mark in a file, so a spreadsheet reads the text as UTF-8.
        data = export_csv(rows).encode("utf-8-sig" if output else "utf-8")
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    _write(output, data)
    app.out(
        f"Wrote {plural(len(rows), 'record')} of {terms.slug} to {output} "
        f"({EXPORT_FORMATS[chosen]})."
    )


COMMANDS = [report, export]
