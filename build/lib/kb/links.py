"""Link checking: article links to a missing article or a missing section anchor are reported."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

from .articles import Article
from .errors import ArticleError
from .render import render_markdown

_ARTICLE_PATH = re.compile(r"^/articles/([^/#?]+)/?$")


def outline(article: Article) -> dict[str, list[str]]:
    """An article's section anchors and link targets (what link checking needs of it)."""
    soup = BeautifulSoup(render_markdown(article.body), "html.parser")
    return {"anchors": [tag["id"] for tag in soup.find_all(id=True)], "links": [a["href"] for a in soup.find_all("a", href=True)]}


def check_links(articles: list[Article], known: dict[str, dict[str, list[str]]] | None = None) -> list[ArticleError]:
    """One warning per broken internal link (field `links`), naming the file, the link and what is missing.

    `known` maps article fingerprints to outlines from an earlier build: only new and edited articles are
    rendered again. It is updated in place with the outlines of these articles."""
    known = {} if known is None else known
    for a in articles:
        if a.fingerprint not in known:
            known[a.fingerprint] = outline(a)
    outlines = {a.id: known[a.fingerprint] for a in articles}
    anchors = {aid: set(o["anchors"]) for aid, o in outlines.items()}
    by_id = {a.id: a for a in articles}
    problems = []
    for article in articles:
        for href in outlines[article.id]["links"]:
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
