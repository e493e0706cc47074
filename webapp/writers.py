"""The writers' dashboard (behind the agent login): search analytics as charts, content gaps, CSV export."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

from flask import Blueprint, Response, render_template, request

from kb.config import LOCALES

from .analytics import Filters, dashboard
from .auth import agent_required, current_agent
from .charts import bar_chart, hbar_chart
from .params import ParamError, locale_param
from .state import searcher, state

bp = Blueprint("writers", __name__)
EXPORTS = ("days", "gaps", "articles")
FIRST_DAY = dt.date(1970, 1, 1)


def _date(name: str, default: dt.date) -> dt.date:
    raw = request.args.get(name)
    if not raw:
        return default
    try:  # YYYY-MM-DD only: fromisoformat also reads 20261120 and 2026-W48-1
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise ParamError(name, "must be a date YYYY-MM-DD") from None
    # the day after `to` closes the range: 9999-12-31 has none (and before 1970 nothing was logged)
    if not FIRST_DAY <= value < dt.date.max:
        raise ParamError(name, f"must be from {FIRST_DAY} to {dt.date.max - dt.timedelta(days=1)}")
    return value


def _filters() -> tuple[Filters, dt.date, dt.date]:
    today = dt.datetime.now(dt.timezone.utc).date()
    start = _date("from", today - dt.timedelta(days=13))
    end = _date("to", today)
    if end < start:
        raise ParamError("to", "must not be before 'from'")
    if (end - start).days > 366:
        raise ParamError("from", "the range can be at most a year")
    to_ts = lambda d: dt.datetime.combine(d, dt.time(), dt.timezone.utc).timestamp()  # noqa: E731
    return Filters(to_ts(start), to_ts(end + dt.timedelta(days=1)), locale_param(request.args)), start, end


def _figures(f: Filters) -> dict:
    snap = searcher().snapshot
    public = {a.id: a.title for a in snap.articles.values()
              if a.is_public and (f.locale is None or a.locale == f.locale)}
    return dashboard(f, public, encode=state().live.embedder.encode_queries)


@bp.get("/writers/")
@agent_required
def index():
    f, start, end = _filters()
    figures = _figures(f)
    charts = {
        "searches": bar_chart(figures["days"], [("searches", figures["searches_per_day"], "#0b5cab"),
                                                ("no good answer", figures["no_answer_per_day"], "#e0762b")],
                              "Searches per day"),
        "tickets": bar_chart(figures["days"], [("ticket-form sessions", figures["ticket_sessions_per_day"], "#6b4bc4")],
                             "Ticket-form sessions per day"),
        "helpful": hbar_chart([(r["article_id"], r["ratio"] or 0.0) for r in figures["helpful_by_article"]],
                              "Helpful-vote ratio per article"),
        "gaps": hbar_chart([(g["query"], g["count"]) for g in figures["content_gaps"]], "Top queries with no good answer",
                           fmt="{:g}", colour="#e0762b"),
    }
    return render_template("writers_dashboard.html", f=figures, charts=charts, start=start, end=end,
                           locale=f.locale, locales=LOCALES, agent=current_agent())


@bp.get("/writers/export.csv")
@agent_required
def export():
    kind = request.args.get("kind", "days")
    if kind not in EXPORTS:
        raise ParamError("kind", f"use one of {', '.join(EXPORTS)}")
    f, start, end = _filters()
    figures = _figures(f)
    out = io.StringIO()
    w = csv.writer(out)
    if kind == "days":
        w.writerow(["day", "searches", "no_answer", "ticket_sessions"])
        w.writerows(zip(figures["days"], figures["searches_per_day"], figures["no_answer_per_day"], figures["ticket_sessions_per_day"]))
    elif kind == "gaps":
        w.writerow(["query", "count", "variants"])
        w.writerows([g["query"], g["count"], " | ".join(g["variants"])] for g in figures["content_gaps"])
    else:
        w.writerow(["article_id", "helpful_yes", "helpful_no", "marked_wrong", "never_found"])
        wrong = {r["article_id"]: r["count"] for r in figures["marked_wrong"]}
        votes = {r["article_id"]: r for r in figures["helpful_by_article"]}
        never = {r["article_id"] for r in figures["never_found"]}
        for aid in sorted(set(wrong) | set(votes) | never):
            v = votes.get(aid, {})
            w.writerow([aid, v.get("yes", 0), v.get("no", 0), wrong.get(aid, 0), aid in never])
    name = f"kb-{kind}-{start}-{end}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})
