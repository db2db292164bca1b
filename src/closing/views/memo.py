"""The closing memorandum set in a format: HTML and Markdown from the Jinja2 templates in
`views/templates/` (or the folder given on the command line, `report --templates DIR`, looked up
first), and PDF from the HTML by WeasyPrint.

Templates never run code and the memo never fetches: Jinja2 runs in an
`ImmutableSandboxedEnvironment` (no attribute of Python's internals, no `os` reachable, nothing
mutated), templates load only from those two folders (an `{% include '/etc/passwd' %}` is looked
up inside them, and not found), and WeasyPrint's URL fetcher serves the package's own files only:
a stylesheet, image or attachment named by `file://`, `http(s)://` or anything else is refused,
left out of the memo, and named in the warnings the caller prints.

The memo's content is `closing.domain.memo` (pure); this module only lays it out. Jinja2 and
WeasyPrint are imported inside the functions, so `closing --help` stays fast.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closing.domain.errors import DealFileError, Problem
from closing.domain.text import neutral, neutral_value

if TYPE_CHECKING:
    from jinja2 import Environment

    from closing.domain.memo import Memo

TEMPLATES = Path(__file__).resolve().parent / "templates"


class Markdown(str):
    """Text that is already Markdown: the template environment leaves it as it is."""


_MD_INLINE = re.compile(r"([\\`*_\[\]<|~])|&(?=#?\w+;)")  # `>` only matters at a line start
_MD_LINE_START = re.compile(r"^(?:[#>+=-]|\d+[.)])")


def md_escape(value: object) -> str:
    """Text as Markdown that prints exactly that text: every character that could start
    emphasis, code, a link, HTML, an entity or a table cell is escaped, as is a line-start mark
    (a heading, a list, a quote); line breaks become spaces so a value cannot leave its cell."""
    if value is None:
        return ""
    if isinstance(value, Markdown):
        return str(value)
    text = neutral(" ".join(str(value).splitlines()))  # no control or bidi character survives
    text = _MD_INLINE.sub(lambda m: "\\" + m.group(0), text)
    return "\\" + text if _MD_LINE_START.match(text) else text


def _md_code(value: str) -> Markdown:
    return Markdown(f"`{value}`") if "`" not in value else Markdown(md_escape(value))


def _environment(folder: str | None, markdown: bool) -> Environment:
    """The package's templates, after the folder given on the command line when there is one;
    sandboxed."""
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    loaders = [FileSystemLoader(folder)] if folder else []
    loader = ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))])
    if markdown:
        env = ImmutableSandboxedEnvironment(
            loader=loader,
            autoescape=False,
            finalize=md_escape,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["raw"] = Markdown
        env.globals.update(br=Markdown("<br>"), code=_md_code)
        return env
    return ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=True,
        finalize=neutral_value,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_text(memo: Memo, kind: str, folder: str | None = None) -> str:
    """The memo as HTML (`html`) or Markdown (`md`) from `memo.<kind>.j2`."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

    name = f"memo.{kind}.j2"
    if folder and not Path(folder).is_dir():
        raise DealFileError([Problem(folder, None, "--templates: no such folder")])
    try:
        template = _environment(folder, markdown=kind == "md").get_template(name)
        return template.render(memo=memo)
    except TemplateSyntaxError as error:
        where = error.filename or name
        raise DealFileError([Problem(where, error.lineno, f"template: {error.message}")]) from None
    except TemplateNotFound as missing:
        what = f"no {name}" if missing.name == name else f"template: no template {missing.name!r}"
        raise DealFileError([Problem(folder or str(TEMPLATES), None, what)]) from None
    except TemplateError as error:
        raise DealFileError([Problem(folder or name, None, f"template: {error}")]) from None


def load_weasyprint() -> None:
    """Import WeasyPrint without the compiler runs of its library look-up.

    WeasyPrint finds GObject, Pango, HarfBuzz and fontconfig by trying several names for each
    through cffi, which asks `ctypes.util.find_library` about every name that does not load as
    given; on Linux each name not in ldconfig's cache then runs gcc and ld (some 20 of them:
    about 200 ms, as long as the rest of the import). While WeasyPrint imports, `find_library`
    answers from ldconfig's cache alone: the same libraries load (each list of names WeasyPrint
    tries holds the library's soname, which loads as given)."""
    if "weasyprint" in sys.modules:
        return
    import ctypes.util

    ldconfig_only = getattr(ctypes.util, "_findSoname_ldconfig", None)
    real = ctypes.util.find_library
    if sys.platform != "linux" or ldconfig_only is None:
        import weasyprint

        return
    ctypes.util.find_library = ldconfig_only
    try:
        import weasyprint
    except OSError:  # a library only the full look-up finds (LD_LIBRARY_PATH): the usual way
        for name in [m for m in sys.modules if m.split(".")[0] == "weasyprint"]:
            del sys.modules[name]
        ctypes.util.find_library = real
        import weasyprint  # noqa: F401
    finally:
        ctypes.util.find_library = real


def own_files_only(refused: list[str]) -> Any:
    """WeasyPrint's URL fetcher for the memo: the package's own files (its templates and static
    folder) and nothing else; each URL refused is added to `refused`."""
    from urllib.parse import unquote, urlsplit

    load_weasyprint()
    from weasyprint.urls import URLFetcher

    allowed = (TEMPLATES, TEMPLATES.parent / "static")

    class OwnFilesOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme == "file" and parts.netloc in ("", "localhost"):
                path = Path(unquote(parts.path)).resolve()
                if any(path.is_relative_to(folder) for folder in allowed) and path.is_file():
                    return super().fetch(url, headers)
            refused.append(url)
            raise ValueError(f"refused: {url}")

    return OwnFilesOnly(allowed_protocols=("file",))


def render_pdf(html: str, refused: list[str] | None = None) -> tuple[bytes, int]:
    """The HTML memo set as a Letter-size PDF by WeasyPrint; the PDF and its page count. Every
    URL the HTML names but the package's own files is refused (and added to `refused`)."""
    import logging

    load_weasyprint()
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    found: list[str] = [] if refused is None else refused
    document = HTML(
        string=html, base_url=str(TEMPLATES) + os.sep, url_fetcher=own_files_only(found)
    ).render()
    return bytes(document.write_pdf()), len(document.pages)


def render_memo(
    memo: Memo, kind: str, folder: str | None = None, refused: list[str] | None = None
) -> tuple[bytes, int | None]:
    """The memo as a file's bytes in `kind` (`pdf`, `html`, `md`), and its page count (a PDF's;
    None for text), from the templates in `folder` (`report --templates`) when given; the URLs a
    PDF was refused are added to `refused`."""
    if kind == "pdf":
        return render_pdf(render_text(memo, "html", folder), refused)
    return render_text(memo, kind, folder).encode(), None
