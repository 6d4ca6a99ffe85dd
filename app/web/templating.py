"""Jinja2 templates, Markdown rendering and the htmx response helpers."""

from pathlib import Path

import nh3
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

from app.clock import paris_datetime, paris_time
from app.decimals import french_number

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
_ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "h3",
    "h4",
    "sub",
    "sup",
}


def render_markdown(text: str) -> Markup:
    """Markdown to HTML, sanitised by nh3 (an author's HTML never reaches the page raw)."""
    html = _markdown.render(text or "")
    clean = nh3.clean(html, tags=_ALLOWED_TAGS, link_rel="noopener noreferrer nofollow")
    return Markup(clean)


def render_markdown_inline(text: str) -> Markup:
    """Inline Markdown (an option's text): no paragraph around it."""
    html = _markdown.renderInline(text or "")
    return Markup(nh3.clean(html, tags=_ALLOWED_TAGS, link_rel="noopener noreferrer nofollow"))


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["markdown"] = render_markdown
templates.env.filters["markdown_inline"] = render_markdown_inline
templates.env.filters["fr_number"] = french_number
templates.env.filters["paris_datetime"] = paris_datetime
templates.env.filters["paris_time"] = paris_time


def is_htmx(request: Request) -> bool:
    """True when htmx sent the request (it then expects a fragment)."""
    return request.headers.get("HX-Request") == "true"


def redirect(request: Request, url: str) -> Response:
    """A redirect that htmx follows as a full page change (HX-Redirect)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
