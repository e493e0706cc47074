"""Markdown → sanitized HTML with stable heading anchors (for article pages and chunking)."""
from __future__ import annotations

import functools
import re
import unicodedata

import markdown
import nh3

from .reply import to_html_blocks

_EXTENSIONS = ["tables", "fenced_code", "sane_lists", "toc", "md_in_html"]

# Tags and attributes an article may use; everything else (script, style, on* handlers,
# javascript: URLs) is stripped by nh3 (ammonia), so article HTML is always inert.
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul", "span", "div",
}
_ALLOWED_ATTRS = {
    "*": {"id", "class"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align", "style"},
    "th": {"align", "style"},
}


def slugify(value: str, separator: str = "-") -> str:
    """A URL fragment for a heading that keeps CJK, Hangul and kana (markdown's default drops them)."""
    value = unicodedata.normalize("NFKC", value).strip().lower()
    value = re.sub(r"[^\w\s-]", "", value, flags=re.UNICODE)
    return re.sub(r"[\s_-]+", separator, value).strip(separator) or "section"


@functools.lru_cache(maxsize=1024)
def render_markdown(text: str) -> str:
    """Article Markdown → sanitized HTML whose h2/h3 carry `id` anchors (pure, so the last 1024 are remembered:
    a build renders each article once for link checking and chunking together)."""
    md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs={"toc": {"slugify": slugify}})
    html = md.convert(to_html_blocks(text))  # internal notes (kb.reply): a marked <div>
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
