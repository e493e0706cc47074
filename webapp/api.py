"""JSON API: /api/search, /api/articles/<id>, /healthz. Errors are {"ok": false, "error", "status"}."""
from __future__ import annotations

import functools
from pathlib import Path

import yaml
from flask import Blueprint, abort, jsonify, request

from kb.lexical import TOKENIZER_VERSION
from kb.manifest import compatibility

from . import storehealth
from .auth import current_agent
from .params import MAX_K, category_param, int_param, locale_param, query_param
from .state import searcher, settings, state
from .views import article_view, log_response, urgency

bp = Blueprint("api", __name__)


@bp.get("/api/search")
def search():
    s = searcher()
    q = query_param(request.args)
    locale = locale_param(request.args)
    category = category_param(request.args, s.snapshot.categories)
    k = int_param(request.args, "k", 10, 1, MAX_K)
    resp = s.search(q, locale=locale, category=category, audience="public", k=k)
    log_response("api", resp)
    topics, emergency = urgency(q, resp.locale)
    return jsonify(
        urgent=bool(topics), urgent_topics=topics, emergency=emergency, corrected_query=resp.corrected_query,
        ok=True, query=resp.query, results=[h.to_json("api") for h in resp.results], count=len(resp.results),
        locale=resp.locale, detected_locale=resp.detected_locale, fallback=resp.fallback,
        no_answer=resp.no_answer, confidence=resp.confidence, mode=resp.mode, took_ms=resp.took_ms, notes=resp.notes,
    )


@bp.get("/api/articles/<article_id>")
def article(article_id: str):
    view = article_view(article_id)
    if view is None:
        abort(404, description=f"no article {article_id!r}")
    return jsonify(ok=True, **view)


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(_spec())


@functools.lru_cache(maxsize=1)
def _spec() -> dict:
    return yaml.safe_load((Path(__file__).parent / "openapi.yaml").read_text(encoding="utf-8"))


@bp.get("/healthz")
def healthz():
    index = state().live
    snap = searcher().snapshot
    m = snap.manifest
    # the same check the build and the loader make: is this build what a build with these settings would be?
    check = compatibility(m, settings(), index.embedder.name, index.embedder.dim, TOKENIZER_VERSION,
                          has_titles=snap.titles is not None)
    # search answers without the store; when the store fails, the health says so (ok false, status degraded)
    store = storehealth.health().report(storehealth.reachable())
    health = {
        "ok": store["ok"], "status": "ok" if store["ok"] else "degraded", "store": {"ok": store["ok"]},
        "index_loaded": True, "build": snap.path.name, "built_at": m["built_at"], "model": m["model"], "dim": m["dim"],
        "public_articles": m["counts"]["public_articles"], "retriever": settings().retriever,
        "index_current": check.current,
    }
    indexing = index.indexing()  # a build computing vectors, or a lexical snapshot served meanwhile
    health["indexing"] = None if indexing is None else {"partial": indexing["partial"], "percent": indexing["percent"]}
    replica = state().replica.report() if state().replica is not None else None
    if replica is not None:  # KB_INDEX_SOURCE: degraded while the published builds cannot be checked
        health["replica"] = {"ok": replica["ok"], "published": replica["published"],
                             "serving_published": replica["published"] == snap.path.name}
        if not replica["ok"]:
            health.update(ok=False, status="degraded")
    if current_agent() is not None:
        # Details for agents only: the counts include internal articles, and errors name files and folders.
        health.update(store=store, articles=m["counts"]["articles"], chunks=m["counts"]["chunks"],
                      by_locale=m["counts"]["by_locale"], last_reload_error=index.last_error, index_note=check.reason,
                      indexing=indexing)
        if replica is not None:
            health["replica"] = {**replica, "serving_published": health["replica"]["serving_published"]}
    return jsonify(health)
