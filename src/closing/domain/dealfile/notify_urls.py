"""The notify-URL secret rule: a notification URL in a deal file holds no literal secret (a
password, a secret query parameter, a token-bearing service's tokens); each is written `${VAR}`."""

from __future__ import annotations

import re

from closing.domain.text import neutral

# apprise services whose URL holds their tokens: in the host and path (Slack, Teams, Discord,
# Telegram, Pushover, Pushbullet, Join, IFTTT) or in the path after a host name (Gotify,
# Mattermost). Only numbers, #channels and @users may be written out in those places.
TOKEN_IN_HOST = frozenset(
    ("slack", "msteams", "discord", "tgram", "pover", "pbul", "join", "ifttt")
)
TOKEN_IN_PATH = frozenset(("gotify", "gotifys", "mmost", "mmosts"))
_SECRET_QUERY = re.compile(
    r"pass|password|pwd|passwd|token|\w+_token|secret|\w+_secret|api_?key|key|auth|sig|signature",
    re.IGNORECASE,
)
_ENV_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
# apprise sends a `?+Name=value` query parameter as the HTTP header `Name` (json://, xml://,
# form://): a header that authenticates is a secret like any other.
_SECRET_HEADER = re.compile(r".*(auth|token|key|secret|cookie|signature|password).*", re.IGNORECASE)
# Web hooks whose https:// URL is itself the credential: the path after the prefix is the token
# (apprise reads these URLs as its slack://, discord://, tgram://, msteams:// services).
WEBHOOK_PATHS = (
    ("hooks.slack.com", "/services/"),
    ("discord.com", "/api/webhooks/"),
    ("discordapp.com", "/api/webhooks/"),
    ("api.telegram.org", "/bot"),
    ("webhook.office.com", "/"),
    ("outlook.office.com", "/webhook"),
    ("hooks.zapier.com", "/hooks/"),
)


def variables_note(url: str) -> str | None:
    """What the person loading a deal file should see of a notification URL that reads the
    environment: the address (masked) and each `${VAR}` it reads, so that a deal file from
    elsewhere cannot quietly have the alert sender post this machine's other secrets (a database
    password, a cloud key) to an address of its choosing. None when it reads none."""
    from closing.domain.redaction import mask_url

    names = list(dict.fromkeys(_ENV_VAR.findall(url)))
    if not names:
        return None
    return (
        f"alerts to {mask_url(url)} read {', '.join(names)} from the alert sender's environment; "
        "check that each is a secret meant for that address"
    )


def secret_in_url(url: str) -> str | None:
    """Why `url` holds a literal secret (None when every secret in it is a `${VAR}`): a password,
    a secret query parameter, or a token-bearing service's tokens written out."""
    from urllib.parse import parse_qsl

    def literal(part: str) -> bool:
        return bool(_ENV_VAR.sub("", part))

    scheme, _, rest = url.strip().partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    after = rest[len(authority) :]
    path, _, query = after.partition("#")[0].partition("?")
    userinfo, _, host = authority.rpartition("@")
    if ":" in userinfo and literal(userinfo.split(":", 1)[1]):
        return "has a password in it"
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _SECRET_QUERY.fullmatch(name) and literal(value):
            return f"has a secret in its ?{neutral(name[:20])}= parameter"
    for name, value in parse_qsl(query, keep_blank_values=True):
        # parse_qsl reads the `+` as a space
        if name.startswith(("+", " ")) and _SECRET_HEADER.fullmatch(name[1:]) and literal(value):
            return f"has a secret in its +{neutral(name[1:20])}= header parameter"
    kind = scheme.lower()
    lower_host = host.lower().split(":")[0]
    if kind in ("http", "https"):
        for webhook, prefix in WEBHOOK_PATHS:
            if (lower_host == webhook or lower_host.endswith("." + webhook)) and path.startswith(
                prefix
            ):
                secret = path[len(prefix) :].strip("/")
                if secret and literal(secret):
                    return f"is a {webhook} web hook, whose URL is its secret"
    if kind in TOKEN_IN_HOST or kind in TOKEN_IN_PATH:
        parts = [host, *path.split("/")] if kind in TOKEN_IN_HOST else path.split("/")
        for part in parts:
            if part and literal(part) and not re.fullmatch(r"[#@%].*|-?\d+", part):
                return f"has the service's tokens in it ({scheme.lower()}:// URLs carry them)"
    return None
