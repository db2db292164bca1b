"""The closing memorandum set in a format: HTML and Markdown from the Jinja2 templates in
`views/templates/` (or a deal's own folder of them, looked up first), and PDF from the HTML by
WeasyPrint, which may read local files and data: URLs only.

The memo's content is `closing.domain.memo` (pure); this module only lays it out. Jinja2 and
WeasyPrint are imported inside the functions, so `closing --help` stays fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

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
    """The package's templates, after the deal's own folder when it has one."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    loaders = [FileSystemLoader(folder)] if folder else []
    loader = ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))])
    if markdown:
        env = Environment(
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
    return Environment(
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
        raise DealFileError(
            [
                Problem(
                    folder, None, "report.templates: no such folder; restore it or reload the deal"
                )
            ]
        )
    try:
        template = _environment(folder, markdown=kind == "md").get_template(name)
        return template.render(memo=memo)
    except TemplateSyntaxError as error:
        where = error.filename or name
        raise DealFileError([Problem(where, error.lineno, f"template: {error.message}")]) from None
    except TemplateNotFound:
        raise DealFileError([Problem(folder or str(TEMPLATES), None, f"no {name}")]) from None
    except TemplateError as error:
        raise DealFileError([Problem(folder or name, None, f"template: {error}")]) from None


def render_pdf(html: str, folder: str | None = None) -> tuple[bytes, int]:
    """The HTML memo set as a Letter-size PDF by WeasyPrint; the PDF and its page count."""
    import logging

    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    base = folder or str(TEMPLATES)
    # Local files (a deal template's logo, say) and data: URLs only: a memo never reaches the
    # network, whatever a template asks for.
    local_only = URLFetcher(allowed_protocols=("file", "data"))
    document = HTML(string=html, base_url=base + os.sep, url_fetcher=local_only).render()
    return bytes(document.write_pdf()), len(document.pages)


def render_memo(memo: Memo, kind: str, folder: str | None = None) -> tuple[bytes, int | None]:
    """The memo as a file's bytes in `kind` (`pdf`, `html`, `md`), and its page count (a PDF's;
    None for text), from the deal's templates in `folder` when it has them."""
    if kind == "pdf":
        return render_pdf(render_text(memo, "html", folder), folder)
    return render_text(memo, kind, folder).encode(), None
