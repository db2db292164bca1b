"""`closing attach`, `closing documents [get]` and `closing release`: the closing set's files kept
in the record, listed, given back byte for byte, and held pages released on the conditions."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path
from typing import Any

import click

from closing.cli.app import (
    App,
    by_option,
    checked,
    deal_option,
    for_whom,
    pass_app,
    replacing,
)
from closing.cli.report import not_for_the_terminal, write_stdout
from closing.domain.errors import UsageError
from closing.domain.mark_commands import FORMS
from closing.domain.text import MAX_TEXT, neutral, plural


def _checked_file(path: Path) -> Path:
    """A readable file within the size limit (the service reads it in pieces)."""
    from closing.services.documents import check_size

    try:
        if not path.is_file():
            raise UsageError(f"{neutral(str(path))} is not a file")
        check_size(path.stat().st_size)
        with path.open("rb"):
            return path
    except OSError as error:
        raise UsageError(f"cannot read {neutral(str(path))}: {error.strerror}") from None


@click.command()
@click.argument("party", callback=checked("PARTY"))
@click.argument("document", callback=checked("DOCUMENT"))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@deal_option
@click.option(
    "--signatory",
    metavar="NAME",
    callback=checked("--signatory"),
    help="Whose page it is: a signatory's name, or purchaser / company.",
)
@click.option(
    "--step",
    metavar="STEP",
    callback=checked("--step"),
    help="A step this file satisfies on its own (the original warrant, say).",
)
@click.option("--form", type=click.Choice(FORMS), help="How it came (default: the document's).")
@click.option("--hold", is_flag=True, help="Received in escrow: held until `closing release`.")
@by_option
@pass_app
def attach(
    app: App, /, party: str, document: str, file: Path, deal_name: str | None, **options: Any
) -> None:
    """Keep FILE in the record as PARTY's DOCUMENT (its SHA-256 in the event log).

    When every signatory's page of the document is in, the steps it satisfies are marked (the
    mark names the files). Use `company` as PARTY for the company's own documents."""
    from closing.services.documents import AttachRequest, attach_file

    request = AttachRequest(
        party=party,
        document=document,
        name=file.name,
        path=_checked_file(file),
        signatory=options["signatory"],
        step=options["step"],
        form=options["form"],
        hold=options["hold"],
        on_behalf_of=for_whom(options["by"]),
        host=socket.gethostname(),
    )
    done = attach_file(app.existing_database, deal_name, request, app.now())
    page = done.attachment
    whose = f" ({page.signatory}'s page)" if page.signatory else ""
    held = ", held in escrow" if page.hold else ""
    click.echo(
        f"Attached {neutral(page.name)} to {page.document} of {neutral(done.party.name)}{whose}"
        f"{held}: {page.size:,} bytes, {page.media_type}, sha256 {page.sha256}"
        + ("" if done.new_bytes else " (the same bytes were already on file)")
    )
    for event in done.marked:
        click.echo(f"Marked {event.step} for {neutral(done.party.name)} (the files are named).")
    for line in done.not_marked:
        click.echo(f"Not marked {neutral(line)}")


@click.group(invoke_without_command=True)
@deal_option
@click.option("--json", "as_json", is_flag=True, help="Every document x party, as JSON.")
@click.pass_context
def documents(ctx: click.Context, deal_name: str | None, as_json: bool) -> None:
    """The closing set: each document x party, its signatories, the files received, held or
    released, form and SHA-256."""
    if ctx.invoked_subcommand is not None:
        return
    from closing.domain.documents import marked_without_files
    from closing.services.documents import closing_set
    from closing.views.documents import copy_document, documents_text

    app = ctx.find_object(App)
    assert app is not None
    found = closing_set(app.existing_database, deal_name)
    zone = found.deal.terms.zone
    company = next((c.party.id for c in found.copies if c.party.is_company), None)
    unfiled = [
        marked_without_files(c, found.states[c.party.id], found.states.get(company or 0, {}))
        for c in found.copies
    ]
    if as_json:
        rows = [copy_document(c, zone, u) for c, u in zip(found.copies, unfiled, strict=True)]
        app.print_json({"deal": found.deal.slug, "documents": rows})
    else:
        click.echo(documents_text(found.copies, zone, unfiled))


@documents.command("get")
@click.argument("party", callback=checked("PARTY"))
@click.argument("document", callback=checked("DOCUMENT"))
@deal_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the file (never written over unless --force); - for standard output "
    "(not a terminal).",
)
@click.option(
    "--signatory",
    metavar="NAME",
    callback=checked("--signatory"),
    help="The page of this signatory (default: the last file received).",
)
@click.option("--force", is_flag=True, help="Write over an existing file.")
@pass_app
def get(
    app: App,
    /,
    party: str,
    document: str,
    deal_name: str | None,
    output: Path,
    signatory: str | None,
    force: bool,
) -> None:
    """Write PARTY's DOCUMENT, byte for byte as received (checked against its SHA-256); a page
    held in escrow is written too, and said to be held (not released)."""
    from closing.services.documents import file_bytes

    piped = str(output) == "-"
    if piped:
        not_for_the_terminal("a file of the closing set")
    page, content, escrow = file_bytes(app.existing_database, deal_name, party, document, signatory)
    if piped:
        write_stdout(content)
        if escrow:
            click.echo(f"Note: {neutral(page.name)} is held in escrow (not released).", err=True)
        return
    try:
        with replacing(output, exclusive=not force) as out:
            out.write(content)
    except FileExistsError:
        raise UsageError(f"{neutral(str(output))} exists; give another -o or --force") from None
    except OSError as error:
        raise UsageError(f"cannot write {neutral(str(output))}: {error.strerror}") from None
    click.echo(
        f"Wrote {neutral(str(output))}: {neutral(page.name)}, {page.size:,} bytes, "
        f"sha256 {page.sha256}" + (", held in escrow (not released)" if escrow else "")
    )


