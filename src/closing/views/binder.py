"""The closing set as one PDF (`closing binder`): a cover, the closing memorandum, a hyperlinked
index (each entry a link to its tab, and an outline item per document), every stored file in
order (images made pages with img2pdf, a file that cannot be shown a page that says so), each of
its pages stamped in the margin with the document id and the file's hash prefix, and the record's
integrity page. (The zip binder is `closing.views.binder_zip`.)

Files are data: a PDF's pages are copied without its scripts, actions or forms (pikepdf copies
the page alone, its /Annots and /AA dropped, and the document catalogue's /OpenAction and /AA are
never copied); an HTML file is never rendered, only listed and put in the zip.

Memory stays bounded by a file, not the set: each file is written to a temporary folder a piece
at a time, and qpdf copies its pages' streams from there while the binder is written; the cover,
memo, index and integrity page are laid out by WeasyPrint in a child process
(`closing.views.apart`), so the megabytes a layout leaves behind are never the binder's.
"""

from __future__ import annotations

import gc
import html
import io
import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import IO, Any, BinaryIO

from closing.domain.documents import Attachment, DocumentCopy
from closing.domain.errors import RecordBrokenError
from closing.domain.text import neutral
from closing.views.apart import in_child

STAMP_SIZE = 7  # points
PX = 0.75  # WeasyPrint's CSS pixel in PDF points
_LINK_BASE = "https://binder.invalid/tab/"
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/tiff")


@dataclass(frozen=True)
class Tab:
    """One file of the binder, in order: its document x party, the file, and its bytes' loader."""

    number: int
    copy: DocumentCopy
    page: Attachment
    write_to: Callable[[IO[bytes]], None]  # writes the file's bytes, checked against its hash

    @property
    def stamp(self) -> str:
        number = f" {self.copy.number}" if self.copy.number else ""
        party = self.copy.party.slug
        return f"{self.copy.document.id}{number} / {party} / sha256 {self.page.sha256[:16]}"

    @property
    def title(self) -> str:
        number = f" {self.copy.number}" if self.copy.number else ""
        return f"{self.copy.document.title}{number} - {self.copy.party.name}"

    @property
    def released(self) -> str:
        """The effective date of the release that let this file go; "" while it is held (or
        when none has covered it)."""
        release = self.copy.release_of(self.page)
        return release.effective.isoformat() if release is not None else ""

    @property
    def file_name(self) -> str:
        """`03-spa-stonestreet-company-page.pdf`: the zip's readable, safe name."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", self.page.name).strip("-.") or "file"
        signer = f"-{self.page.signatory}" if self.page.signatory else ""
        party = self.copy.party.slug.lstrip("@")
        name = f"{self.number:02d}-{self.copy.document.id}-{party}{signer}-{stem}"
        return name[-180:] if len(name) > 180 else name


@dataclass(frozen=True)
class Integrity:
    digest: str
    heads: dict[str, str]
    events: int
    verified_at: str
    seals: Sequence[str]


_STYLE = (
    "@page { size: letter; margin: 0.9in 0.8in; } body { font-family: serif; font-size: 10pt; }"
    " h1 { font-size: 20pt; } table { border-collapse: collapse; width: 100%; }"
    " td, th { border-bottom: 0.5pt solid #999; padding: 3pt; text-align: left;"
    " vertical-align: top; font-size: 8.5pt; } a { color: #003a80; text-decoration: none; }"
    " code { font-size: 7.5pt; word-break: break-all; }"
)


def _layout(body: str) -> Any:
    """`body` laid out by WeasyPrint as Letter pages (data: URLs only: nothing fetched)."""
    import logging

    from closing.views.memo import load_weasyprint

    load_weasyprint()
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    document = HTML(
        string=f"<html><head><style>{_STYLE}</style></head><body>{body}</body></html>",
        url_fetcher=URLFetcher(allowed_protocols=("data",)),
    ).render()
    gc.collect()  # a layout leaves megabytes of cycles behind: gone before the next one
    return document


def _html_page(body: str) -> bytes:
    written = bytes(_layout(body).write_pdf())
    gc.collect()
    return written


def _index_body(tabs: Sequence[Tab], first_pages: dict[int, int]) -> str:
    rows = []
    for tab in tabs:
        e = html.escape
        signers = "; ".join(s.shown for s in tab.copy.document.signatories) or "-"
        page = first_pages.get(tab.number, 0) + 1
        rows.append(
            f'<tr><td><a href="{_LINK_BASE}{tab.number}">{tab.number}</a></td>'
            f'<td><a href="{_LINK_BASE}{tab.number}">{e(tab.title)}</a></td>'
            f"<td>{e(signers)}</td><td>{e(tab.page.form)}</td><td>{e(tab.released)}</td>"
            f"<td><code>{tab.page.sha256[:16]}</code></td><td>{page}</td></tr>"
        )
    return (
        "<h1>Index of the closing set</h1><table><thead><tr><th>Tab</th><th>Document</th>"
        "<th>Signatories</th><th>Form</th><th>Released</th><th>SHA-256</th><th>Page</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _note_page(tab: Tab, why: str) -> bytes:
    e = html.escape
    return _html_page(
        f"<h1>{e(tab.title)}</h1><p>The file <b>{e(tab.page.name)}</b> ({e(tab.page.media_type)},"
        f" {tab.page.size:,} bytes) {e(why)}; it is kept in the record and in the zip binder"
        f" (closing binder --format zip).</p><p>SHA-256 <code>{tab.page.sha256}</code></p>"
    )


def _pdf_text(text: str) -> bytes:
    """`text` as a PDF string literal's content (Latin-1; the hash and ids are ASCII anyway)."""
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def stamp_pdf(text: str, width: float, height: float) -> bytes:
    """A one-page PDF, `width` x `height` points, with `text` in its bottom margin (Helvetica, a
    standard font: nothing embedded), to lay over a page of a file."""
    content = b"BT /F1 %d Tf 0.25 g 18 8 Td (%s) Tj ET" % (STAMP_SIZE, _pdf_text(text))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>" % (width, height),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content) + 1, content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _opened(pdf: bytes | Path, stack: ExitStack) -> Any:
    """A pikepdf `Pdf` from bytes or a file (read as a stream, not mapped), closed with `stack`."""
    import pikepdf

    if isinstance(pdf, Path):
        return stack.enter_context(pikepdf.open(pdf, access_mode=pikepdf.AccessMode.stream))
    return stack.enter_context(pikepdf.open(io.BytesIO(pdf)))


