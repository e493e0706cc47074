"""Help-center pages: home (categories), category, search results, article."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .auth import current_agent
from .i18n import ui_locale
from . import db
from .params import ParamError, category_param, check_chars, int_param, locale_param, query_param
from .state import searcher
from .storehealth import best_effort
from .views import article_view, log_response, urgency, visible_article

bp = Blueprint("pages", __name__)


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
    return render_template("search.html", q=q, resp=resp, categories=s.snapshot.categories, log_id=log_id,
                           emergency=emergency)


@bp.get("/articles/<article_id>")
def article(article_id: str):
    view = article_view(article_id, internal=current_agent() is not None)
    if view is None:
        abort(404, description="This article does not exist or is no longer published.")
    log_id = int_param(request.args, "sl", 0, 1, db.MAX_ID)
    if log_id:  # arrived from a logged search: count the click
        best_effort("search-log click", db.log_click, log_id, article_id)
    toc = searcher().snapshot.toc(article_id)
    return render_template("article.html", a=view, toc=toc, voted=request.args.get("voted"))


@bp.post("/articles/<article_id>/vote")
def vote(article_id: str):
    if visible_article(article_id) is None:
        abort(404, description="This article does not exist or is no longer published.")
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        raise ParamError("helpful", "use yes or no")
    comment = check_chars("comment", (request.form.get("comment") or "")[:1000]).strip() or None
    best_effort("helpful vote", db.record_vote, article_id, helpful == "yes", comment, ui_locale())  # lost, never a 500
    return redirect(url_for("pages.article", article_id=article_id, voted=helpful) + "#feedback")
