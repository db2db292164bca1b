"""`closing demo`: the seed closing of June 7, 2002, replayed in a scratch database."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from closing.cli.app import App, pass_app
from closing.domain.errors import ClosingError, NotFoundError
from closing.domain.mark_commands import evidence_kind

SEED_NAME = "neotherapeutics-2002-06-07.yaml"
PACIFIC = ZoneInfo("America/Los_Angeles")


def seed_deal_path() -> Path:
    """The seed deal file: in the checkout's workflows/, or the copy shipped in the wheel."""
    package = Path(__file__).resolve().parents[1]  # src/closing, or closing/ in a wheel
    for candidate in (
        package.parents[1] / "workflows" / SEED_NAME,  # a checkout
        package / "workflows" / SEED_NAME,  # the copy shipped in the wheel
    ):
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"cannot find {SEED_NAME}; pass the deal file: closing demo FILE")


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2002, 6, day, hour, minute, tzinfo=PACIFIC)


# (when, purchaser, step, evidence option value, note)
SCRIPT: list[tuple[datetime, str, str, str | None]] = [
    (_at(7, 7, 45), "company", "prospectus_delivered", "Exhibit B, with the agreement"),
    (_at(7, 8, 30), "stonestreet", "signed", "fax counterpart"),
    (_at(7, 9, 5), "bnc", "signed", "fax counterpart"),
    (_at(7, 10, 15), "stonestreet", "wired", "FED REF 20020607B1Q8021C000123"),
    (_at(7, 11, 0), "stonestreet", "warrant_faxed", "fax confirmation 4471"),
    (_at(7, 15, 45), "bnc", "wired", "FED REF 20020607B1Q8021C000987"),
    (_at(7, 16, 10), "bnc", "warrant_faxed", "fax confirmation 4472"),
    (_at(7, 16, 30), "stonestreet", "dwac_credited", "DTC confirmation 88213"),
    (_at(7, 16, 40), "bnc", "dwac_credited", "DTC confirmation 88214"),
    (_at(10, 10, 20), "stonestreet", "warrant_delivered", "FedEx 7901 2345 6789"),
    (_at(10, 11, 5), "bnc", "warrant_delivered", "FedEx 7901 2345 6790"),
    (_at(10, 11, 30), "company", "prospectus_filed", "SEC accession 0000950150-02-000512"),
]
BOARDS = [_at(7, 9, 0), _at(7, 15, 30), _at(7, 17, 30), _at(10, 12, 0)]


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_app
def demo(app: App, file: str | None) -> None:
    """Replay the seed closing of June 7, 2002.

    Uses a scratch database of its own (or --database), never CLOSING_DATABASE_URL's."""
    from rich.rule import Rule

    from closing.domain.marking import MarkRequest
    from closing.domain.text import neutral
    from closing.domain.timefmt import local
    from closing.services.board import board
    from closing.services.database import open_database
    from closing.services.load import load_deal
    from closing.services.mark import mark
    from closing.views.board_text import board_view

    path = file or str(seed_deal_path())
    console = app.console()
    with tempfile.TemporaryDirectory(prefix="closing-demo-") as scratch:
        own = f"sqlite:///{Path(scratch) / 'demo.db'}"
        database = open_database(app.database_option if app.database_given else own, create=True)
        loaded = load_deal(database, path, _at(7, 7, 0))
        console.print(
            f"$ closing init {neutral(path)}\nLoaded deal {neutral(loaded.slug)} with "
            f"{loaded.purchasers} purchasers.\n",
            markup=False,  # data (a path, a name) is text, never Rich markup
        )

        def show_board(at: datetime) -> None:
            """The board at `at` under its rule: as wide as the terminal, or piped as wide as
            its data (as `closing status` is), the rule as wide as the board."""
            shown = board(database, loaded.slug, at)
            view = app.fitted(lambda width: board_view(shown, width=width))
            console.print(Rule(f"closing status   (at {local(at, PACIFIC)})"))
            console.print(view)

        boards = list(BOARDS)
        for when, who, step, evidence in SCRIPT:
            while boards and boards[0] <= when:
                show_board(boards.pop(0))
                console.print()
            if when == _at(7, 15, 45):
                try:  # show a refusal: the warrant cannot be faxed before the wire arrives
                    mark(
                        database,
                        loaded.slug,
                        MarkRequest("bnc", "warrant_faxed", actor="demo", host="demo"),
                        _at(7, 15, 40),
                    )
                except ClosingError as refusal:
                    console.print(
                        f"$ closing mark-faxed bnc\nError: {neutral(refusal.message)}\n",
                        soft_wrap=True,
                        markup=False,
                    )
            recorded = mark(
                database,
                loaded.slug,
                MarkRequest(
                    who,
                    step,
                    at=when,
                    actor="demo",
                    host="demo",
                    evidence_kind=evidence_kind(step),
                    evidence=evidence,
                ),
                when,
            )
            console.print(
                f"{local(when, PACIFIC)}  {who:<12} {step}"
                + ("  (closed)" if not recorded.still_to_do else ""),
                markup=False,
            )
        for shown in boards:
            show_board(shown)
        database.close()


COMMANDS = [demo]
