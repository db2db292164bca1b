"""Bad input through a purchaser's forms (issue 25): the CLI's hostile-input table through every
field of the details and the wire report, bad amounts, IMADs and times, and bad uploads (empty,
oversized, another type, misnamed, JavaScript or a link out of the page in a PDF, plain or
compressed, a name with folders or controls): each one line in `role="alert"`, every table of the
database unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Cli
from tests.test_hostile_inputs import database_digest
from tests.test_link_forms import (
    FIELDS,
    HIDDEN,
    HOSTILE,
    IMAD,
    PDF,
    alert_line,
    database_url,
    deal,
    links,
    post,
    served,
)
from tests.test_pdf_active import GOTOR, URI, linked_page
from tests.web_helpers import Served

__all__ = ["database_url", "deal", "links", "served"]  # the fixtures this module uses


@pytest.mark.parametrize("field", FIELDS)
def test_hostile_text_in_every_field_is_refused(
    deal: Cli, links: dict[str, Any], served: Served, field: str
) -> None:
    before = database_digest(deal.database_url)
    for text in [*HOSTILE, "12", "x" * 2001]:
        if field in ("notices.attention", "notices.address", "contact", "dwac.account_number") and (
            text == "12"
        ):
            continue  # plain short text is a fine attention line or contact
        response = post(served, links["stonestreet"], "/details", {field: text})
        assert response.status_code == 400, (field, text[:20], response.status_code)
        assert "\n" not in alert_line(response)
    assert database_digest(deal.database_url) == before


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            {"amount": "lots", "bank": "Chase", "imad": IMAD, "sent_at": "2002-06-07T10:05"},
            "Amount",
        ),
        (
            {"amount": "1.001", "bank": "Chase", "imad": IMAD, "sent_at": "2002-06-07T10:05"},
            "Amount",
        ),
        ({"amount": "10", "bank": "a\u202eb", "imad": IMAD, "sent_at": "2002-06-07T10:05"}, "bank"),
        ({"amount": "10", "bank": "Chase", "imad": "12345", "sent_at": "2002-06-07T10:05"}, "IMAD"),
        ({"amount": "10", "bank": "Chase", "imad": IMAD, "sent_at": "noon"}, "Sent at"),
        ({"amount": "10", "bank": "Chase", "imad": IMAD, "sent_at": "2002-06-08T10:05"}, "future"),
    ],
)
def test_bad_wire_reports_are_refused(
    deal: Cli, links: dict[str, Any], served: Served, data: dict[str, str], says: str
) -> None:
    before = database_digest(deal.database_url)
    response = post(served, links["stonestreet"], "/wire", data)
    assert response.status_code == 400
    assert says in alert_line(response)
    assert database_digest(deal.database_url) == before


@pytest.mark.parametrize(
    ("name", "content", "says", "status"),
    [
        ("page.pdf", b"", "empty", 400),
        ("page.exe", b"MZ\x90\x00" + b"\x00" * 100, "PDF, PNG or JPEG", 400),
        ("page.pdf", b"MZ\x90\x00", "PDF, PNG or JPEG", 400),
        ("page.png", PDF, "named", 400),
        ("../../x", PDF, "plain name", 400),
        (
            "page.pdf",
            PDF.replace(
                b"/Type /Catalog",
                b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>",
            ),
            "scripts",
            400,
        ),
        (
            "page.pdf",
            PDF.replace(b"/Type /Catalog", b"/Type /Catalog /#4Aava#53cript 2 0 R"),
            "scripts",
            400,
        ),
        ("page.pdf", linked_page(URI), "a link to a web address or another file", 400),
        ("page.pdf", linked_page(GOTOR, indirect=True), "a link to a web address", 400),
        ("page.pdf", b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024), "MB", 413),
        (
            "page.pdf",
            PDF.replace(
                b"trailer",
                b"2 0 obj << /Filter /FlateDecode >>\nstream\n"
                + HIDDEN
                + b"\nendstream endobj\ntrailer",
            ),
            "scripts",
            400,
        ),
    ],
)
def test_bad_uploads_are_refused(
    deal: Cli,
    links: dict[str, Any],
    served: Served,
    name: str,
    content: bytes,
    says: str,
    status: int,
) -> None:
    before = database_digest(deal.database_url)
    response = post(
        served, links["stonestreet"], "/signature-page", {}, files={"page": (name, content)}
    )
    assert response.status_code == status, response.text[:300]
    assert says in alert_line(response)
    assert database_digest(deal.database_url) == before


@pytest.mark.parametrize("field", ["amount", "bank", "imad", "sent_at"])
def test_hostile_text_in_every_wire_field_is_refused(
    deal: Cli, links: dict[str, Any], served: Served, field: str
) -> None:
    good = {"amount": "450000", "bank": "Chase", "imad": IMAD, "sent_at": "2002-06-07T10:05"}
    before = database_digest(deal.database_url)
    for text in [*HOSTILE, "x" * 2001]:
        response = post(served, links["stonestreet"], "/wire", {**good, field: text})
        assert response.status_code == 400, (field, text[:20], response.status_code)
        assert "\n" not in alert_line(response)
    assert database_digest(deal.database_url) == before


def test_a_file_name_with_controls_is_refused(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    before = database_digest(deal.database_url)
    for name in ("pa\u202ege.pdf", "page\x1b[2J.pdf", ".pdf", "a/b.pdf"):
        files = {"page": (name, PDF)}
        response = post(served, links["stonestreet"], "/signature-page", {}, files=files)
        assert response.status_code == 400, name
        assert "plain name" in alert_line(response)
    assert database_digest(deal.database_url) == before
