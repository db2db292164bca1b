"""The alert daemon: APScheduler wakes it at the next due alert and every `safety` seconds; each
wake decides and delivers from the database, then re-arms the one wake-up job.

Only one job waits for the next alert however many purchasers there are. The scheduler's jobs
live in memory on purpose: everything they would remember (deadlines, what was sent, retries) is
derived from the database at each wake, so a killed daemon loses nothing that a restart does not
recompute. Wake-ups are scheduled in UTC; deadlines are computed by the calendar code.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from closing.domain.clock import Clock
from closing.domain.errors import AlertsError, ClosingError, DealFileError
from closing.domain.text import neutral
from closing.services.alerts.channels import Notifier, logfmt
from closing.services.alerts.deal_share import HEARTBEAT, DealShare
from closing.services.alerts.deliver import Pass, configured_channels, run_pass
from closing.services.alerts.sender_lock import SenderLock
from closing.store import deals as deal_store
from closing.store.alerts import EVERY_DEAL, LedgerCache
from closing.store.connection import Database
from closing.store.deals import watched_deal_files

log = logging.getLogger("closing.services.alerts.daemon")
CATCH_UP_GRACE = timedelta(seconds=5)


class AlertDaemon:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        extra_urls: list[str],
        on_pass: Callable[[Pass], None] | None = None,
        safety: float = 30.0,
        heartbeat: float = 2.0,
        inbox: str | None = None,
        operator: str | None = None,  # for whom it reloads deal files (CLOSING_OPERATOR)
        share: bool = False,  # share the deals with other senders (PostgreSQL)
    ) -> None:
        self.database = database
        self.inbox = inbox  # --inbox: bank files for the (only) deal
        self.operator = operator
        self.clock = clock
        self.extra_urls = extra_urls
        self.on_pass = on_pass
        self.safety = safety
        self.notifier = Notifier()
        self.lock: SenderLock | DealShare = DealShare(database) if share else SenderLock(database)
        self.heartbeat_every = min(heartbeat, HEARTBEAT) if share else heartbeat
        self.waiting_for: str | None = None  # who holds the lock while this one stands by
        self.stopped = threading.Event()  # this sending ends (stop(), or the lock was lost)
        self._closing = threading.Event()  # stop() was called: no more standing by
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self._scheduler: Any = None
        self.ledger = LedgerCache()
        self._seen_files: dict[str, str] = {}
        self._refused_inboxes: set[Path] = set()  # said once each in the log

    # --- life cycle

    def start(self, standby: bool = False, poll: float = 1.0) -> None:
        """Take the sender lock (or wait for it with `standby`), catch up, and start the
        scheduler."""
        # A long-running process: collect garbage again, but leave what was loaded at start-up
        # (libraries, the deal) out of every collection.
        gc.freeze()
        gc.enable()
        # The sender's own URLs (--notify, CLOSING_NOTIFY) were checked before it started; a
        # deal file's that apprise does not understand fails its own deliveries (alerts list
        # shows why), not every deal's.
        for channel in configured_channels(self.database, self.extra_urls).values():
            try:
                self.notifier.check(channel)
            except AlertsError as refused:
                log.error(
                    "event=channel-refused channel=%s reason=%s",
                    logfmt(channel.name),
                    logfmt(refused.message),
                )
        if standby:
            announced = False
            while not self.stopped.is_set():
                holder = self.lock.try_acquire(self.clock.now())
                if holder is None:
                    break
                self.waiting_for = holder
                if not announced:
                    log.info("event=standby holder=%s", logfmt(holder))
                    announced = True
                self.stopped.wait(poll)
            self.waiting_for = None
            if self.stopped.is_set():
                return
        else:
            self.lock.acquire(self.clock.now())
        log.info("event=start sender=%s", logfmt(self.lock.holder))
        self._start_scheduler()
        self.tick(first=True)

    def _start_scheduler(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(
            # Wake-ups run one at a time; the heartbeat has a thread of its own so that a long
            # pass (thousands of alerts at once) never lets the lease lapse.
            executors={"default": ThreadPoolExecutor(1), "heartbeat": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        scheduler.add_job(self._safety, "interval", seconds=self.safety, id="closing-safety")
        scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=self.heartbeat_every,
            id="closing-heartbeat",
            executor="heartbeat",
        )
        scheduler.start()
        self._scheduler = scheduler

    def run_forever(self, standby: bool = False) -> None:
        """Foreground: until SIGINT or SIGTERM, then shut down cleanly."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopped.set())
        try:
            self.start(standby=standby)
            self.stopped.wait()
        finally:
            self.stop()

    def start_in_background(self, poll: float = 1.0) -> None:
        """For `watch`, which draws the board meanwhile: in a thread of its own, stand by for the
        lock, send while holding it, and stand by again if another sender takes it over, until
        `stop()`."""

        def run() -> None:
            while not self._closing.is_set():
                try:
                    self.start(standby=True, poll=poll)
                except ClosingError as error:  # the database is away: try again in a poll
                    log.error("event=standby-failed error=%s", logfmt(error.message))
                    self._closing.wait(poll)
                    continue
                self.stopped.wait()
                if self._closing.is_set():
                    return
                self._halt()  # the lock was lost: stand by again
                self.stopped.clear()
                if self._closing.is_set():  # stop() came meanwhile (it set `stopped` after)
                    return

        self._thread = threading.Thread(target=run, name="closing-alert-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._closing.set()
        self.stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._halt()
        self.notifier.close()

    def _halt(self) -> None:
        """The scheduler down and the lock released (if still held)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self.lock.held:
            self.lock.release()
            log.info("event=stop sender=%s", logfmt(self.lock.holder))

    # --- work

    def _safety(self) -> None:
        """The periodic wake-up: also re-reads the ledger from the database, in full."""
        self.ledger.forget()
        self.tick()

    def _heartbeat(self) -> None:
        if not self.lock.heartbeat(self.clock.now()):
            log.error(
                "event=lost-lock sender=%s: another sender took over; stopping",
                logfmt(self.lock.holder),
            )
            self.stopped.set()
        elif isinstance(self.lock, DealShare) and self.lock.deals_changed():
            self._arm(self.clock.now())  # deals taken over (or handed back): plan them now

    def tick(self, first: bool = False) -> Pass | None:
        if self.stopped.is_set() or not self.lock.held:
            return None
        with self._tick_lock, _no_collection():
            now = self.clock.now()
            try:
                self._reload_changed_deals(now)
                self.import_inbox(now)
                result = run_pass(
                    self.database,
                    self.notifier,
                    self.extra_urls,
                    now,
                    self.ledger,
                    self.clock.now,
                    self.lock.claiming if isinstance(self.lock, DealShare) else EVERY_DEAL,
                )
            except ClosingError as error:
                log.error("event=pass-failed error=%s", logfmt(error.message))
                self._arm(now + timedelta(seconds=min(self.safety, 5)))
                return None
            if first:
                late = [
                    d for d in result.decided if d.superseded or d.due_at < now - CATCH_UP_GRACE
                ]
                missed = sum(d.superseded for d in result.decided)
                log.info("event=caught-up alerts=%d collapsed=%d", len(late), missed)
            for outcome in result.delivered:
                if outcome.status != "sent":
                    log.error(
                        "event=delivery-%s channel=%s alert=%d error=%s",
                        outcome.status,
                        logfmt(outcome.channel),
                        outcome.alert_id,
                        logfmt(outcome.error or ""),
                    )
            self._arm(result.next_at)
            if self.on_pass is not None:
                self.on_pass(result)
            return result

    def _arm(self, next_at: datetime | None) -> None:
        """(Re)schedule the single wake-up job for the next due time, in real UTC time."""
        if self._scheduler is None or self.stopped.is_set():
            return
        if next_at is None:
            if self._scheduler.get_job("closing-wake"):
                self._scheduler.remove_job("closing-wake")
            return
        delay = max(next_at - self.clock.now(), timedelta(0))
        self._scheduler.add_job(
            self.tick,
            "date",
            run_date=datetime.now(UTC) + delay,
            id="closing-wake",
            replace_existing=True,
        )

    def _reload_changed_deals(self, now: datetime) -> None:
        """A deal file edited while the daemon runs is reloaded: new cutoffs count from the next
        wake-up. A file with problems (or one that cannot be loaded at all) is logged once, in
        one line, and the old terms stay."""
        from closing.domain.dealfile.spreadsheet import MAX_BYTES
        from closing.domain.dealfile.yaml_reader import MAX_FILE_BYTES
        from closing.domain.files import digest_of
        from closing.services.load import load_deal

        with self.database.transaction(write=False) as connection:
            sources = watched_deal_files(connection)
            sheets = dict(deal_store.schedule_files(connection))
        for deal in sources:
            source = deal.source_path
            try:
                # read as a load reads them: a pipe or /dev/zero put in their place cannot hang
                current = digest_of(Path(source), MAX_FILE_BYTES)
                sheet = sheets.get(deal.slug)
                if sheet is not None:  # Schedule 1 from a spreadsheet: its bytes count too
                    path = Path(sheet[0]).expanduser()
                    path = path if path.is_absolute() else Path(source).parent / path
                    found = digest_of(path, MAX_BYTES)
                    current = current if found == sheet[1] else f"{current}+{found}"
            except OSError:
                continue
            if current == deal.source_sha256 or self._seen_files.get(source) == current:
                continue
            self._seen_files[source] = current
            try:
                result = load_deal(self.database, source, now)
            except DealFileError as error:
                log.error(
                    "event=deal-file-invalid deal=%s problems=%s",
                    logfmt(deal.slug),
                    logfmt("; ".join(str(problem) for problem in error.problems)),
                )
                continue
            except ClosingError as error:
                log.error(
                    "event=deal-file-refused deal=%s error=%s",
                    logfmt(deal.slug),
                    logfmt(error.message),
                )
                continue
            except Exception as error:  # a bug must not stop the sender: the old terms stay
                log.error(
                    "event=deal-file-failed deal=%s error=%s",
                    logfmt(deal.slug),
                    logfmt(type(error).__name__),
                )
                continue
            log.info(
                "event=deal-reloaded deal=%s changes=%s",
                logfmt(deal.slug),
                logfmt("; ".join(result.changes) or "none"),
            )

    # --- bank files dropped in an inbox

    def _inboxes(self) -> list[tuple[Path, str | None]]:
        """(folder, deal slug): `--inbox` for the only deal, and each deal file's `alerts.inbox`
        (relative to the deal file's folder). A folder that holds a deal file or the database
        is not an inbox (every file in an inbox is taken, and what is not a bank file moved
        to `rejected/`): it is skipped, saying so in the log."""
        found: list[tuple[Path, str | None]] = [(Path(self.inbox), None)] if self.inbox else []
        with self.database.transaction(write=False) as connection:
            sources = {deal.slug: deal.source_path for deal in watched_deal_files(connection)}
            for deal in deal_store.deals(connection):
                folder = deal.terms.alerts.inbox
                if folder:
                    where = Path(folder).expanduser()
                    if not where.is_absolute():
                        where = Path(sources[deal.slug]).parent / where
                    found.append((where, deal.slug))
        kept: list[str] = list(sources.values())
        if self.database.location.file is not None:
            kept.append(str(self.database.location.file))
        protected = {_folder_of(Path(path)) for path in kept}
        inboxes: list[tuple[Path, str | None]] = []
        for where, slug in found:
            if _folder_of(where / "x") in protected:
                if where not in self._refused_inboxes:
                    self._refused_inboxes.add(where)
                    log.error(
                        "event=inbox-refused folder=%s reason=%s",
                        logfmt(str(where)),
                        logfmt("it holds a deal file or the database: give bank files their own"),
                    )
                continue
            inboxes.append((where, slug))
        return inboxes

    def import_inbox(self, now: datetime) -> int:
        """Import each bank file waiting in an inbox with `--apply` semantics, then move it to
        `done/` (or `rejected/`, with the reason logged) beside it. Files whose names start with
        a dot or end in `.part` or `.tmp` are still being written and wait. Returns how many
        files were taken."""
        import socket

        from closing.services.alerts.decide import record_notices
        from closing.services.wires import read_and_import

        taken = 0
        for folder, slug in self._inboxes():
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if not path.is_file() or path.name.startswith(".") or path.suffix in _UNFINISHED:
                    continue
                taken += 1
                try:
                    result = read_and_import(
                        self.database, slug, path, True, self.operator, socket.gethostname(), now
                    )
                except ClosingError as error:
                    log.error(
                        "event=inbox-rejected file=%s error=%s",
                        logfmt(str(path)),
                        logfmt(error.message),
                    )
                    _move(path, folder / "rejected")
                    continue
                _move(path, folder / "done")
                log.info(
                    "event=inbox-imported deal=%s file=%s recorded=%d left=%d seen-before=%d",
                    result.deal.slug,
                    logfmt(str(path)),
                    result.count("recorded"),
                    result.count("left"),
                    result.count("already imported"),
                )
                for notice in result.notices:
                    log.info("event=wire-received deal=%s %s", result.deal.slug, logfmt(notice))
                record_notices(self.database, result, now, self.extra_urls)
        return taken


_UNFINISHED = (".part", ".tmp", ".partial")


def _folder_of(path: Path) -> Path:
    """The folder a file is in, as the system resolves it (`.`, `..` and links followed)."""
    try:
        return path.parent.resolve()
    except OSError:
        return path.parent.absolute()


def _move(path: Path, folder: Path) -> None:
    """Into `folder` (made when missing), never over a file of the same name."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    path.replace(target)


@contextmanager
def _no_collection() -> Iterator[None]:
    """No garbage collection pauses while a wake-up reads, plans and sends; collect after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class OneLineFormatter(logging.Formatter):
    """`time=... level=... event=...`, always one line: the message is made neutral (a newline
    or an escape sequence that got into it is shown as `\\n`, `\\x1b`), and an exception is
    summed up as `error=Type` unless `debug` asks for its traceback."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(
            "time=%(asctime)s level=%(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
        )
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        line = neutral(super().formatMessage(self._prepared(record)))
        if record.exc_info and record.exc_info[0] is not None:
            line += f" error={record.exc_info[0].__name__}"
            if self.debug:
                line += "\n" + self.formatException(record.exc_info)
        return line

    def _prepared(self, record: logging.LogRecord) -> logging.LogRecord:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        return record


def configure_logging(debug: bool = False) -> None:
    """One line per event on stderr: `time=... level=... event=...`. The scheduler's own errors
    (a wake-up that raised) go through the same one-line handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(debug))
    root = logging.getLogger("closing")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    scheduler = logging.getLogger("apscheduler")
    scheduler.handlers[:] = [handler]
    scheduler.propagate = False
    scheduler.setLevel(logging.WARNING if debug else logging.ERROR)
