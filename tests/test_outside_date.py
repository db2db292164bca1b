"""The outside date: a closing not done by the end of `outside_date` has lapsed, and so has each
purchaser's part not closed by then (or with a step open past its own `lapses_at`). The board, the
memo, the alerts and `status --json` (`lapsed`, per purchaser and for the deal) say so; a mark
dated after it needs `--out-of-order`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from closing.domain.errors import ExitCode
from tests.alert_receivers import http_receiver
from tests.helpers import Cli, board_json

FRI = "2002-06-07T{}:00-07:00"
SAT_AFTER = "2002-06-15T09:00:00-07:00"  # the day after the outside date


def with_outside_date(seed_path: Path, extra: str = "") -> Path:
    text = seed_path.read_text()
    text = text.replace(
        "closing_date: 2002-06-07\n", "closing_date: 2002-06-07\noutside_date: 2002-06-14\n"
    )
    seed_path.write_text(text.replace("    payment: true\n", "    payment: true\n" + extra))
    return seed_path


def lapsed(document: dict[str, Any]) -> tuple[bool, dict[str, bool]]:
    return document["deal"]["lapsed"], {p["slug"]: p["lapsed"] for p in document["purchasers"]}


def test_the_closing_lapses_after_the_outside_date(cli: Cli, seed_path: Path) -> None:
    """Until the end of June 14 nothing has lapsed; after it the deal and each open purchaser's
    part have, on the board, in the memo and in the alerts."""
    assert cli("init", str(with_outside_date(seed_path)), now=FRI.format("07:00")).code == 0
    for args in [
        ("mark", "company", "prospectus_delivered"),
        ("mark", "company", "prospectus_filed"),
        ("mark-signed", "bnc"),
        ("mark-wired", "bnc"),
        ("mark-faxed", "bnc"),
        ("mark-delivered", "bnc"),
        ("mark-dwac", "bnc"),
    ]:
        result = cli(*args, now=FRI.format("10:00"))
        assert result.code == 0, result.err
    assert lapsed(board_json(cli, "2002-06-14T23:59:00-07:00")) == (
        False,
        {"stonestreet": False, "bnc-bach": False},
    )
    assert lapsed(board_json(cli, SAT_AFTER)) == (True, {"stonestreet": True, "bnc-bach": False})
    board = cli("status", now=SAT_AFTER).out
    assert "Lapsed: the outside date 2002-06-14 has passed without a closing" in board
    assert "Lapsed: Stonestreet Limited Partnership: its part of the closing" in board
    memo = cli("report", "--format", "md", now=SAT_AFTER).out
    assert "Lapsed: the outside date 2002-06-14 has passed without a closing." in memo
    with http_receiver() as receiver:
        checked = cli("alerts", "check", "--notify", receiver.url(), now=SAT_AFTER)
        assert checked.code == 0, checked.err
        messages = [hook.payload["message"] for hook in receiver.received()]
    assert messages
    assert all("\nLapsed: the outside date 2002-06-14 has passed" in m for m in messages)


def test_a_mark_after_the_outside_date_needs_the_option(cli: Cli, seed_path: Path) -> None:
    """A signature page after the outside date is refused, then recorded and flagged."""
    cli("init", str(with_outside_date(seed_path)), now=FRI.format("07:00"))
    refused = cli("mark-signed", "stonestreet", now=SAT_AFTER)
    assert (refused.code, refused.err) == (
        ExitCode.REFUSED,
        "Error: cannot mark signed for Stonestreet Limited Partnership: out of order: after the "
        "outside date (2002-06-14); to record it as it happened add --out-of-order --reason "
        "TEXT\n",
    )
    marked = cli(
        "mark-signed", "stonestreet", "--out-of-order", "--reason", "late page", now=SAT_AFTER
    )
    assert marked.code == 0, marked.err
    signed = next(p for p in board_json(cli, SAT_AFTER)["purchasers"] if p["slug"] == "stonestreet")
    assert signed["steps"]["signed"]["breach"] == [
        "out of order: after the outside date (2002-06-14)"
    ]


def test_a_step_of_its_own_lapses_the_purchasers_part(cli: Cli, seed_path: Path) -> None:
    """`lapses_at` on the wire: a purchaser still unpaid after it has lapsed, before the deal's
    own outside date; one that paid has not."""
    path = with_outside_date(seed_path, "    lapses_at: 2002-06-10\n")
    assert cli("init", str(path), now=FRI.format("07:00")).code == 0
    cli("mark", "company", "prospectus_delivered", now=FRI.format("07:30"))
    cli("mark-signed", "bnc", now=FRI.format("08:00"))
    cli("mark-wired", "bnc", now=FRI.format("09:00"))
    assert lapsed(board_json(cli, "2002-06-11T09:00:00-07:00")) == (
        False,
        {"stonestreet": True, "bnc-bach": False},
    )


def test_an_outside_date_before_the_closing_is_a_problem(cli: Cli, seed_path: Path) -> None:
    text = seed_path.read_text().replace(
        "closing_date: 2002-06-07\n", "closing_date: 2002-06-07\noutside_date: 2002-06-06\n"
    )
    seed_path.write_text(text)
    result = cli("init", str(seed_path), now=FRI.format("07:00"))
    assert result.code == ExitCode.DEAL_FILE
    assert "outside_date 2002-06-06 is before closing_date 2002-06-07" in result.err


def test_without_an_outside_date_nothing_lapses(seeded: Cli) -> None:
    """A deal file of the current release (no outside date): `lapsed` is false, years later."""
    assert lapsed(board_json(seeded, "2005-01-03T09:00:00-08:00")) == (
        False,
        {"stonestreet": False, "bnc-bach": False},
    )
