"""Where alerts go: the process log always, and apprise URLs (mailto://, json://, Slack, Teams...).

A channel is known to the database only by a hash of its URL and a masked name, so passwords and
tokens never reach the ledger, the log or the screen. `${VAR}` in a URL is taken from the
environment when the daemon starts, so deal files need not hold secrets.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from closing.domain.errors import AlertsError
from closing.domain.redaction import mask_url
from closing.domain.text import neutral, neutral_lines, quoted
from closing.services.alerts.parallel import Limits, limits_from_env

LOG_KEY = "log"
log = logging.getLogger("closing.domain.alert_plan")


class DeliveryFailed(Exception):
    """A channel did not take the alert; the message is safe to show (no secrets)."""


@dataclass(frozen=True)
class Channel:
    key: str
    name: str
    url: str | None = None  # None: the process log

    @property
    def is_log(self) -> bool:
        return self.url is None


LOG_CHANNEL = Channel(LOG_KEY, "log")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def channel_for(url: str) -> Channel:
    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise AlertsError(
                f"notification URL {mask_url(url)} uses ${{{name}}}, which is not set; "
                f"export {name}"
            )
        return os.environ[name]

    full = _VAR.sub(expand, url.strip())
    key = hashlib.sha256(full.encode()).hexdigest()[:16]
    return Channel(key, mask_url(full), full)


def channels_for(urls: list[str]) -> list[Channel]:
    """The log plus each distinct URL, in order."""
    found = [LOG_CHANNEL]
    for url in urls:
        channel = channel_for(url)
        if all(channel.key != other.key for other in found):
            found.append(channel)
    return found


def env_urls() -> list[str]:
    """CLOSING_NOTIFY: URLs separated by spaces or commas."""
    text = os.environ.get("CLOSING_NOTIFY", "")
    return [part for part in re.split(r"[\s,]+", text) if part]


def message_id(key: str) -> str:
    """The e-mail Message-ID of the alert whose key is `key`: the same for every attempt, so a
    mail client shows a re-sent alert once."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@alert.closing>"


def idempotency_key(key: str) -> str:
    """The alert's key as a webhook's `Idempotency-Key` header: as it is when it is printable
    ASCII (every key closing makes from ids and times), else with each other character
    escaped (`\u2013`: a bank's reference can hold an en dash, which no HTTP header can
    carry), the same for every attempt."""
    if key.isascii() and key.isprintable():
        return key
    return neutral(key).encode("ascii", "backslashreplace").decode("ascii")


# The Message-ID of the e-mail being built in this context (apprise copies the context into the
# threads it sends from), if any.
_message_id: ContextVar[str | None] = ContextVar("closing_message_id", default=None)


@contextmanager
def _message_id_for(key: str | None) -> Iterator[None]:
    token = _message_id.set(None if key is None else message_id(key))
    try:
        yield
    finally:
        _message_id.reset(token)


def _stable_message_ids() -> None:
    """apprise sets each e-mail's Message-ID itself, after (and besides) any header it is given,
    from `make_msgid`: it takes the one this thread is sending instead."""
    from apprise.plugins.email import base

    original = getattr(base, "make_msgid")  # noqa: B009 (apprise does not export it)
    if getattr(original, "closing", False):
        return

    def make_msgid(*args: Any, **kwargs: Any) -> str:
        chosen = _message_id.get()
        return chosen if chosen is not None else str(original(*args, **kwargs))

    make_msgid.closing = True  # type: ignore[attr-defined]
    setattr(base, "make_msgid", make_msgid)  # noqa: B010


class Notifier:
    """Sends one alert to one channel; apprise is imported once, when the first URL is used.

    Each thread has its own apprise objects (a webhook's headers are set per alert), so several
    threads can send at once; each keeps its connections between alerts."""

    def __init__(self, limits: Limits | None = None) -> None:
        self._local = threading.local()
        self.limits = limits_from_env() if limits is None else limits
        self._pool: ThreadPoolExecutor | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The threads that send (made when first needed, kept for the sender's life)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.limits.threads, thread_name_prefix="closing-send")
        return self._pool

    def close(self) -> None:
        """Let the sending threads go once they are idle."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    @property
    def _apprise(self) -> dict[str, Any]:
        found: dict[str, Any] | None = getattr(self._local, "targets", None)
        if found is None:
            found = self._local.targets = {}
        return found

    def check(self, channel: Channel) -> None:
        """Refuse a URL apprise does not understand, before any alert depends on it."""
        if not channel.is_log:
            self._target(channel)

    def _target(self, channel: Channel) -> Any:
        if channel.key not in self._apprise:
            import apprise

            logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs URLs with secrets
            # Sent in this thread (not apprise's pool): we send in parallel ourselves, and an
            # e-mail's Message-ID is chosen per thread.
            target = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
            if not target.add(channel.url or ""):
                raise AlertsError(
                    f"notification URL {channel.name} is not one apprise understands; see "
                    "apprise's list of services"
                )
            for plugin in target:
                # apprise sleeps between two sends of one plugin (5.5 s for e-mail), which would
                # hold every later alert and channel of the pass; a refused send is retried.
                plugin.request_rate_per_sec = 0
            _stable_message_ids()
            self._apprise[channel.key] = target
        return self._apprise[channel.key]

    def send(self, channel: Channel, title: str, body: str, fields: dict[str, str]) -> None:
        """Send one alert. Its text is made neutral here, whatever wrote it: no control character,
        escape sequence or bidi override from a name reaches a log, a mail reader or a webhook;
        the title is one line and the body keeps only its own line breaks.

        The alert's key (`fields["key"]`, its `Alert:` line) goes with it so that a receiver can
        drop a repeat: a webhook's `Idempotency-Key` header, an e-mail's Message-ID."""
        if channel.is_log:
            log.warning("alert %s", " ".join(f"{k}={logfmt(v)}" for k, v in fields.items()))
            return
        try:
            target = self._target(channel)
        except AlertsError as refused:  # a deal file's URL: its deliveries fail, others go on
            raise DeliveryFailed(refused.message) from None
        key = fields.get("key")
        for plugin in target:
            headers = getattr(plugin, "headers", None)
            if isinstance(headers, dict) and not hasattr(plugin, "smtp_host"):  # a webhook
                if key is None:
                    headers.pop("Idempotency-Key", None)
                else:
                    headers["Idempotency-Key"] = idempotency_key(key)
        try:
            from apprise import NotifyFormat

            # The body is plain text: said so, its lines stay lines in the e-mail's text part.
            with _message_id_for(key):
                result = target.notify(
                    title=neutral(title), body=neutral_lines(body), body_format=NotifyFormat.TEXT
                )
        except Exception as error:  # apprise plugins raise their own errors
            raise DeliveryFailed(f"failed with {type(error).__name__}") from None
        if not result:
            raise DeliveryFailed("did not accept the alert (unreachable, or refused it)")


def logfmt(value: str) -> str:
    """A logfmt value: bare when it can be, else quoted, with every line break, control
    character and bidi override escaped (`\\n`, `\\x1b`, `\\u202e`): a value can never start
    a line of its own or act on the terminal the log is read in."""
    if value and value.isprintable() and not re.search(r'[\s"=\\]', value):
        return value
    return quoted(value)
