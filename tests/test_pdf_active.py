"""A PDF sent as a signature page (or uploaded by the team) may hold nothing active: the check
(closing.domain.proposals.check_page) reads the objects as a PDF reader resolves them, so an
/OpenAction JavaScript hidden in an object stream deflated twice, or deflated once past what a
byte scan inflates, is refused; a plain page passes."""

from __future__ import annotations

import io
import zlib

import pikepdf
import pypdf
import pytest

from closing.domain.errors import UsageError
from closing.domain.proposals import check_page

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
