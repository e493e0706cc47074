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
    """One Page per article; unchanged articles keep the previous build's page (no second render; their chunks, and
    so their table of contents, are the previous build's too)."""
    keep = {aid for aid in unchanged if aid in previous} if previous else set()
    toc: dict[str, list[tuple[str, str]]] = {a.id: [] for a in articles if a.id not in keep}
    for chunk in chunks:
        entries = toc.get(chunk.article_id)
        if entries is not None and chunk.anchor and len(chunk.heading_path) == 1 \
                and all(chunk.anchor != a for a, _ in entries):
            entries.append((chunk.anchor, chunk.heading))
    return {a.id: previous[a.id] if a.id in keep else Page(render_markdown(a.body), tuple(toc[a.id])) for a in articles}


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


def row_sums(of: np.ndarray, vectors: np.ndarray, rows: int) -> np.ndarray:
    """Row r: the sum of the vectors i with of[i] == r, added in order, one at a time (np.add.at's float32 sums,
    the same whichever build makes them). Each article's chunks together, as a build makes them: the k-th vector of
    every run added at once, without np.add.at's loop over every vector (28 ms instead of 79 at 30,000 chunks)."""
    sums = np.zeros((rows, vectors.shape[1]), np.float32)
    if len(of) and (np.diff(of) >= 0).all():
        starts = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])
        lengths = np.diff(np.r_[starts, len(of)])
        for k in range(int(lengths.max())):
            runs = starts[lengths > k]
            sums[of[runs]] += vectors[runs + k]
    else:
        np.add.at(sums, of, vectors)
    return sums


def related_articles(articles: list[Article], chunks: list[Chunk], vectors: np.ndarray,
                     titles: np.ndarray | None = None, n: int = RELATED, previous: dict[str, list[str]] | None = None,
                     changed: set[str] | None = None) -> dict[str, list[str]]:
    """For each public article, the `n` public articles of its locale nearest to it, best first, itself and its
    translation group left out. An article's vector is the mean of its sections' vectors and its title's (the
    rows are normalised, so the inner product of the normalised means is their cosine; in float64, so that a list
    computed alone is the list computed with all the others).

    With `previous` (an earlier build's lists) and `changed` (the ids of the articles whose sections, title or front
    matter differ from that build's, and of those deleted since), only the lists that can differ are computed: those
    holding a changed article, and those a changed article could now enter."""
    public = [i for i, a in enumerate(articles) if a.is_public]
    if not public or not len(chunks):
        return {}
    row = {a.id: i for i, a in enumerate(articles)}
    sums = row_sums(np.fromiter((row[c.article_id] for c in chunks), np.int64, len(chunks)),
                    np.asarray(vectors, np.float32), len(articles))
    if titles is not None and titles.shape == sums.shape:
        sums += titles  # a zero row where an article has no title vector
    sums = sums.astype(np.float64)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    related: dict[str, list[str]] = {}
    for locale in sorted({articles[i].locale for i in public}):
        ids = np.array([i for i in public if articles[i].locale == locale and norms[i, 0] > 0], dtype=np.int64)
        if len(ids) < 2:
            continue
        groups = np.array([articles[i].translation_group for i in ids], dtype=object)
        todo = np.arange(len(ids)) if previous is None or changed is None else \
            _to_compute(articles, ids, groups, means, n, previous, changed, related)
        for start in range(0, len(todo), _BLOCK):
            block = todo[start:start + _BLOCK]
            sims = means[ids[block]] @ means[ids].T
            sims[groups[block, None] == groups[None, :]] = -np.inf  # itself and its translations
            for k, top in zip(block, _top(sims, n)):
                related[articles[ids[k]].id] = [articles[ids[j]].id for j in top]
    return related


def _to_compute(articles: list[Article], ids: np.ndarray, groups: np.ndarray, means: np.ndarray, n: int,
                previous: dict[str, list[str]], changed: set[str], related: dict[str, list[str]]) -> np.ndarray:
    """The positions in `ids` (one locale's articles) whose list must be computed again; the others' previous lists
    are put in `related`."""
    names = [articles[i].id for i in ids]
    where = {aid: k for k, aid in enumerate(names)}
    new = np.array([aid in changed for aid in names], dtype=bool)
    todo = new.copy()
    last = np.full(len(ids), -1, dtype=np.int64)  # the position of each kept list's n-th article
    for k, aid in enumerate(names):
        if todo[k]:
            continue
        kept = previous.get(aid)
        if kept is None or len(kept) < n or any(x in changed or x not in where for x in kept):
            todo[k] = True
        else:
            last[k] = where[kept[-1]]
    entering = np.flatnonzero(new)
    steady = np.flatnonzero(~todo)
    if len(entering) and len(steady):
        # a changed article enters a kept list if it is at least as near as that list's n-th (a margin for rounding)
        floor = np.einsum("ij,ij->i", means[ids[steady]], means[ids[last[steady]]])
        for start in range(0, len(steady), _BLOCK):
            part = steady[start:start + _BLOCK]
            sims = means[ids[part]] @ means[ids[entering]].T
            sims[groups[part, None] == groups[None, entering]] = -np.inf
            todo[part[(sims >= floor[start:start + _BLOCK, None] - 1e-9).any(axis=1)]] = True
    for k in np.flatnonzero(~todo):
        related[names[k]] = list(previous[names[k]])
    return np.flatnonzero(todo)


def _top(sims: np.ndarray, n: int) -> list[np.ndarray]:
    """Each row's `n` highest finite columns, best first, the lower column first on a tie: what a stable argsort of
    -sims gives, without sorting whole rows."""
    if sims.shape[1] <= n:
        order = np.argsort(-sims, axis=1, kind="stable")
        return [row[np.isfinite(sims[r, row])] for r, row in enumerate(order)]
    kth = -np.partition(-sims, n - 1, axis=1)[:, n - 1]
    rows, cols = np.nonzero((sims >= kth[:, None]) & np.isfinite(sims))  # the n best, and any tied with the n-th
    order = np.lexsort((cols, -sims[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(len(sims)))
    ends = np.searchsorted(rows, np.arange(len(sims)), side="right")
    return [cols[a:min(b, a + n)] for a, b in zip(starts, ends)]
