"""The two checks every state-changing request passes before anything is written: it comes from
this server's own pages (its `Origin`, or failing that its `Referer`, is this server's origin),
and it carries the session's CSRF token. Either missing or wrong: 403, nothing written."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

FIELD = "csrf"  # the hidden field every form of a signed-in page carries
MAX_FORM = 64 * 1024  # bytes of a posted form (the fields are one line each)

FORBIDDEN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Refused · closing board</title>
<link rel="stylesheet" href="/static/board.css"></head>
<body><main><h1>Refused</h1><p role="alert">This request did not come from this board's own
page (or its form has expired): nothing was recorded. Reload the page and try again.</p>
</main></body></html>
"""


def own_origin(request: Request) -> str:
    """This server's origin as the browser sees it (the scheme a TLS proxy reported when
    `--proxy-headers` is on, and the Host header)."""
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}".lower()


def same_origin(request: Request) -> bool:
    """The request's `Origin` (or `Referer`'s origin when a browser sent none) is this server's."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return hmac.compare_digest(origin.lower().encode(), own_origin(request).encode())


def token_matches(presented: object, expected: str) -> bool:
    """The form's token is the session's, compared in constant time."""
    if not isinstance(presented, str) or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def forbidden() -> Response:
    """403: a foreign origin or a missing or wrong token; nothing was written."""
    return Response(FORBIDDEN_PAGE, status_code=403, media_type="text/html; charset=utf-8")


async def form_fields(request: Request) -> dict[str, str] | None:
    """A posted `application/x-www-form-urlencoded` form, each field once (the first); None
    for another kind of body or one over `MAX_FORM` bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


@dataclass(frozen=True)
class Upload:
    """The file a `multipart/form-data` form sent: its name as the browser gave it, its bytes."""

    name: str
    content: bytes


class TooLarge(Exception):
    """A posted form over its limit (413): nothing was read past it."""


async def upload_fields(
    request: Request, limit: int
) -> tuple[dict[str, str], Upload | None] | None:
    """A posted `multipart/form-data` form (its text fields, each once, and its one file) of at
    most `limit` bytes in all; None for another kind of body or one that cannot be read.
    Raises `TooLarge` for a body over `limit` (its length is asked for first)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length", "")
    if kind != "multipart/form-data" or not length.isdigit():
        return None
    if int(length) > limit:
        raise TooLarge
    try:
        form = await request.form(max_files=1, max_fields=30, max_part_size=limit)
    except Exception:  # a malformed body: starlette's parser says why in its own words
        return None
    try:
        fields: dict[str, str] = {}
        upload = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if upload is None and value.filename:
                    upload = Upload(value.filename, await value.read(limit + 1))
            else:
                fields.setdefault(name, value)
        return fields, upload
    finally:
        await form.close()