def _tab_part(tab: Tab, folder: Path) -> tuple[Path, int]:
    """The tab's pages, each stamped, as a PDF in `folder`, and how many there are: the file
    itself (written there a piece at a time), an image made a page, or a page that says why it
    cannot be shown."""
    import pikepdf

    kind = tab.page.media_type
    source = folder / f"{tab.number}.source"
    part = folder / f"{tab.number}.pdf"
    try:
        if kind == "application/pdf":
            with source.open("wb") as sink:
                tab.write_to(sink)
            try:
                return part, _stamped(source, tab, part)
            except pikepdf.PasswordError:
                return part, _stamped(_note_page(tab, "is encrypted"), tab, part)
        if kind in IMAGES:
            import img2pdf

            image = io.BytesIO()
            tab.write_to(image)
            letter = (img2pdf.in_to_pt(8.5), img2pdf.in_to_pt(11))
            layout = img2pdf.get_layout_fun(letter)
            source.write_bytes(img2pdf.convert(image.getvalue(), layout_fun=layout))
            del image
            return part, _stamped(source, tab, part)
    except RecordBrokenError:
        raise
    except Exception:  # a damaged file is still listed: a page says it cannot be shown
        return part, _stamped(_note_page(tab, "cannot be read as a page"), tab, part)
    finally:
        source.unlink(missing_ok=True)
    return part, _stamped(_note_page(tab, "cannot be shown as pages here"), tab, part)


