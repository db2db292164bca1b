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
from dataclasses import dataclass
from typing import Any

from closing.domain.errors import AlertsError
from closing.domain.redaction import mask_url
from closing.domain.text import neutral, neutral_lines, quoted

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


class Notifier:
    """Sends one alert to one channel; apprise is imported once, when the first URL is used."""

    def __init__(self) -> None:
        self._apprise: dict[str, Any] = {}

    def check(self, channel: Channel) -> None:
        """Refuse a URL apprise does not understand, before any alert depends on it."""
        if not channel.is_log:
            self._target(channel)

    def _target(self, channel: Channel) -> Any:
        if channel.key not in self._apprise:
            import apprise

            logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs URLs with secrets
            target = apprise.Apprise()
            if not target.add(channel.url or ""):
                raise AlertsError(
                    f"notification URL {channel.name} is not one apprise understands; see "
                    "apprise's list of services"
                )
            for plugin in target:
                # apprise sleeps between two sends of one plugin (5.5 s for e-mail), which would
                # hold every later alert and channel of the pass; a refused send is retried.
                plugin.request_rate_per_sec = 0
            self._apprise[channel.key] = target
        return self._apprise[channel.key]

    def send(self, channel: Channel, title: str, body: str, fields: dict[str, str]) -> None:
        """Send one alert. Its text is made neutral here, whatever wrote it: no control character,
        escape sequence or bidi override from a name reaches a log, a mail reader or a webhook;
        the title is one line and the body keeps only its own line breaks."""
        if channel.is_log:
            log.warning("alert %s", " ".join(f"{k}={logfmt(v)}" for k, v in fields.items()))
            return
        target = self._target(channel)
        try:
            from apprise import NotifyFormat

            # The body is plain text: said so, its lines stay lines in the e-mail's text part.
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
