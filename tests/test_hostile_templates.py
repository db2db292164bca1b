"""Templates never run code and the memo never fetches, on the PDF path (HTML through WeasyPrint)
and the Markdown path: a firm's template (`report --templates DIR`) that reaches for Python's
internals, includes /etc/passwd, or names a local file or a URL (a stylesheet, an attachment, an
image on a server listening on 127.0.0.1) renders without it or is refused (exit 3), executing,
reading and fetching nothing; a purchaser named like markup that points at that server is
printed as text."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import Cli
from tests.memo_scenario import pdf_text

NOW = "2002-06-07T09:00:00-07:00"
PASSWD_LINE = "root:x:0:0"


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A server on 127.0.0.1 that records every request it receives (and must receive none)."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, asked
    server.shutdown()
    server.server_close()


def payloads(marker: Path, port: int) -> dict[str, str]:
    """Template text that would run code, read a file or fetch a URL if it could."""
    return {
        "globals": "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}",
        "mro": "{{ ''.__class__.__mro__ }}",
        "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "include": "{% include '/etc/passwd' %}",
        "relative": "{% include '../../../../../../etc/passwd' %}",
        "attachment": '<link href="file:///etc/passwd" rel="attachment">memo',
        "css": "<style>body { background: url(file:///etc/passwd) }</style>memo",
        "image": f'<img src="http://127.0.0.1:{port}/logo.png">memo',
        "stylesheet": f'<link rel="stylesheet" href="http://127.0.0.1:{port}/x.css">memo',
    }


@pytest.mark.parametrize("kind", ["pdf", "md"])
def test_a_hostile_template_runs_reads_and_fetches_nothing(
    seeded: Cli, tmp_path: Path, listener: tuple[int, list[str]], kind: str
) -> None:
    port, asked = listener
    marker = tmp_path / "pwned"
    folder = tmp_path / "firm"
    folder.mkdir()
    name = "memo.html.j2" if kind == "pdf" else "memo.md.j2"
    for what, payload in payloads(marker, port).items():
        (folder / name).write_text(f"<p>{what}</p>{payload}\n")
        out = tmp_path / f"memo-{what}.{kind}"
        result = seeded(
            "report", "--format", kind, "--templates", str(folder), "-o", str(out), now=NOW
        )
        assert result.code in (0, ExitCode.DEAL_FILE), (what, result.err)
        if result.code == 0:
            text = pdf_text(out)[1] if kind == "pdf" else out.read_text()
            assert PASSWD_LINE not in text, what
            assert "<class 'object'>" not in text and "subprocess" not in text, what
            if kind == "pdf":
                from pypdf import PdfReader

                reader = PdfReader(out)
                assert not reader.attachments, what
        else:
            assert result.err.count("\n") == 1 and "Traceback" not in result.err, what
            assert not out.exists()
        assert not marker.exists(), what
    assert asked == []


def test_refused_urls_are_named_in_a_warning(seeded: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "firm"
    folder.mkdir()
    (folder / "memo.html.j2").write_text(
        '<link href="file:///etc/passwd" rel="attachment"><p>{{ memo.company }}</p>'
    )
    out = tmp_path / "memo.pdf"
    result = seeded("report", "--templates", str(folder), "-o", str(out), now=NOW)
    assert result.code == 0, result.err
    assert "file:///etc/passwd: not fetched, left out of the memo" in result.err
    assert "NeoTherapeutics, Inc." in pdf_text(out)[1]


def test_a_purchaser_named_like_markup_fetches_nothing(
    cli: Cli, seed_path: Path, tmp_path: Path, listener: tuple[int, list[str]]
) -> None:
    port, asked = listener
    name = (
        f'<img src="http://127.0.0.1:{port}/x.png">'
        '<link href="file:///etc/passwd" rel="attachment">'
    )
    text = seed_path.read_text().replace("name: Stonestreet Limited Partnership", f"name: '{name}'")
    seed_path.write_text(text)
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    out = tmp_path / "memo.pdf"
    result = cli("report", "-o", str(out), now=NOW)
    assert result.code == 0, result.err
    assert name in pdf_text(out)[1]  # printed as text
    assert asked == [] and "Warning" not in result.err