def _stamped(source: bytes | Path, tab: Tab, part: Path) -> int:
    """`source`'s pages written to `part`, each stamped with the tab, without the file's links,
    forms or page actions; the page count. An encrypted file is not opened up: a note says so."""
    import pikepdf
    from pikepdf import Name, Rectangle

    with ExitStack() as stack:
        pdf = _opened(source, stack)
        if pdf.is_encrypted:
            return _stamped(_note_page(tab, "is encrypted"), tab, part)
        stamps: dict[tuple[float, float], Any] = {}  # one per page size: the pages share it
        for page in pdf.pages:
            _drop(page, Name.Annots, Name.AA)
            box = Rectangle(page.mediabox)
            size = (box.width, box.height)
            if size not in stamps:
                stamps[size] = _opened(stamp_pdf(tab.stamp, *size), stack).pages[0]
            page.add_overlay(stamps[size], box)
        # Streams are copied as they are (a scan's JPEG is not decoded and encoded again).
        pdf.save(part, stream_decode_level=pikepdf.StreamDecodeLevel.none)
        return len(pdf.pages)


JOIN_AT_ONCE = 8  # files qpdf joins in one go: it holds each one open, with its tables


def _joined(files: list[Path]) -> Path:
    """`files` (in one folder) joined, in their order, into one PDF there: by qpdf's `--pages`,
    which copies a file's streams only as it writes them, a few files at a time."""
    import pikepdf

    level = 0
    while True:
        groups = [files[at : at + JOIN_AT_ONCE] for at in range(0, len(files), JOIN_AT_ONCE)]
        joined = []
        for number, group in enumerate(groups):
            target = group[0].with_name(f"joined-{level}-{number}.pdf")
            pages = ["--pages", *(str(path) for path in group), "--"]
            pikepdf.Job(["qpdf", "--empty", *pages, str(target)]).run()
            for path in group:
                path.unlink()
            joined.append(target)
        if len(joined) == 1:
            return joined[0]
        files, level = joined, level + 1


def _drop(page: Any, *keys: Any) -> None:
    for key in keys:
        if key in page.obj:
            del page.obj[key]


def _integrity_body(integrity: Integrity) -> str:
    e = html.escape
    heads = "".join(
        f"<tr><td>{e(neutral(party.lstrip('@')))}</td><td><code>{head}</code></td></tr>"
        for party, head in integrity.heads.items()
    )
    seals = "".join(f"<li>{e(neutral(line))}</li>" for line in integrity.seals) or "<li>none</li>"
    return (
        "<h1>The record's integrity</h1>"
        f"<p>closing verify, {e(integrity.verified_at)}: {integrity.events:,} events hold.</p>"
        f"<p>Record digest <code>{integrity.digest}</code></p>"
        f"<table><thead><tr><th>Chain</th><th>Head</th></tr></thead><tbody>{heads}</tbody></table>"
        f"<h2>Seals</h2><ul>{seals}</ul>"
        "<p>Each file of this binder is named in the record by its SHA-256; each of its pages "
        "is stamped with the document and the hash's first 16 characters.</p>"
    )


Links = list[tuple[int, int, tuple[float, float, float, float]]]


@dataclass(frozen=True)
class _Front:
    """What the front matter's layout tells the rest of the binder."""

    cover_pages: int
    before_index: int  # the cover's and the memo's pages
    first: dict[int, int]  # each tab's first page (from 0)
    links: Links  # (index page, tab number, rectangle in PDF points)


def _front_and_back(
    folder: Path,
    cover: str,
    memo_pdf: Callable[[], bytes],
    parts: Sequence[tuple[Tab, Path, int]],
    integrity: Integrity,
) -> _Front:
    """The cover, the memo and the index laid out and written as `front.pdf` in `folder`, the
    integrity page as `back.pdf`."""
    import pikepdf
    from pikepdf import Name

    with ExitStack() as stack:
        cover_pdf = _opened(_html_page(cover), stack)
        memo = _opened(memo_pdf(), stack)
        # The index's own length moves every tab: lay it out until its page count settles.
        before_index = len(cover_pdf.pages) + len(memo.pages)
        index_count, first = 1, dict[int, int]()
        for _ in range(4):
            start = before_index + index_count
            first = {}
            for tab, _part, count in parts:
                first[tab.number] = start
                start += count
            index_pdf, index_pages, links = _index_pdf([tab for tab, *_ in parts], first)
            if index_pages == index_count:
                break
            index_count = index_pages
        front = stack.enter_context(pikepdf.new())
        front.pages.extend(cover_pdf.pages)
        front.pages.extend(memo.pages)
        front.pages.extend(_opened(index_pdf, stack).pages)
        for page in front.pages[before_index:]:
            _drop(page, Name.Annots)  # the index's links are made below, to the joined pages
        front.save(folder / "front.pdf")
        (folder / "back.pdf").write_bytes(_html_page(_integrity_body(integrity)))
        return _Front(len(cover_pdf.pages), before_index, first, links)