@click.command()
@click.argument(
    "parties", nargs=-1, callback=lambda _c, _p, v: [checked("PARTY")(_c, _p, x) for x in v]
)
@deal_option
@click.option("--all", "release_all", is_flag=True, help="Every held page of every party.")
@click.option(
    "--reason",
    required=True,
    metavar="TEXT",
    callback=checked("--reason", MAX_TEXT),
    help="Why the pages may go (kept with the release).",
)
@click.option(
    "--effective",
    metavar="DATE",
    help="The date the documents take effect: from the agreement date to today (default: today "
    "in the deal's zone).",
)
@by_option
@pass_app
def release(
    app: App,
    /,
    parties: list[str],
    deal_name: str | None,
    release_all: bool,
    reason: str,
    effective: str | None,
    by: str | None,
) -> None:
    """Release the held signature pages of PARTY ... (or --all), when each document's release
    conditions are met; refused, naming what is missing, otherwise."""
    from closing.services.documents import release_pages

    if bool(parties) == release_all:
        raise UsageError("name the parties whose pages to release, or give --all (not both)")
    day = None
    if effective is not None:
        try:
            day = date.fromisoformat(effective)
        except ValueError:
            raise UsageError(
                f"--effective {neutral(effective[:40])} is not a date like 2002-06-07"
            ) from None
    done = release_pages(
        app.existing_database,
        deal_name,
        list(parties),
        reason,
        for_whom(by),
        socket.gethostname(),
        app.now(),
        day,
    )
    for party, released in done.released:
        click.echo(
            f"Released {', '.join(released)} of {neutral(party.name)}, effective "
            f"{done.effective.isoformat()}."
        )
    click.echo(f"{plural(sum(len(d) for _, d in done.released), 'document')} released.")


COMMANDS = [attach, documents, release]


@click.command()
@click.argument("deal", required=False)
@deal_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The binder file (never written over unless --force).",
)
@click.option(
    "--format",
    "kind",
    type=click.Choice(["pdf", "zip"]),
    default="pdf",
    show_default=True,
    help="One PDF, or a zip of the files with index.html/.csv.",
)
@click.option("--force", is_flag=True, help="Write over an existing file.")
@pass_app
def binder(
    app: App, /, deal: str | None, deal_name: str | None, output: Path, kind: str, force: bool
) -> None:
    """The closing set as one PDF: a cover, the memo, a hyperlinked index, every file (each page
    stamped with its document and hash), and the record's integrity page; or --format zip.

    Refuses (exit 8) when the event log or a stored file does not hold."""
    import gc
    import html

    # The console script turns the cyclic collector off (a command lives a fraction of a
    # second); a WeasyPrint layout leaves cycles of megabytes (the memo, cover and index are
    # laid out in a child process where forking is safe, in this one elsewhere): collect them,
    # so that the binder's memory stays bounded by a file.
    gc.enable()

    from closing.services.binder import binder_content
    from closing.views.apart import in_child
    from closing.views.binder import Integrity, Tab, binder_pdf
    from closing.views.binder_zip import binder_zip
    from closing.views.memo import render_memo

    found = binder_content(app.existing_database, deal or deal_name, app.now())
    memo = found.memo
    tabs = [Tab(n, f.copy, f.page, f.write_to) for n, f in enumerate(found.files, start=1)]

    def memo_pdf() -> bytes:
        return render_memo(memo, "pdf")[0]

    if output.exists() and not force:
        raise UsageError(f"{neutral(str(output))} exists; give another -o or --force")
    pages = 0
    try:
        with replacing(output, exclusive=not force) as out:  # whole, or the old file kept
            if kind == "zip":
                # Laid out in a child process: its layout's leftovers are never this one's.
                binder_zip(tabs, in_child(memo_pdf), out)
            else:
                e = html.escape
                documents = len({(t.copy.document.id, t.copy.party.id) for t in tabs})
                cover = (
                    f"<h1>{e(memo.title)}</h1><p>Closing set of {e(memo.company)}</p>"
                    f"<p>As of {e(memo.as_of)}; {plural(len(tabs), 'file')} in "
                    f"{plural(documents, 'document')}.</p>"
                    f"<p>Record digest <code>{memo.digest}</code></p>"
                )
                seals = [f"{s.when} by {s.by}: {s.digest} ({s.signed})" for s in memo.seals]
                check = found.check
                integrity = Integrity(
                    check.digest, check.heads, check.events, found.verified_at, seals
                )
                pages = binder_pdf(cover, memo_pdf, tabs, integrity, out)
    except FileExistsError:
        raise UsageError(f"{neutral(str(output))} exists; give another -o or --force") from None
    except OSError as error:
        raise UsageError(f"cannot write {neutral(str(output))}: {error.strerror}") from None
    what = (
        f"zip, {plural(len(tabs), 'file')}"
        if kind == "zip"
        else f"PDF, {plural(pages, 'page')}, {plural(len(tabs), 'file')}"
    )
    click.echo(f"Wrote the closing set of {memo.slug} to {neutral(str(output))} ({what}).")


COMMANDS.append(binder)
