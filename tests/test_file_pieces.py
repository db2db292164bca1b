"""A file of the closing set goes into the database and comes back a piece at a time (so that a
large scan never sits whole in memory): a file of several pieces is kept byte for byte and checked
by `verify`, and a file that changes between its hash and its storing is refused, nothing kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from closing.store import files as stored_files
from tests.helpers import Cli

FRI = "2002-06-07T{}:00-07:00"


def _scan(path: Path, size: int) -> Path:
    """A PDF-looking file of `size` random bytes: several of the store's pieces."""
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(size - 9))
    return path


def test_a_file_of_several_pieces_comes_back_byte_for_byte(seeded: Cli, tmp_path: Path) -> None:
    cli = seeded
    scan = _scan(tmp_path / "prospectus.pdf", 2 * stored_files.PIECE + 12_345)
    attached = cli("attach", "company", "prospectus_supplement", str(scan), now=FRI.format("09:00"))
    assert attached.code == 0, attached.err
    assert f"{scan.stat().st_size:,} bytes, application/pdf" in attached.out
    out = tmp_path / "back.pdf"
    got = cli("documents", "get", "company", "prospectus_supplement", "-o", str(out))
    assert got.code == 0, got.err
    assert out.read_bytes() == scan.read_bytes()
    assert cli("verify").code == 0


def test_a_file_that_changes_while_attached_is_refused(
    seeded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import closing.services.documents as documents

    cli = seeded
    scan = _scan(tmp_path / "prospectus.pdf", stored_files.PIECE + 1_000)
    scanned = documents._scanned

    def then_changed(path: Path) -> tuple[int, str, bytes]:
        found = scanned(path)
        with path.open("r+b") as opened:  # someone's scanner rewrites a byte in the middle
            opened.seek(stored_files.PIECE // 2)
            byte = opened.read(1)[0]
            opened.seek(stored_files.PIECE // 2)
            opened.write(bytes([byte ^ 0xFF]))  # another byte, whatever was there
        return found

    monkeypatch.setattr(documents, "_scanned", then_changed)
    refused = cli("attach", "company", "prospectus_supplement", str(scan))
    assert refused.code == ExitCode.REFUSED
    assert "changed while it was attached; nothing attached" in refused.err
    listed = json.loads(cli("documents", "--json").out)["documents"]
    prospectus = [row for row in listed if row["document"] == "prospectus_supplement"]
    assert [row["files"] for row in prospectus] == [[]]
