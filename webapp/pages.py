"""Help-center pages: home (categories), category, search results, article."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .auth import current_agent
from .i18n import ui_locale
from . import db
from .params import ParamError, category_param, locale_param, query_param
from .views import article_view, live, log_response, visible_article

bp = Blueprint("pages", __name__)


def _public_by_category(locale: str) -> list[tuple[object, list]]:
    """Categories in browse order with their public articles in the UI locale (English where it has none)."""
    snap = live().searcher.snapshot
    public = [a for a in snap.articles.values() if a.is_public]
    out = []
    for cat in sorted(snap.categories.values(), key=lambda c: c.order):
        in_cat = [a for a in public if a.category == cat.slug]
        chosen = [a for a in in_cat if a.locale == locale] or [a for a in in_cat if a.locale == "en"]
        if chosen:
            out.append((cat, sorted(chosen, key=lambda a: a.title)))
    return out


@bp.get("/")
def home():
    return render_template("home.html", categories=_public_by_category(ui_locale()))


@bp.get("/categories/<slug>")
def category(slug: str):
    for cat, articles in _public_by_category(ui_locale()):
        if cat.slug == slug:
            return render_template("category.html", category=cat, articles=articles)
    abort(404, description=f"no category {slug!r}")


@bp.get("/search")
def search():
    if not (request.args.get("q") or "").strip():
        return redirect(url_for("pages.home"))
    searcher = live().searcher
    q = query_param(request.args)
    locale = locale_param(request.args)
    category = category_param(request.args, searcher.snapshot.categories)
    resp = searcher.search(q, locale=locale, category=category, audience="public", k=10)
    log_id = log_response("search", resp)
    return render_template("search.html", q=q, resp=resp, categories=searcher.snapshot.categories, log_id=log_id)


@bp.get("/articles/<article_id>")
def article(article_id: str):
    view = article_view(article_id, internal=current_agent() is not None)
    if view is None:
        abort(404, description="This article does not exist or is no longer published.")
    if request.args.get("sl", "").isdigit():  # arrived from a logged search: count the click
        db.log_click(int(request.args["sl"]), article_id)
    snap = live().searcher.snapshot
    toc = []
    for chunk in snap.chunks:
        if chunk.article_id == article_id and chunk.anchor and len(chunk.heading_path) == 1 \
                and all(chunk.anchor != a for a, _ in toc):
            toc.append((chunk.anchor, chunk.heading))
    return render_template("article.html", a=view, toc=toc, voted=request.args.get("voted"))


@bp.post("/articles/<article_id>/vote")
def vote(article_id: str):
    if visible_article(article_id) is None:
        abort(404, description="This article does not exist or is no longer published.")
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        raise ParamError("helpful", "use yes or no")
    comment = (request.form.get("comment") or "").strip()[:1000] or None
    db.record_vote(article_id, helpful == "yes", comment, ui_locale())
    return redirect(url_for("pages.article", article_id=article_id, voted=helpful) + "#feedback")
