"""Instant search: GET /api/instant (suggestions while typing, kb.instant) and GET /instant/open (a chosen
suggestion: logged as one search with its click, then the article).

Keystrokes are not logged (they would flood the writers' dashboard with half-typed words); the query a reader
chose an article for is, once, as surface `instant` with the click, like a search result followed. Enter without
a choice submits the search form, which logs as the search page always does."""
from __future__ import annotations

import time
from urllib.parse import quote

from flask import Blueprint, jsonify, redirect, request

from kb.instant import LIMIT, preferred_locale

from . import db
from .params import ParamError, int_param, locale_param, query_param, text_param
from .state import searcher
from .storehealth import best_effort
from .views import visible_article

bp = Blueprint("instant", __name__)


@bp.get("/api/instant")
def suggest():
    s = searcher()
    q = query_param(request.args)
    reader = locale_param(request.args)  # the interface language: preferred where the text does not say
    k = int_param(request.args, "k", LIMIT, 1, LIMIT)
    start = time.perf_counter()
    hits, locale = s.instant.suggest(q, reader, k)
    took_ms = round((time.perf_counter() - start) * 1000, 2)
    categories = s.snapshot.categories
    results = [{
        "id": h.id, "title": h.title, "section": h.section, "url": h.url, "snippet": h.snippet, "locale": h.locale,
        "category": h.category,
        "category_name": categories[h.category].name(reader or h.locale) if h.category in categories else h.category,
    } for h in hits]
    return jsonify(ok=True, query=q, locale=locale, count=len(results), results=results, took_ms=took_ms)


@bp.get("/instant/open")
def open_article():
    """Log the query a suggestion was chosen for (one row, its click counted) and go to the article."""
    q = query_param(request.args)
    article_id = text_param(request.args, "to", 128)
    article = visible_article(article_id)  # public only: an agent's session does not make this route show more
    if article is None:
        raise ParamError("to", f"no public article {article_id!r}")
    anchor = text_param(request.args, "anchor", 200, required=False)
    if anchor and anchor not in searcher().instant.anchors(article.id):
        raise ParamError("anchor", f"no section {anchor!r} in {article.id}")
    locale = preferred_locale(q, locale_param(request.args))  # what /api/instant showed the suggestions in
    log_id = best_effort("search log", db.log_search, "instant", q, locale, [article.id], None, False)
    if log_id:
        best_effort("search-log click", db.log_click, log_id, article.id)
    return redirect(f"/articles/{quote(article.id)}" + (f"#{quote(anchor)}" if anchor else ""))
