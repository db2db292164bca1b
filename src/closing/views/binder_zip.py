"""The closing set as a zip (`closing binder --format zip`): every file under a readable name,
the memo, `index.html` (each file a download link, never rendered: a Content-Security-Policy of
`default-src 'none'`) and `index.csv` (formulas neutralised). Each file is copied from the
database a piece at a time, checked against its hash before it goes in."""

from __future__ import annotations

import csv
import html
import io
import shutil
import time
import zipfile
from collections.abc import Sequence
from tempfile import TemporaryFile
from typing import IO

from closing.views.binder import IMAGES, Tab
from closing.views.export import neutralise


def binder_zip(tabs: Sequence[Tab], memo_pdf: bytes, out: IO[bytes]) -> int:
    """The zip binder: every file under a readable name, the memo, `index.html`, `index.csv`."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("memo.pdf", memo_pdf)
        rows = []
        for tab in tabs:
            # PDFs and images are compressed already: stored as they are, in less time.
            packed = tab.page.media_type in ("application/pdf", *IMAGES)
            method = zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED
            with TemporaryFile() as held:  # checked against its hash before it goes in
                tab.write_to(held)
                held.seek(0)
                member = zipfile.ZipInfo(f"files/{tab.file_name}", time.localtime()[:6])
                member.compress_type, member.external_attr = method, 0o600 << 16
                with archive.open(member, "w", force_zip64=True) as sink:
                    shutil.copyfileobj(held, sink, 1024 * 1024)
            rows.append(tab)
        archive.writestr("index.html", _index_html(rows))
        archive.writestr("index.csv", _index_csv(rows))
    return len(tabs)


INDEX_FIELDS = (
    "tab",
    "document",
    "party",
    "signatory",
    "form",
    "released",
    "file",
    "name",
    "media_type",
    "size",
    "sha256",
)


def _index_row(tab: Tab) -> list[str]:
    return [
        str(tab.number),
        tab.copy.document.id + (f" {tab.copy.number}" if tab.copy.number else ""),
        tab.copy.party.name,
        tab.page.signatory_name or tab.page.signatory or "",
        tab.page.form,
        tab.released,
        f"files/{tab.file_name}",
        tab.page.name,
        tab.page.media_type,
        str(tab.page.size),
        tab.page.sha256,
    ]


def _index_csv(tabs: Sequence[Tab]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(INDEX_FIELDS)
    for tab in tabs:
        writer.writerow([neutralise(value) for value in _index_row(tab)])
    return buffer.getvalue()


def _index_html(tabs: Sequence[Tab]) -> str:
    e = html.escape
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td><a href="{e(value)}" download>{e(value)}</a></td>'
            if field == "file"
            else f"<td>{e(value)}</td>"
            for field, value in zip(INDEX_FIELDS, _index_row(tab), strict=True)
        )
        + "</tr>"
        for tab in tabs
    )
    head = "".join(f"<th>{field}</th>" for field in INDEX_FIELDS)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        f"<title>Closing set</title></head><body><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>"
    )