def binder_pdf(
    cover: str,
    memo_pdf: Callable[[], bytes],
    tabs: Sequence[Tab],
    integrity: Integrity,
    out: BinaryIO,
) -> int:
    """Write the binder PDF to `out`, with the memo `memo_pdf()` lays out; its page count.

    Each tab is made a stamped PDF of its own in a temporary folder, one at a time; then the
    cover, the memo, the index and the integrity page are laid out by WeasyPrint in a child
    process (`in_child`: a layout's leftovers leave with it); qpdf joins the parts there (its
    `--pages`, which reads a part's streams only as it writes them), and the links and
    outlines are added to the joined file as it is copied to `out`: the binder holds one file
    at a time and the pages' structure, never the set's bytes."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name, OutlineItem

    with TemporaryDirectory(prefix="closing-binder-") as name, ExitStack() as stack:
        folder = Path(name)
        parts = [(tab, *_tab_part(tab, folder)) for tab in tabs]
        laid = in_child(lambda: _front_and_back(folder, cover, memo_pdf, parts, integrity))
        before_index, first, links = laid.before_index, laid.first, laid.links
        joined = _joined(
            [folder / "front.pdf", *(part for _tab, part, _n in parts), folder / "back.pdf"]
        )
        output = _opened(joined, stack)
        for index_page, number, rect in links:
            link = Dictionary(
                Type=Name.Annot,
                Subtype=Name.Link,
                Rect=Array(rect),
                Border=Array([0, 0, 0]),
                Dest=Array([output.pages[first[number]].obj, Name.Fit]),
            )
            page = output.pages[before_index + index_page]
            if Name.Annots not in page.obj:
                page.obj.Annots = Array()
            page.obj.Annots.append(output.make_indirect(link))
        with output.open_outline() as outline:
            index_item = OutlineItem("Index", before_index)
            for tab, _part, _count in parts:
                title = f"{tab.number}. {neutral(tab.title)}"
                index_item.children.append(OutlineItem(title, first[tab.number]))
            outline.root.extend(
                [
                    OutlineItem("Cover", 0),
                    OutlineItem("Closing memorandum", laid.cover_pages),
                    index_item,
                    OutlineItem("The record's integrity", len(output.pages) - 1),
                ]
            )
        output.docinfo[Name.Title] = neutral(cover_title(cover))
        output.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
        return len(output.pages)


def cover_title(cover: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", cover)
    return html.unescape(found.group(1)) if found else "Closing set"


def _index_pdf(tabs: Sequence[Tab], first: dict[int, int]) -> tuple[bytes, int, Links]:
    """The index as PDF pages, its page count, and each link's (index page, tab number,
    rectangle in PDF points)."""
    # Laid out once: the links' boxes are read from the layout the pages are written from.
    document = _layout(_index_body(tabs, first))
    links: Links = []
    for index, page in enumerate(document.pages):
        height = page.height * PX
        for _kind, target, (x0, y0, x1, y1), *_rest in page.links:  # CSS px, from the top
            if isinstance(target, str) and target.startswith(_LINK_BASE):
                number = int(target[len(_LINK_BASE) :])
                rect = (x0 * PX, height - y1 * PX, x1 * PX, height - y0 * PX)
                links.append((index, number, rect))
    return bytes(document.write_pdf()), len(document.pages), links


__all__ = ["IMAGES", "Integrity", "Tab", "binder_pdf", "stamp_pdf"]
