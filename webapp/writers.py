"""The writers' dashboard (behind the agent login): search analytics as charts, content gaps, vote comments, CSV."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

from flask import Blueprint, Response, render_template, request

from kb.config import LOCALES
from kb.tables import column

from . import analytics
from .analytics import Filters
from .auth import agent_required, current_agent
from .charts import bar_chart, hbar_chart
from .params import ParamError, int_param, locale_param
from .state import searcher, state

bp = Blueprint("writers", __name__)
EXPORTS = ("days", "gaps", "articles")
FIRST_DAY = dt.date(1970, 1, 1)
DEFAULT_DAYS = 14
COMMENTS_PER_PAGE = 20
CSV_GAPS = 200  # rows of the gaps export
# OWASP, CSV injection: a cell starting with one of these is read as a formula by spreadsheets
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def _range() -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.timezone.utc).date()
    start = _date("from", today - dt.timedelta(days=DEFAULT_DAYS - 1))
    end = _date("to", today)
    if end < start:
        raise ParamError("to", "must not be before 'from'")
    if (end - start).days > 366:
        raise ParamError("from", "the range can be at most a year")
    return start, end


def _filters(strict: bool = True) -> tuple[Filters, dt.date, dt.date, list[str]]:
    """The request's filters; a bad one raises a ParamError (strict) or is replaced by its default and reported."""
    errors: list[str] = []
    try:
        start, end = _range()
    except ParamError as exc:
        if strict:
            raise
        today = dt.datetime.now(dt.timezone.utc).date()
        start, end = today - dt.timedelta(days=DEFAULT_DAYS - 1), today
        errors.append(f"{exc.description}. Showing the last {DEFAULT_DAYS} days, {start} to {end}, instead.")
    try:
        locale = locale_param(request.args)
    except ParamError as exc:
        if strict:
            raise
        locale = None
        errors.append(f"{exc.description}. Showing all languages instead.")
    return Filters(start, end, locale), start, end, errors


def _articles(f: Filters) -> tuple[dict[str, str], dict[str, str]]:
    """Titles of every article (internal ones too: agents' marks name them), and of the public ones of the locale."""
    articles = searcher().snapshot.articles
    rows = list(zip(*(column(articles, name) for name in ("id", "title", "is_public", "locale"))))
    titles = {aid: title for aid, title, *_ in rows}
    public = {aid: title for aid, title, is_public, locale in rows if is_public and (f.locale is None or locale == f.locale)}
    return titles, public


@bp.get("/writers/")
@agent_required
def index():
    f, start, end, errors = _filters(strict=False)
    try:
        page = int_param(request.args, "comments", 1, 1, 100_000)
    except ParamError as exc:
        page = 1
        errors.append(f"{exc.description}. Showing the newest comments instead.")
    titles, public = _articles(f)
    figures = analytics.dashboard(f, public, encode=state().live.embedder.encode_queries, titles=titles,
                                  comments_page=page, comments_per_page=COMMENTS_PER_PAGE)
    charts = {
        "searches": bar_chart(figures["days"], [("searches", figures["searches_per_day"], "#0b5cab"),
                                                ("no good answer", figures["no_answer_per_day"], "#e0762b")],
                              "Searches per day"),
        "tickets": bar_chart(figures["days"], [("ticket-form sessions", figures["ticket_sessions_per_day"], "#6b4bc4")],
                             "Ticket-form sessions per day"),
        "helpful": hbar_chart([(r["title"] or r["article_id"], r["ratio"] or 0.0) for r in figures["helpful_by_article"]],
                              "Helpful-vote ratio per article"),
        "gaps": hbar_chart([(g["query"], g["count"]) for g in figures["content_gaps"]], "Top queries with no good answer",
                           fmt="{:g}", colour="#e0762b"),
    }
    pages = max(1, -(-figures["comments_total"] // COMMENTS_PER_PAGE))
    html = render_template("writers_dashboard.html", f=figures, charts=charts, start=start, end=end, locale=f.locale,
                           locales=LOCALES, agent=current_agent(), errors=errors, comments_page=page,
                           comments_pages=pages)
    return html, 400 if errors else 200  # the dashboard of the default filters, with what was wrong


def _cell(value) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP: a leading single quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@bp.get("/writers/export.csv")
@agent_required
def export():
    kind = request.args.get("kind", "days")
    if kind not in EXPORTS:
        raise ParamError("kind", f"use one of {', '.join(EXPORTS)}")
    f, start, end, _ = _filters()
    analytics.fill_missing()
    rows: list[list] = []
    if kind == "days":
        days = analytics.per_day(f)
        rows.append(["day", "searches", "no_answer", "ticket_sessions"])
        rows += zip(days["days"], days["searches_per_day"], days["no_answer_per_day"], days["ticket_sessions_per_day"])
    elif kind == "gaps":
        rows.append(["query", "count", "variants"])
        rows += ([g["query"], g["count"], " | ".join(g["variants"])]
                 for g in analytics.content_gaps(f, state().live.embedder.encode_queries, top=CSV_GAPS))
    else:
        titles, public = _articles(f)
        votes = {r["article_id"]: r for r in analytics.votes_by_article(f)}
        wrong = {r["article_id"]: r["count"] for r in analytics.marked_wrong(f)}
        never = set(public) - analytics.seen_articles(f)
        rows.append(["article_id", "title", "helpful_yes", "helpful_no", "marked_wrong", "never_found"])
        for aid in sorted(set(wrong) | set(votes) | never):
            v = votes.get(aid, {})
            rows.append([aid, titles.get(aid, ""), v.get("yes", 0), v.get("no", 0), wrong.get(aid, 0), aid in never])
    out = io.StringIO()
    out.write("\ufeff")  # a BOM: Excel reads the file as UTF-8 (Chinese, Korean, Japanese) only with it
    csv.writer(out).writerows([_cell(v) for v in row] for row in rows)
    name = f"kb-{kind}-{start}-{end}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
