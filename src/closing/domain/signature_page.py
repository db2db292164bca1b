"""A signature page sent through a purchaser's link (or a file the team uploads in the browser),
pure: a plain name, a PDF, PNG or JPEG by its bytes and named so, within its size, and a PDF with
nothing active in it (no script, no action but a link to a page of the same file, no launch, no
embedded file)."""

from __future__ import annotations

import re

from closing.domain.errors import UsageError

LINK_MAX_BYTES = 10 * 1024 * 1024  # a signed page: a scan or a PDF, never a whole binder
LINK_TYPES = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
}
# What a signature page has no business holding: scripts, actions run on opening, launches,
# embedded files and media (names compared after PDF's #xx escapes are undone).
_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFile|RichMedia|OpenAction|AA|XFA)\b")
# Every type of action (ISO 32000-2, 12.6.4) but an internal /GoTo: a link to a web address
# (/URI) or into another file (/GoToR, /GoToE), a form's submission, a named menu command...
_ACTIONS = frozenset(
    (
        *("GoToR", "GoToE", "GoToDp", "Launch", "Thread", "URI", "Sound", "Movie", "Hide"),
        *("Named", "SubmitForm", "ResetForm", "ImportData", "SetOCGState", "Rendition"),
        *("Trans", "GoTo3DView", "JavaScript", "RichMediaExecute"),
    )
)
_ACTION = re.compile(rb"/S\s*/(?:" + "|".join(sorted(_ACTIONS)).encode() + rb")(?![#\w])")
_GOTO = "/GoTo"
_ESCAPED = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)


def check_page(
    name: str, content: bytes, kind: str, label: str = "Signature page", limit: int = LINK_MAX_BYTES
) -> None:
    """A signature page a link sends (or a file the team uploads in the browser, `label`led
    and `limit`ed as the closing set's files are): a plain file name, a PDF, PNG or JPEG by its
    bytes (and named so), not empty, at most `limit` bytes, and a PDF with nothing active in it."""
    if not content:
        raise UsageError(f"{label}: the file is empty")
    if len(content) > limit:
        raise UsageError(
            f"{label}: the file is {len(content) / 1_000_000:,.1f} MB; at most "
            f"{limit / 1_000_000:,.1f} MB"
        )
    shown = name.strip()
    if (
        not shown
        or "/" in shown
        or "\\" in shown
        or shown.startswith(".")
        or len(shown) > 200
        or any(not c.isprintable() for c in shown)
    ):
        raise UsageError(f"{label}: the file name must be a plain name (no folders)")
    if kind not in LINK_TYPES:
        raise UsageError(f"{label}: send a PDF, PNG or JPEG file")
    if not shown.lower().endswith(LINK_TYPES[kind]):
        raise UsageError(f"{label}: the file is a {kind} but is named {shown!r}")
    if kind == "application/pdf" and _active(content):
        raise UsageError(
            f"{label}: the PDF holds scripts or actions (JavaScript, a link to a web address or "
            "another file, launch, embedded files); print it to a plain PDF or scan it, and send "
            "that"
        )


def _active(content: bytes) -> bool:
    """Whether a PDF holds anything active: the names in its bytes and its Flate streams (fast,
    and whatever qpdf makes of the file), then every object as a PDF reader resolves it (pikepdf:
    object streams, any filter, any depth of nesting), a key or a value such as /OpenAction or
    /S /JavaScript anywhere in a dictionary, and any action but an internal /GoTo (a link's
    /S /URI or /S /GoToR, an /A or /Next of a type not known)."""
    import zlib

    texts = [content]
    for found in _STREAM.finditer(content):
        try:
            texts.append(zlib.decompressobj().decompress(found.group(1), LINK_MAX_BYTES))
        except zlib.error:
            continue
    for text in texts:
        plain = _ESCAPED.sub(lambda m: bytes([int(m[1], 16)]), text)
        if _ACTIVE.search(plain) or _ACTION.search(plain):
            return True
    return _active_objects(content)


_ACTIVE_NAMES = frozenset(
    f"/{name}"
    for name in (
        "JavaScript",
        "JS",
        "Launch",
        "EmbeddedFile",
        "EmbeddedFiles",
        "RichMedia",
        "OpenAction",
        "AA",
        "XFA",
        "SubmitForm",
        "ImportData",
        "GoToE",
    )
)


def _active_objects(content: bytes) -> bool:
    """Every object of the PDF as pikepdf resolves it, its dictionaries' keys and names walked
    (direct objects inside it too; a reference is an object of its own, walked once)."""
    import io

    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(content))
    except (pikepdf.PdfError, ValueError):
        return False  # not a PDF qpdf can read: the byte scan above is all there is to go on
    with pdf:
        for obj in pdf.objects:
            if _holds_active(obj, 0):
                return True
    return False


def _holds_active(obj: object, depth: int) -> bool:
    import pikepdf

    if depth > 32:  # deeper than any real page's objects: not checked, so not let through
        return True
    if isinstance(obj, pikepdf.Name):
        return str(obj) in _ACTIVE_NAMES
    if isinstance(obj, pikepdf.Stream):
        obj = obj.stream_dict
    if isinstance(obj, pikepdf.Dictionary):
        for key in obj.keys():  # noqa: SIM118 (a pikepdf Dictionary: its keys as text)
            if key in _ACTIVE_NAMES:
                return True
            value = obj.get(key)
            if key == "/S" and isinstance(value, pikepdf.Name) and str(value)[1:] in _ACTIONS:
                return True
            if key in ("/A", "/Next") and _not_a_goto(value):
                return True
            if not getattr(value, "is_indirect", True) and _holds_active(value, depth + 1):
                return True
    elif isinstance(obj, pikepdf.Array):
        return any(
            not getattr(item, "is_indirect", True) and _holds_active(item, depth + 1)
            for item in obj
        )
    return False


def _not_a_goto(action: object) -> bool:
    """Whether an annotation's or an outline item's /A (or an action's /Next, one or a list) is
    an action of another type than an internal /GoTo (direct or not: its type is read here)."""
    import pikepdf

    actions = list(action) if isinstance(action, pikepdf.Array) else [action]
    for item in actions:
        if isinstance(item, pikepdf.Dictionary) and "/S" in item and str(item.get("/S")) != _GOTO:
            return True
    return False
