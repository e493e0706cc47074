"""Link checking: article links to a missing article or a missing section anchor are reported."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

from .articles import Article
from .errors import ArticleError
from .render import render_markdown

_ARTICLE_PATH = re.compile(r"^/articles/([^/#?]+)/?$")


def check_links(articles: list[Article]) -> list[ArticleError]:
    """One warning per broken internal link (field `links`), naming the file, the link and what is missing."""
    parsed = {a.id: BeautifulSoup(render_markdown(a.body), "html.parser") for a in articles}
    anchors = {aid: {tag["id"] for tag in soup.find_all(id=True)} for aid, soup in parsed.items()}
    by_id = {a.id: a for a in articles}
    problems = []
    for article in articles:
        for link in parsed[article.id].find_all("a", href=True):
            href = link["href"]
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue
            fragment = unquote(parts.fragment)
            if not parts.path:  # a link within the same article
                target = article.id
            else:
                m = _ARTICLE_PATH.match(parts.path)
                if not m:
                    continue
                target = unquote(m.group(1))
            if target not in by_id:
                problems.append(ArticleError(article.path, "links", f"{href}: no article {target!r}"))
            elif fragment and fragment not in anchors[target]:
                problems.append(ArticleError(article.path, "links", f"{href}: article {target!r} has no section #{fragment}"))
            elif article.audience == "public" and by_id[target].audience == "internal":
                problems.append(ArticleError(article.path, "links", f"{href}: a public article links to an internal one"))
    return problems
