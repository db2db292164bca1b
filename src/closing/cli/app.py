"""The application object every command gets (hatch's shape): the clock, the database, and the one
stdout and one stderr Console of the process, built once; a board fitted to the terminal, or piped
as wide as its data."""

from __future__ import annotations

import errno
import gc
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import click

from closing.domain.clock import Clock, LocalTime, clock_from_env, parse_instant, parse_local
from closing.domain.errors import UsageError
from closing.domain.text import MAX_TEXT, one_line_problem
from closing.views.json_bytes import escaped, json_pieces, json_text, printable

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from closing.services.database import Database

F = TypeVar("F", bound="Callable[..., Any]")

PIPED_WIDTH = 400  # the widest board a pipe gets
# A row id typed on the command line: a positive 64-bit integer (20 digits would overflow the
# database's integer: refused as a usage error instead).
ROW_ID = click.IntRange(1, 2**63 - 1)

# What this process recorded, as its confirmation names it: if the confirmation cannot be
# printed (a full disk, a closed pipe), the error still says the event was recorded.
RECORDED: list[str] = []


@contextmanager
def replacing(path: Path, exclusive: bool = False) -> Iterator[BinaryIO]:
    """A file written whole or not at all (`-o`): the bytes go to a temporary file in the same
    folder, synced, then renamed over `path` (`exclusive`: only when there is none), so a full
    disk or a failure half-way leaves the old file as it was and no partial one."""
    import tempfile

    folder = path.parent
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.fchmod(descriptor, 0o666 & ~mask)  # as a plain open() would have made it
        with os.fdopen(descriptor, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            os.link(temporary, path)  # FileExistsError when there is one: never overwritten
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def _broken_pipe() -> None:
    """Rich's own answer to a reader gone away is exit 1; ours is the README's 141 (`main`)."""
    raise BrokenPipeError(32, "Broken pipe")


class App:
    """What every command gets: the clock, the database, and the consoles."""

    def __init__(self, database: str | None, debug: bool) -> None:
        self.database_option = database  # --database, as given
        self.database_given = False  # --database on the command line (not CLOSING_DATABASE_URL)
        self.debug = debug
        self._clock: Clock | None = None
        self._database: Database | None = None
        self._consoles: dict[bool, Console] = {}

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = clock_from_env()
        return self._clock

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def database(self) -> Database:
        """The database, created (with its schema) if it is not there yet."""
        return self._open_database(create=True)

    @property
    def existing_database(self) -> Database:
        """The database for a command that reads or records: one that is not there is an error
        (`no database at PATH`), never created."""
        return self._open_database(create=False)

    def _open_database(self, create: bool) -> Database:
        if self._database is None:
            from closing.services.database import open_database

            self._database = open_database(self.database_option, create)
        return self._database

    def console(self, stderr: bool = False) -> Console:
        """The process's Console for stdout (or stderr), built on first use (Rich is imported
        only by commands that draw)."""
        if stderr not in self._consoles:
            from rich.console import Console

            console = Console(
                stderr=stderr, highlight=False, soft_wrap=False, _environ=terminal_environ()
            )
            console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
            self._consoles[stderr] = console
        return self._consoles[stderr]

    def fitted(self, draw: Callable[[int], RenderableType]) -> RenderableType:
        """What `draw` makes for the terminal's width (or `COLUMNS`); piped (to a file, a mail,
        less), for `PIPED_WIDTH`, with the stdout console set to the width its data needs
        (print() clamps to the console's width): not cut at Rich's 80 columns."""
        console = self.console()
        if console.is_terminal or terminal_environ().get("COLUMNS"):  # COLUMNS=0 is no width
            return draw(console.width)
        from rich.measure import Measurement

        view = draw(PIPED_WIDTH)
        options = console.options.update_width(PIPED_WIDTH)
        console.width = Measurement.get(console, options, view).maximum
        return view

    def print_json(self, data: Any) -> None:
        """Indented for a person at a terminal; compact when piped to a program, in UTF-8 (as
        JSON is exchanged, RFC 8259) and written in pieces (`json_pieces`, `write_pieces`).
        orjson writes the 10,000-purchaser board in a tenth of the time `json` takes."""
        out = sys.stdout
        if out.isatty():
            import orjson

            written = orjson.dumps(data, option=orjson.OPT_INDENT_2)
            click.echo(written if printable(written) else json_text(written.decode()))
            return
        out.flush()  # what went before through the text layer, first
        write_pieces(escaped(json_pieces(data)), out.buffer)

    def print_status_json(self, deal_name: str | None) -> None:
        """`closing status --json` of the whole deal, to a program: the document printed before
        with its `as_of` now, while it holds (`closing.services.board.KeptStatus`); else made
        afresh, printed as `print_json` prints it, and kept."""
        from zoneinfo import ZoneInfo

        import orjson

        from closing.services.board import KeptStatus
        from closing.views.status_document import board_json, iso

        now = self.now()
        status = KeptStatus(self.existing_database, deal_name, now)
        out = sys.stdout
        out.flush()
        kept = status.kept()
        if kept is not None:
            start, end = kept.as_of
            body = memoryview(kept.body)
            moment = orjson.dumps(iso(now, ZoneInfo(kept.zone)))
            write_pieces([body[:start], moment, body[end:]], out.buffer)
            return
        shown = status.board()
        pieces: list[bytes | memoryview] = []

        def written() -> Iterator[bytes | memoryview]:  # each piece, kept as it is written
            for piece in escaped(json_pieces(board_json(shown))):
                pieces.append(piece)
                yield piece

        write_pieces(written(), out.buffer)
        # The document's first members are `deal` and `as_of`: where the value of `as_of` lies.
        key = b',"as_of":'
        if len(pieces) > 1 and bytes(pieces[1][: len(key)]) == key:
            start = len(pieces[0]) + len(key)
            status.keep(pieces, (start, len(pieces[0]) + len(pieces[1])), shown.terms.zone.key)


# --- JSON on standard output --------------------------------------------------------------------
#
# A large board's document is 21 MB: dumped whole and then written, the pipe (64 KiB at a time, as
# fast as the reader drains it) kept the process waiting about 35 ms after all its work was done.
# A long list member is dumped a few hundred items at a time, and a thread writes each megabyte
# while the next is dumped. The bytes are those `orjson.dumps` gives for the whole. The document
# itself is made whole first: an error making it leaves nothing half-written on stdout.

FLUSH_AT = 1 << 20  # bytes handed to the writer at once


def write_pieces(pieces: Iterable[bytes | memoryview], out: BinaryIO) -> None:
    """Write `pieces` to `out`, a megabyte at a time from a thread of its own once there is more
    than one (the write waits on the reader without holding the interpreter; at most two
    megabytes wait for it). An error writing is raised here and no more is made; an error or an
    interrupt making the pieces stops at once, without waiting for a stalled reader."""
    import threading
    from queue import Full, Queue

    gathered: list[bytes | memoryview] = []
    size = 0
    queue: Queue[list[bytes | memoryview] | None] = Queue(maxsize=2)
    failed: list[BaseException] = []
    writer: threading.Thread | None = None

    def write() -> None:
        while (chunk := queue.get()) is not None:
            for piece in chunk:
                if failed:
                    break
                try:
                    write_all(out, piece)
                except BaseException as error:  # raised again by the thread that made the output
                    failed.append(error)

    try:
        for piece in pieces:
            if writer is None and size + len(piece) >= FLUSH_AT:
                _widen_pipe(out)
            gathered.append(piece)
            size += len(piece)
            if size >= FLUSH_AT:
                if failed:
                    break
                if writer is None:
                    writer = threading.Thread(target=write, name="closing-output", daemon=True)
                    writer.start()
                queue.put(gathered)
                gathered, size = [], 0
    except BaseException as error:
        if writer is not None:  # the rest is dropped; a writer stuck on a stalled reader is left
            failed.append(error)
            with suppress(Full):
                queue.put_nowait(None)
        raise
    if writer is None:
        write_all(out, b"".join(gathered))
        return
    if not failed:
        queue.put(gathered)
    queue.put(None)
    writer.join()
    if failed:
        raise failed[0]


def write_all(out: BinaryIO, data: bytes | memoryview) -> None:
    """Every byte of `data` to `out`, or an OSError: straight to its file descriptor when it has
    one (a short write, as on a disk that fills, is followed until the system says why it
    stops), else through its own write."""
    try:
        descriptor = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        written = out.write(data)
        if written is not None and written < len(data):
            raise OSError(errno.EIO, "Input/output error: the output took only part") from None
        out.flush()
        return
    out.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _widen_pipe(out: BinaryIO) -> None:
    """A pipe of a megabyte instead of 64 KiB (Linux): the writer waits on the reader 16 times
    less often. Anything else, or a system that refuses, is left as it is."""
    try:
        import fcntl
        import stat

        descriptor = out.fileno()
        if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            fcntl.fcntl(descriptor, getattr(fcntl, "F_SETPIPE_SZ", 1031), FLUSH_AT)
    except (OSError, ValueError, AttributeError, ImportError):
        pass


def long_running() -> None:
    """For a command that runs for hours (`serve`, `watch`): garbage collected again. `run` turns
    the collector off for the commands that live a fraction of a second; a server left without it
    would keep every reference cycle its requests leave behind. What start-up loaded (libraries,
    templates) is frozen out of every collection, so a collection walks only what came since."""
    gc.freeze()
    gc.enable()


def terminal_environ() -> dict[str, str]:
    """The environment Rich reads, with `COLUMNS` and `LINES` made sane: a value that is not a
    positive number is ignored (`COLUMNS=0` used to print nothing), others are kept within
    20-1,000 columns and 5-1,000 lines."""
    environ = dict(os.environ)
    for name, low, high in (("COLUMNS", 20, 1000), ("LINES", 5, 1000)):
        value = environ.get(name)
        if value is None:
            continue
        text = value.strip()
        if text.isascii() and text.isdigit() and int(text) > 0:
            environ[name] = str(min(max(int(text), low), high))
        else:
            del environ[name]
    return environ


pass_app = click.make_pass_decorator(App)


def for_whom(by: str | None) -> str | None:
    """For whom the operator acts: --by, else CLOSING_OPERATOR, else nobody (one line of at most
    2,000 characters). Never who the operator is: that is who the system authenticated (the OS
    account on SQLite, the database role on PostgreSQL)."""
    if by:
        return one_line(by, "--by") or None
    env = os.environ.get("CLOSING_OPERATOR", "").strip()
    return (one_line(env, "CLOSING_OPERATOR") or None) if env else None


def one_line(value: str | None, what: str, max_length: int = MAX_TEXT) -> str | None:
    """`value` if it is one line of plain text of at most `max_length` characters; otherwise a
    usage error that says what is wrong with it (never the value itself: it may be huge)."""
    if value is None:
        return None
    problem = one_line_problem(value, max_length)
    if problem:
        raise UsageError(f"{what} {problem}")
    return value


class Seconds(click.ParamType):  # type: ignore[type-arg]  # generic in newer click only
    """A number of seconds from `low` to `high` (NaN and infinity are not)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.high = high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"'{one_line_safe(value)}' is not a number of seconds", param, ctx)
        if not self.low <= number <= self.high:  # NaN fails this too
            self.fail(f"{number:g} is not from {self.low:g} to {self.high:g} seconds", param, ctx)
        return number


def one_line_safe(value: object) -> str:
    from closing.domain.text import shortened

    return shortened(str(value), 40)


def checked(what: str, max_length: int = 200) -> Any:
    """A click callback that applies `one_line` to an argument or option."""

    def check(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        return one_line(value, what, max_length)

    return check


def instant(value: str | None, what: str) -> datetime | None:
    return None if value is None else parse_instant(value, what)


def local_time(value: str | None, what: str) -> LocalTime | None:
    """A time the operator typed, read in the deal's zone when it has no offset."""
    return None if value is None else parse_local(value, what)


deal_option = click.option(
    "--deal",
    "deal_name",
    envvar="CLOSING_DEAL",
    show_envvar=True,
    metavar="SLUG",
    help="The deal (slug or prefix); needed when several are loaded.",
    callback=checked("--deal"),
)


owner_option = click.option(
    "--owner",
    metavar="PARTY",
    callback=checked("--owner"),
    help="Only the steps PARTY owns (a party of the deal file's parties:, company, or a "
    "purchaser).",
)
mine_option = click.option(
    "--mine",
    is_flag=True,
    help="Only the steps of your own party: the one whose members: names you as the system "
    "authenticated you (your OS account on SQLite, your database role on PostgreSQL).",
)


def reason_option(help_text: str) -> Callable[[F], F]:
    """`--reason TEXT`, required: one line of plain text (`undo`, `reverse`, `waive`,
    `withdraw`, `alerts dismiss`)."""
    made: Callable[[F], F] = click.option(
        "--reason",
        required=True,
        metavar="TEXT",
        help=help_text,
        callback=checked("--reason", MAX_TEXT),
    )
    return made


def web_url_option(help_text: str, metavar: str = "URL") -> Callable[[F], F]:
    """`--url` (or CLOSING_WEB_URL): the address people open the web board at, the one name
    `closing share`, `closing team invite` and `closing serve` take it by."""
    made: Callable[[F], F] = click.option(
        "--url", envvar="CLOSING_WEB_URL", show_envvar=True, metavar=metavar, help=help_text
    )
    return made


by_option = click.option(
    "--by",
    metavar="NAME",
    envvar="CLOSING_OPERATOR",
    show_envvar=True,
    help="For whom you record it (shown beside you, who are your OS account or database role).",
    callback=checked("--by (or CLOSING_OPERATOR)", MAX_TEXT),
)


callback_number_option = click.option(
    "--callback-number",
    required=True,
    metavar="NUMBER",
    help="The number you called: one the record held before the change.",
    callback=checked("--callback-number"),
)
spoke_with_option = click.option(
    "--spoke-with",
    required=True,
    metavar="NAME",
    help="Whom you spoke with.",
    callback=checked("--spoke-with", MAX_TEXT),
)


def complete_purchasers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of a purchaser argument (cli.complete, imported on a Tab only)."""
    from closing.cli.complete import purchasers

    return purchasers(ctx, param, incomplete)


def complete_steps(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of a step argument (cli.complete, imported on a Tab only)."""
    from closing.cli.complete import steps

    return steps(ctx, param, incomplete)
