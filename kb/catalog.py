"""What the help-center pages need of a build, made once at build time: each article's rendered page and
table of contents, translation groups, category listings per interface locale, and related articles."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .articles import Article, Category
from .chunking import Chunk
from .config import LOCALES
from .render import render_markdown
from .store import Page


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


RELATED = 5  # related articles shown on an article page
_BLOCK = 1024  # articles compared at a time (a 10k-article locale would otherwise need a 10k x 10k matrix)


def related_articles(articles: list[Article], chunks: list[Chunk], vectors: np.ndarray,
                     titles: np.ndarray | None = None, n: int = RELATED) -> dict[str, list[str]]:
    """For each public article, the `n` public articles of its locale nearest to it, best first, itself and its
    translation group left out. An article's vector is the mean of its sections' vectors and its title's (the
    rows are normalised, so the inner product of the normalised means is their cosine)."""
    public = [i for i, a in enumerate(articles) if a.is_public]
    if not public or not len(chunks):
        return {}
    dim = vectors.shape[1]
    row = {a.id: i for i, a in enumerate(articles)}
    sums = np.zeros((len(articles), dim), np.float32)
    for chunk, vec in zip(chunks, vectors):
        sums[row[chunk.article_id]] += vec
    if titles is not None and titles.shape == sums.shape:
        sums += titles  # a zero row where an article has no title vector
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    related: dict[str, list[str]] = {}
    for locale in sorted({articles[i].locale for i in public}):
        ids = np.array([i for i in public if articles[i].locale == locale and norms[i, 0] > 0], dtype=np.int64)
        if len(ids) < 2:
            continue
        groups = np.array([articles[i].translation_group for i in ids], dtype=object)
        for start in range(0, len(ids), _BLOCK):
            block = ids[start:start + _BLOCK]
            sims = means[block] @ means[ids].T
            sims[groups[start:start + _BLOCK, None] == groups[None, :]] = -np.inf  # itself and its translations
            for r, i in enumerate(block):
                top = np.argsort(-sims[r], kind="stable")[:n]
                related[articles[i].id] = [articles[ids[j]].id for j in top if np.isfinite(sims[r, j])]
    return related
