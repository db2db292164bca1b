"""Deliveries in parallel: each channel takes up to its limit of alerts at once (8 webhooks, 4
e-mails by default; `CLOSING_ALERT_PARALLEL="webhook=8 email=4 other=4"`), in threads that only
send, while the calling thread claims each delivery just before it goes and records each outcome as
it comes (the database is used from that one thread).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from typing import TypeVar

from closing.domain.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")
KINDS = ("webhook", "email", "other")
WEBHOOK_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")
EMAIL_SCHEMES = ("mailto", "mailtos")


@dataclass(frozen=True)
class Limits:
    """How many deliveries one channel of each kind may have in flight at once."""

    webhook: int = 8
    email: int = 4
    other: int = 4

    def of(self, url: str | None) -> int:
        scheme = (url or "").split("://", 1)[0].lower()
        if scheme in WEBHOOK_SCHEMES:
            return self.webhook
        if scheme in EMAIL_SCHEMES:
            return self.email
        return self.other

    @property
    def threads(self) -> int:
        """Sending threads for a sender: enough for a webhook and an e-mail channel at full pace,
        and a little for the rest."""
        return self.webhook + self.email + self.other


def limits_from_env() -> Limits:
    """CLOSING_ALERT_PARALLEL: `KIND=N` pairs (webhook, email, other; 1 to 64), separated by
    spaces or commas; a kind not named keeps its default."""
    text = os.environ.get("CLOSING_ALERT_PARALLEL", "").strip()
    values: dict[str, int] = {}
    for part in filter(None, re.split(r"[\s,]+", text)):
        kind, _, number = part.partition("=")
        if kind not in KINDS or not number.isdigit() or not 1 <= int(number) <= 64:
            raise UsageError(
                f"CLOSING_ALERT_PARALLEL: {part[:40]!r} is not KIND=N with KIND one of "
                f'{", ".join(KINDS)} and N from 1 to 64 (e.g. "webhook=8 email=4")'
            )
        values[kind] = int(number)
    return Limits(**values)


def send_all(
    items: list[T],
    group: Callable[[T], str],
    limit: Callable[[T], int],
    claim: Callable[[T], bool],
    send: Callable[[T], R],
    pool: Executor | None,
) -> Iterator[tuple[T, R]]:
    """Send `items` (in their order within each group), at most `limit` of a group at once; each
    is claimed in the calling thread just before it goes (one not claimed is skipped: someone
    else has it); yield each item and what `send` returned, as they finish. Without a pool, one
    at a time in this thread. An exception of `send` (even a BaseException) ends the iteration
    at once, the others left as they are, as a killed sender would."""
    queues: dict[str, deque[T]] = {}
    for item in items:
        queues.setdefault(group(item), deque()).append(item)
    running: dict[Future[R], tuple[str, T]] = {}
    busy: dict[str, int] = dict.fromkeys(queues, 0)
    while queues or running:
        for name in list(queues):
            waiting = queues[name]
            while waiting and busy[name] < limit(waiting[0]):
                item = waiting.popleft()
                if not claim(item):
                    continue
                if pool is None:
                    yield item, send(item)
                    continue
                running[pool.submit(send, item)] = (name, item)
                busy[name] += 1
            if not waiting:
                del queues[name]
        if not running:
            continue
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            name, item = running.pop(future)
            busy[name] -= 1
            yield item, future.result()
