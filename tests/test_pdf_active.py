"""A PDF sent as a signature page (or uploaded by the team) may hold nothing active: the check
(closing.domain.signature_page.check_page) reads the objects as a PDF reader resolves them, so an
/OpenAction JavaScript hidden in an object stream deflated twice, or deflated once past what a
byte scan inflates, is refused; a plain page passes."""

from __future__ import annotations

import io
import zlib

import pikepdf
import pypdf
import pytest

from closing.domain.errors import UsageError
from closing.domain.signature_page import check_page

CATALOG = (
    b"<< /Type /Catalog /Pages 3 0 R /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>"
)
PLAIN = b"<< /Type /Catalog /Pages 3 0 R >>"


def object_stream_pdf(catalog: bytes, double_flate: bool = True, pad: int = 0) -> bytes:
    """A valid PDF 1.5 whose Catalog lives in an object stream deflated twice (/Filter
    [/FlateDecode /FlateDecode]), or once after `pad` bytes of spaces."""
    objs = [
        catalog,
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] >>",
    ]
    body, offsets = b"", []
    for obj in objs:
        offsets.append(len(body))
        body += obj + b"\n"
    header = " ".join(f"{n} {off}" for n, off in zip((2, 3, 4), offsets, strict=True)).encode()
    header += b" " + b" " * pad
    raw = header + body
    if double_flate:
        data, filters = zlib.compress(zlib.compress(raw)), b"[/FlateDecode /FlateDecode]"
    else:
        data, filters = zlib.compress(raw, 9), b"/FlateDecode"
    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    first = len(out)
    out += (
        (
            b"1 0 obj\n<< /Type /ObjStm /N 3 /First %d /Length %d /Filter %s >>\nstream\n"
            % (len(header), len(data), filters)
        )
        + data
        + b"\nendstream\nendobj\n"
    )
    xref_at = len(out)
    rows = [(0, 0, 65535), (1, first, 0), (2, 1, 0), (2, 1, 1), (2, 1, 2), (1, xref_at, 0)]
    xref = b"".join(bytes([t]) + a.to_bytes(4, "big") + b.to_bytes(2, "big") for t, a, b in rows)
    out += (
        (
            b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 2 0 R /Length %d >>\nstream\n"
            % len(xref)
        )
        + xref
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )
    return out


@pytest.mark.parametrize(
    "pdf",
    [object_stream_pdf(CATALOG), object_stream_pdf(CATALOG, False, pad=11 * 1024 * 1024)],
    ids=["flate-twice", "past-the-inflate-cap"],
)
def test_a_hidden_open_action_is_refused(pdf: bytes) -> None:
    assert len(pdf) < 64 * 1024
    root = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    assert root["/OpenAction"]["/S"] == "/JavaScript"  # a reader runs it on opening
    with pytest.raises(UsageError, match="the PDF holds scripts or actions"):
        check_page("page.pdf", pdf, "application/pdf")


def test_a_plain_page_in_an_object_stream_passes() -> None:
    check_page("page.pdf", object_stream_pdf(PLAIN), "application/pdf")
    plain = io.BytesIO()
    with pikepdf.new() as made:
        made.add_blank_page()
        made.save(plain)
    check_page("blank.pdf", plain.getvalue(), "application/pdf")


def linked_page(action: dict[str, object], indirect: bool = False, streams: bool = True) -> bytes:
    """A one-page PDF whose page has a Link annotation with the action `action` (an indirect
    object of its own when `indirect`), the objects in compressed object streams (`streams`)."""
    out = io.BytesIO()
    with pikepdf.new() as made:
        made.add_blank_page()
        target = made.pages[0].obj
        values = {k: target if v == "page" else v for k, v in action.items()}
        values = {k: [target, pikepdf.Name.Fit] if k == "/D" else v for k, v in values.items()}
        made_action = pikepdf.Dictionary(values)
        link = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[72, 72, 300, 100],
            A=made.make_indirect(made_action) if indirect else made_action,
        )
        made.pages[0].Annots = made.make_indirect(pikepdf.Array([link]))
        mode = pikepdf.ObjectStreamMode.generate if streams else pikepdf.ObjectStreamMode.disable
        made.save(out, object_stream_mode=mode, compress_streams=streams)
    return out.getvalue()


URI = {"/S": pikepdf.Name.URI, "/URI": pikepdf.String("https://example.invalid/sign")}
GOTOR = {"/S": pikepdf.Name.GoToR, "/F": pikepdf.String("other.pdf"), "/D": "page"}
GOTO = {"/S": pikepdf.Name.GoTo, "/D": "page"}


@pytest.mark.parametrize(
    "pdf",
    [
        linked_page(URI),
        linked_page(URI, indirect=True),
        linked_page(URI, streams=False),
        linked_page(GOTOR),
        linked_page(GOTOR, indirect=True, streams=False),
        linked_page({"/S": pikepdf.Name.Named, "/N": pikepdf.Name.Print}),
        linked_page({"/S": pikepdf.Name.SomethingNew}),
        linked_page({**GOTO, "/Next": pikepdf.Dictionary(URI)}),
        linked_page({**GOTO, "/Next": pikepdf.Array([pikepdf.Dictionary(GOTOR)])}, True),
        # Deflated twice, past the byte scan: only the objects as a reader resolves them show it.
        object_stream_pdf(PLAIN.replace(b" >>", b" /X << /A << /S /URI /URI (x) >> >> >>")),
        object_stream_pdf(PLAIN.replace(b" >>", b" /X << /A << /S /Wat >> >> >>")),
    ],
    ids=[
        "uri",
        "uri-indirect",
        "uri-plain",
        "gotor",
        "gotor-plain",
        "named",
        "unknown-type",
        "goto-then-uri",
        "goto-then-gotor",
        "hidden-uri",
        "hidden-unknown-type",
    ],
)
def test_a_link_out_of_the_page_is_refused(pdf: bytes) -> None:
    """A link to a web address or another file (or any action but an internal /GoTo) is
    refused as JavaScript is, wherever the action's dictionary lives."""
    with pytest.raises(
        UsageError, match=r"the PDF holds scripts or actions \(JavaScript, a link to a web"
    ):
        check_page("page.pdf", pdf, "application/pdf")


@pytest.mark.parametrize("indirect", [False, True])
def test_a_link_to_a_page_of_the_same_file_passes(indirect: bool) -> None:
    check_page("page.pdf", linked_page(GOTO, indirect), "application/pdf")
