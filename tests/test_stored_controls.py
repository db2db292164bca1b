"""Control and bidi characters already stored (by an older release, or a database edit) come out
neutral in every output, through the one function `closing.domain.text.neutral`: the Markdown
and HTML memos (and so the PDF), the CSV export and the web page's templates."""

from __future__ import annotations

import json
from pathlib import Path

from closing.domain.text import neutral_value
from tests.helpers import Cli
from tests.test_record import tamper

FRI = "2002-06-07T{}:00-07:00"
EVIL = "Evil\x1b[2J\u202eNAME\x07"


def stored_by_an_older_release(cli: Cli) -> None:
    """The name edited into the database, its facts as an older release left them (adopted)."""
    tamper(
        cli,
        f"UPDATE purchaser SET name = '{EVIL}' WHERE slug = 'stonestreet'",
        "DELETE FROM fact",
        "INSERT INTO fact (deal_id, seq, recorded_at, tbl, row_key) "
        "SELECT id, 0, updated_at, '@adopt', '' FROM deal",
    )


def test_every_output_shows_stored_controls_as_escapes(seeded: Cli, tmp_path: Path) -> None:
    assert seeded("mark-signed", "stonestreet", now=FRI.format("09:00")).code == 0
    stored_by_an_older_release(seeded)
    outputs = []
    for kind in ("md", "html"):
        result = seeded("report", "--format", kind, now=FRI.format("10:00"))
        assert result.code == 0, result.err
        outputs.append(result.out)
    csv = tmp_path / "record.csv"
    assert seeded("export", "-o", str(csv), now=FRI.format("10:00")).code == 0
    outputs.append(csv.read_text(encoding="utf-8-sig"))
    outputs.append(seeded("history", now=FRI.format("10:00")).out)
    for text in outputs:
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\u202e" in outputs[0] and "\\u202e" in outputs[1]


def test_the_templates_finalize_through_neutral() -> None:
    """The web page's and the HTML memo's Jinja environments print text through it."""
    assert neutral_value("a\u202eb") == "a\\u202eb"
    assert neutral_value(5) == 5

    class Made(str):
        def __html__(self) -> str:
            return str(self)

    made = Made("<b>\u202e</b>")
    assert neutral_value(made) is made


def test_a_link_event_whose_evidence_was_rewritten_is_shown_not_a_crash(seeded: Cli) -> None:
    """A proposal whose evidence was rewritten in the database (a link id that is not a number,
    details that are not a mapping) and a wire report with an amount that is not one: the board,
    its JSON and the history still show the deal, and verify names the break (exit 8)."""
    assert seeded("mark-signed", "stonestreet", now=FRI.format("09:00")).code == 0
    tamper(
        seeded,
        "UPDATE event SET kind = 'proposal', step = '', "
        """evidence = '{"details": {"notices.facsimile": "(212) 555-0100"}, "link": "abc"}' """
        "WHERE kind = 'mark' AND step = 'signed'",
    )
    board = seeded("status", "--json", now=FRI.format("10:00"))
    assert board.code == 0, board.err
    (row,) = [p for p in json.loads(board.out)["purchasers"] if p["slug"] == "stonestreet"]
    assert row["proposed_details"]["notices.facsimile"]["value"] == "(212) 555-0100"
    assert seeded("status", now=FRI.format("10:00")).code == 0
    tamper(
        seeded,
        "UPDATE event SET kind = 'wire_report', "
        """evidence = '{"amount": "lots", "details": [1]}' WHERE kind = 'proposal'""",
    )
    history = seeded("history", "stonestreet", now=FRI.format("10:00"))
    assert history.code == 0, history.err
    assert "reported lots from" in history.out
    assert seeded("status", "--json", now=FRI.format("10:00")).code == 0
    assert seeded("verify", now=FRI.format("10:00")).code == 8
