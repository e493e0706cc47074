"""What the help-center pages need of a build, made once at build time: each article's rendered page and
table of contents, translation groups, and category listings per interface locale."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .articles import Article, Category
from .chunking import Chunk
from .config import LOCALES
from .render import render_markdown


@dataclass(frozen=True)
class Page:
    html: str  # sanitized article HTML
    toc: tuple[tuple[str, str], ...]  # (anchor, heading) of each top-level section, in reading order

    def to_dict(self) -> dict[str, Any]:
        return {"html": self.html, "toc": [list(t) for t in self.toc]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Page":
        return cls(d["html"], tuple((a, h) for a, h in d["toc"]))


def make_pages(articles: list[Article], chunks: list[Chunk], previous: dict[str, Page] | None = None,
               unchanged: Iterable[str] = ()) -> dict[str, Page]:
    """One Page per article; unchanged articles keep the previous build's page (no second render)."""
    toc: dict[str, list[tuple[str, str]]] = {a.id: [] for a in articles}
    for chunk in chunks:
        entries = toc[chunk.article_id]
        if chunk.anchor and len(chunk.heading_path) == 1 and all(chunk.anchor != a for a, _ in entries):
            entries.append((chunk.anchor, chunk.heading))
    keep = set(unchanged) if previous else set()
    return {
        a.id: Page(previous[a.id].html if a.id in keep and a.id in previous else render_markdown(a.body), tuple(toc[a.id]))
        for a in articles
    }


def make_listings(articles: list[Article], categories: dict[str, Category]) -> dict[str, Any]:
    """Translation groups (public members, by locale) and, per category and interface locale, the public
    articles a reader browses: those in the locale (by title), then each topic that has no translation in it,
    in English where it has one, else in its first language (by title): no topic is unreachable in any locale."""
    public = [a for a in articles if a.is_public]
    groups: dict[str, list[str]] = {}
    for a in sorted(public, key=lambda a: a.locale):
        groups.setdefault(a.translation_group, []).append(a.id)
    by_category: dict[str, dict[str, list[str]]] = {}
    for slug in categories:
        in_cat = [a for a in public if a.category == slug]
        by_category[slug] = {}
        for locale in LOCALES:
            local = sorted((a for a in in_cat if a.locale == locale), key=lambda a: a.title)
            covered = {a.translation_group for a in local}
            others: dict[str, Article] = {}
            for a in sorted(in_cat, key=lambda a: (a.locale != "en", LOCALES.index(a.locale) if a.locale in LOCALES else 99)):
                if a.translation_group not in covered:
                    others.setdefault(a.translation_group, a)
            by_category[slug][locale] = [a.id for a in local + sorted(others.values(), key=lambda a: a.title)]
    return {"groups": groups, "categories": by_category}
