"""What pages and API share: the live index and the public view of an article."""
from __future__ import annotations

from typing import Any

from kb.present import article_url

from .state import searcher, state
from .storehealth import best_effort


def visible_article(article_id: str, internal: bool = False):
    """The article if the reader may see it, else None: internal articles only for logged-in agents."""
    article = searcher().snapshot.articles.get(article_id)
    if article is None or article.status != "published" or (article.audience == "internal" and not internal):
        return None
    return article


def article_view(article_id: str, internal: bool = False) -> dict[str, Any] | None:
    article = visible_article(article_id, internal)
    if article is None:
        return None
    snap = searcher().snapshot
    translations = [{"id": a.id, "locale": a.locale, "title": a.title, "url": article_url(a.id)}
                    for a in snap.translations(article)]
    category = snap.categories.get(article.category)
    return {
        "id": article.id, "title": article.title, "locale": article.locale, "category": article.category,
        "category_name": category.name(article.locale) if category else article.category,
        "tags": list(article.tags), "updated": article.updated, "url": article_url(article.id),
        "html": snap.html(article.id), "translations": translations, "audience": article.audience,
    }


def emergency_json(emergency: dict | None) -> dict | None:
    """The emergency steps of an urgent case as every surface shows them, with the public articles they name."""
    if not emergency:
        return None
    articles = searcher().snapshot.articles
    linked = [articles[a] for a in emergency.get("articles", []) if a in articles and articles[a].is_public]
    return {"title": emergency.get("title"), "steps": emergency.get("steps", []), "human": emergency.get("human"),
            "articles": [{"id": a.id, "title": a.title, "locale": a.locale, "url": article_url(a.id)} for a in linked]}


def urgency(text: str, locale: str | None) -> tuple[list[str], dict | None]:
    """(urgent topics the text matches, the emergency steps in `locale`): a hacked account or a scam in progress
    gets the safe path above any results, on every surface."""
    rules = state().urgent
    topics = [t.key for t in rules.match(text)]
    return topics, emergency_json(rules.emergency_for(locale or "en")) if topics else None


def log_response(surface: str, resp, session: str | None = None) -> int | None:
    """Log one search's outcome (never who searched) and return the log row's id; None when the store refused
    the write (logged and counted: the search is answered all the same)."""
    from . import db

    return best_effort("search log", db.log_search, surface, resp.query, resp.locale, [h.id for h in resp.results],
                       resp.confidence, resp.no_answer, session)
