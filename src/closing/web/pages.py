"""The web's HTML pages, drawn from the package's own templates in one environment (autoescaped:
every value from the deal file or the log is text, never markup; and `neutral`: no control or
bidi character reaches a page), for the share links' board and the signed-in team's pages."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import Response

from closing.domain.errors import ClosingError, NotPermittedError, UsageError
from closing.domain.text import neutral_value

TEMPLATES = Environment(
    loader=PackageLoader("closing.views", "templates"),
    autoescape=True,  # every value from the deal file or the log is text, never markup
    finalize=neutral_value,  # and no control or bidi character reaches the page
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals["zip"] = zip  # the board's footer


def rendered(name: str, **values: Any) -> str:
    """The template `name` rendered with `values`."""
    return TEMPLATES.get_template(name).render(**values)


def html_page(name: str, status_code: int = 200, **values: Any) -> Response:
    """The template `name` rendered with `values`, as an HTML response."""
    html = rendered(name, **values)
    return Response(html, status_code=status_code, media_type="text/html; charset=utf-8")


def message_page(title: str, text: str, status_code: int = 200, alert: bool = False) -> Response:
    """A page that says one thing (signed out, a link used up, a refusal)."""
    return html_page("team_message.html", status_code, title=title, text=text, alert=alert)


def refusal_status(error: ClosingError) -> int:
    """The HTTP status of a page's refusal: 403 for a role or a rule of who may act, 400 for
    input the form got wrong, 409 for what the record does not allow now."""
    if isinstance(error, NotPermittedError):
        return 403
    return 400 if isinstance(error, UsageError) else 409
