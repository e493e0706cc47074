"""Help-center pages: home (categories), category, search results, article."""
from __future__ import annotations

import hashlib
import re
import secrets

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from kb.config import LOCALES
from kb.triage import triage

from .auth import current_agent
from .i18n import ui_locale
from . import db
from .params import ParamError, category_param, check_chars, int_param, locale_param, query_param
from .popular import most_read
from .state import searcher, state
from .storehealth import best_effort
from .views import article_view, log_response, urgency, visible_article

bp = Blueprint("pages", __name__)
READER_COOKIE = "kb_reader"
READER_COOKIE_DAYS = 365
_READER_ID = re.compile(r"[A-Za-z0-9_-]{24}")
MOST_READ = 5  # articles the no-results page offers


def _public_by_category(locale: str) -> list[tuple[object, list]]:
    """Categories in browse order with the public articles a reader in `locale` browses (listed at build)."""
    snap = searcher().snapshot
    out = []
    for cat in sorted(snap.categories.values(), key=lambda c: c.order):
        articles = snap.listing(cat.slug, locale)
        if articles:
            out.append((cat, articles))
    return out


@bp.get("/")
def home():
    return render_template("home.html", categories=_public_by_category(ui_locale()))


@bp.get("/categories/<slug>")
def category(slug: str):
    snap = searcher().snapshot
    articles = snap.listing(slug, ui_locale()) if slug in snap.categories else []
    if not articles:
        abort(404, description=f"no category {slug!r}")
    return render_template("category.html", category=snap.categories[slug], articles=articles)


@bp.get("/search")
def search():
    if not (request.args.get("q") or "").strip():
        return redirect(url_for("pages.home"))
    s = searcher()
    q = query_param(request.args)
    locale = locale_param(request.args)
    category = category_param(request.args, s.snapshot.categories)
    resp = s.search(q, locale=locale, category=category, audience="public", k=10)
    log_id = log_response("search", resp) or ""  # no log row (the store refused it): links without a click id
    _, emergency = urgency(q, ui_locale())
    help_ = _no_answer_help(q, resp, locale, category) if resp.no_answer else {}
    indexing = state().live.indexing() if s.snapshot.manifest.partial else None  # a lexical snapshot meanwhile
    return render_template("search.html", q=q, resp=resp, categories=s.snapshot.categories, log_id=log_id,
                           emergency=emergency, indexing=indexing, **help_)


def _no_answer_help(q: str, resp, locale: str | None, category: str | None) -> dict:
    """What a search without an answer offers instead: another spelling that has one, the most-read articles in
    the reader's language (those of the query's topic first: the category asked for, else its best results'), and
    the request form with the query as its subject."""
    s = searcher()
    snap = s.snapshot
    reading = resp.locale if resp.locale in LOCALES else ui_locale()
    topic = category or triage(q, resp, state().urgent).category
    topic = topic if topic in snap.categories else None
    in_topic = most_read(snap.listing(topic, reading)) if topic else []
    others = [a for slug in snap.categories if slug != topic for a in snap.listing(slug, reading)]
    read = in_topic + most_read(others, MOST_READ - len(in_topic)) if len(in_topic) < MOST_READ else in_topic
    return {"did_you_mean": s.did_you_mean(q, locale=locale, category=category),
            "topic": snap.categories[topic] if topic and len(read) == len(in_topic) else None,  # the heading names it
            "most_read": read, "request_url": url_for("tickets.new_request", subject=q[:200])}


@bp.get("/articles/<article_id>")
def article(article_id: str):
    view = article_view(article_id, internal=current_agent() is not None)
    if view is None:
        abort(404, description="This article does not exist or is no longer published.")
    log_id = int_param(request.args, "sl", 0, 1, db.MAX_ID)
    if log_id:  # arrived from a logged search: count the click
        best_effort("search-log click", db.log_click, log_id, article_id)
    snap = searcher().snapshot
    return render_template("article.html", a=view, toc=snap.toc(article_id), related=snap.related_to(article_id),
                           voted=request.args.get("voted"))


@bp.post("/articles/<article_id>/vote")
def vote(article_id: str):
    if visible_article(article_id) is None:
        abort(404, description="This article does not exist or is no longer published.")
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        raise ParamError("helpful", "use yes or no")
    comment = check_chars("comment", (request.form.get("comment") or "")[:1000]).strip() or None
    reader = request.cookies.get(READER_COOKIE, "")
    if not _READER_ID.fullmatch(reader):  # none yet (or not one of ours): a new reader
        reader = secrets.token_urlsafe(18)
    best_effort("helpful vote", db.record_vote, article_id, helpful == "yes", comment, ui_locale(),
                hashlib.sha256(reader.encode()).hexdigest()[:32])  # lost, never a 500
    response = redirect(url_for("pages.article", article_id=article_id, voted=helpful) + "#feedback")
    # One vote per reader and article: a second vote replaces the first. The cookie is a random id, nothing else;
    # the store keeps only its hash.
    response.set_cookie(READER_COOKIE, reader, max_age=READER_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response
