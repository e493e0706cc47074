"""Before the ticket: the request form with live suggestions, deflections, and /api/suggest."""
from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import time

from flask import Blueprint, abort, jsonify, redirect, render_template, render_template_string, request, session, url_for

from kb.lang import text_locale
from kb.suggest import Suggestions, request_query, suggest

from . import db, ratelimit
from .i18n import ui_locale
from .mail import mailer
from .params import ParamError, json_object, locale_param, strip_unstorable, text_param
from .state import searcher, settings, state
from .storehealth import StoreError, best_effort, health
from .views import emergency_json

bp = Blueprint("tickets", __name__)

MAX_SUBJECT = 200
MAX_DESCRIPTION = 5000
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def suggestions_json(s: Suggestions) -> dict:
    emergency = emergency_json(s.emergency)
    return {
        "ok": True,
        "suggestions": [h.to_json("suggest") for h in s.hits],
        "triage": s.triage.to_dict(), "urgent": s.urgent, "no_answer": s.no_answer, "confidence": s.confidence,
        "locale": s.locale, "emergency": emergency, "took_ms": s.took_ms,
    }


def _article_ids(data, name: str) -> list[str]:
    """A list of known article ids from JSON or a form field holding JSON; anything else is dropped."""
    raw = data.get(name) or []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "[]")
        except (ValueError, RecursionError):
            raise ParamError(name, "must be a JSON list of article ids") from None
    if not isinstance(raw, list):
        raise ParamError(name, "must be a list of article ids")
    known = searcher().snapshot.articles
    return [a for a in raw[:20] if isinstance(a, str) and a in known]


@bp.post("/api/suggest")
def api_suggest():
    data = json_object()
    subject = text_param(data, "subject", MAX_SUBJECT, required=False)
    description = text_param(data, "description", MAX_DESCRIPTION, required=False)
    if not (subject or description):
        raise ParamError("subject", "give a subject or a description")
    locale = locale_param(data)
    result = suggest(searcher(), state().urgent, subject, description, locale=locale,
                     audience="public", min_confidence=settings().ticket_min_confidence)
    session_id = text_param(data, "session", 64, required=False) or None
    best_effort("search log", db.log_search, "ticket", request_query(subject, description, settings().max_query_chars),
                result.locale, [h.id for h in result.hits], result.confidence, result.no_answer, session_id)
    return jsonify(suggestions_json(result))


@bp.post("/api/deflections")
def api_deflect():
    data = json_object()
    article_ids = _article_ids({"a": [data.get("article_id")]}, "a")
    if not article_ids or not searcher().snapshot.articles[article_ids[0]].is_public:
        raise ParamError("article_id", "unknown article")
    query = text_param(data, "query", MAX_SUBJECT + MAX_DESCRIPTION + 1, required=False)
    session_id = text_param(data, "session", 64, required=False) or None
    locale, shown, opened = locale_param(data), _article_ids(data, "shown"), _article_ids(data, "opened")
    # not a log write: the client is told (503) when the deflection could not be recorded
    deflection = db.record_deflection(session_id, article_ids[0], query, locale, shown, opened)
    if session_id:
        best_effort("search-log outcome", db.log_outcome, session_id, "deflected", article_ids[0])
    return jsonify(ok=True, id=deflection), 201


UNDO_SECONDS = 60  # how long "this solved my problem" can be taken back (the page offers it for 10 s)


@bp.post("/api/deflections/<int:deflection_id>/undo")
def api_undo_deflection(deflection_id: int):
    """Take back a deflection: only the form session that made it, only for a minute."""
    data = json_object()
    session_id = text_param(data, "session", 64, required=True)
    if deflection_id > db.MAX_ID or not db.undo_deflection(deflection_id, session_id, UNDO_SECONDS):
        abort(404, description=f"no deflection #{deflection_id} of this form to undo (it may be older than {UNDO_SECONDS} s)")
    return jsonify(ok=True)


@bp.get("/support/new")
def new_request():
    # ?subject= fills the subject (the no-results page links here with the query); nothing else is taken from a URL
    subject = text_param(request.args, "subject", 200, required=False)
    return render_template("ticket_form.html", form={"subject": subject} if subject else {}, errors={},
                           session_id=secrets.token_hex(8), categories=_categories())


def _categories():
    return sorted(searcher().snapshot.categories.values(), key=lambda c: c.order)


@bp.post("/support/new")
def submit_request():
    form = request.form
    # what the form shows again after an error: the user's text, without characters no store keeps
    kept = {key: strip_unstorable(value) for key, value in form.items()}
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, limit in (("subject", MAX_SUBJECT), ("description", MAX_DESCRIPTION), ("email", 254)):
        try:
            values[name] = text_param(form, name, limit, required=True)
        except ParamError as exc:
            errors[name] = exc.description.split(": ", 1)[1]
    if "email" not in errors and not _EMAIL_RE.match(values["email"]):
        errors["email"] = "not an e-mail address"
    category = form.get("category") or None
    if category and category not in searcher().snapshot.categories:
        errors["category"] = "unknown category"
    form_session = kept.get("session", "")[:64].strip() or None  # a hidden field: only a forged one needs fixing
    if errors:
        return render_template("ticket_form.html", form=kept, errors=errors, session_id=form_session or "",
                               categories=_categories()), 400
    # one requester's flood is refused before it reaches the queue, whichever clients it comes from
    email_key = hashlib.sha256(values["email"].lower().encode()).hexdigest()[:32]  # no address in the counters
    if ratelimit.over_limit("email", email_key):
        return _limited(kept, form_session, "email", ratelimit.retry_after("email", email_key))
    # the request's language is its text's (a Chinese request from the English interface is zh-CN); too short or
    # mixed to tell: the interface's. The search below detects the query's language itself for the triage.
    ui = ui_locale()
    locale = text_locale(f"{values['subject']}\n{values['description']}", fallback=ui)
    result = suggest(searcher(), state().urgent, values["subject"], values["description"],
                     locale=None, audience="public", min_confidence=settings().ticket_min_confidence,
                     chosen_category=category)
    try:
        # no form session on the request: the search log's rows of this form must not lead to its e-mail address
        request_id = db.create_request(
            subject=values["subject"], description=values["description"], email=values["email"], locale=locale,
            ui_locale=ui,
            chosen_category=category, category=result.triage.category, urgency=result.triage.urgency,
            urgent_topics=result.triage.urgent_topics, shown=_form_ids(form, "shown"), opened=_form_ids(form, "opened"),
        )
    except StoreError as exc:
        health().failed("new request", exc)
        return _store_down(kept, form_session), 503
    health().succeeded()
    ratelimit.count("email", email_key)
    mailer().request_filed(request_id)  # the acknowledgement, queued; never fails the request (webapp.mail)
    if form_session:
        best_effort("search-log outcome", db.log_outcome, form_session, "filed")
    session.setdefault("my_requests", [])
    session["my_requests"] = [*session["my_requests"][-19:], request_id]
    return redirect(url_for("tickets.submitted", request_id=request_id))


def _form_ids(form, name: str) -> list[str]:
    """The form's hidden list of articles shown or opened: a broken one is dropped, never the request."""
    try:
        return _article_ids(form, name)
    except ParamError:
        return []


# The request form again, with the user's text in it, above it a note that nothing was filed.
STORE_DOWN = {
    "en": "We could not file your request just now: our system is having trouble. Nothing was lost: your text is "
          "still below. Please try again in a few minutes.",
    "zh-CN": "系统暂时出现问题，你的工单未能提交。你填写的内容仍保留在下方，请几分钟后再试。",
    "ko": "시스템 문제로 지금은 요청을 접수하지 못했습니다. 작성하신 내용은 아래에 그대로 있습니다. 몇 분 후에 다시 시도해 주세요.",
    "ja": "システムの不具合のため、リクエストを送信できませんでした。入力内容は下に残っています。数分後にもう一度お試しください。",
}
_STORE_DOWN_PAGE = """{% extends "ticket_form.html" %}
{% block content %}<p class="field-error" id="store-down" role="alert">{{ store_down }}</p>{{ super() }}{% endblock %}"""


def _store_down(form: dict, form_session: str | None) -> str:
    return render_template_string(_STORE_DOWN_PAGE, form=form, errors={}, session_id=form_session or "",
                                  categories=_categories(), store_down=STORE_DOWN.get(ui_locale(), STORE_DOWN["en"]))


# Over a limit: the form again with the user's text and why nothing was filed (429, Retry-After), never a bare
# error page that loses what was typed.
LIMITED = {
    "client": {
        "en": "You have sent many requests in a short time, so this one was not filed. Your text is still below: "
              "please submit it again in about {minutes} minutes.",
        "zh-CN": "你在短时间内提交了过多工单，本次工单未提交。你填写的内容仍保留在下方，请在约 {minutes} 分钟后再提交。",
        "ko": "짧은 시간에 너무 많은 요청을 보내셔서 이번 요청은 접수되지 않았습니다. 작성하신 내용은 아래에 그대로 있습니다. "
              "약 {minutes}분 후에 다시 제출해 주세요.",
        "ja": "短時間に多くのリクエストが送信されたため、今回のリクエストは受け付けられませんでした。入力内容は下に残っています。"
              "約{minutes}分後にもう一度送信してください。",
    },
    "email": {
        "en": "This e-mail address has filed many requests recently, so this one was not filed. Your text is still "
              "below: please submit it again in about {minutes} minutes.",
        "zh-CN": "该邮箱最近提交了过多工单，本次工单未提交。你填写的内容仍保留在下方，请在约 {minutes} 分钟后再提交。",
        "ko": "이 이메일 주소로 최근 너무 많은 요청이 접수되어 이번 요청은 접수되지 않았습니다. 작성하신 내용은 아래에 그대로 "
              "있습니다. 약 {minutes}분 후에 다시 제출해 주세요.",
        "ja": "このメールアドレスから最近多くのリクエストが送信されたため、今回のリクエストは受け付けられませんでした。"
              "入力内容は下に残っています。約{minutes}分後にもう一度送信してください。",
    },
}
_LIMITED_PAGE = """{% extends "ticket_form.html" %}
{% block content %}<p class="field-error" id="rate-limited" role="alert">{{ limited }}</p>{{ super() }}{% endblock %}"""


def _limited(form: dict, form_session: str | None, kind: str, retry_after: float):
    messages = LIMITED[kind]
    text = messages.get(ui_locale(), messages["en"]).format(minutes=max(1, math.ceil(retry_after / 60)))
    page = render_template_string(_LIMITED_PAGE, form=form, errors={}, session_id=form_session or "",
                                  categories=_categories(), limited=text)
    return page, 429, {"Retry-After": str(max(1, math.ceil(retry_after)))}


@bp.errorhandler(429)
def too_many(exc):
    """The per-client limit of the `write` group (webapp.ratelimit) on the form: the form again, filled in."""
    if request.endpoint != "tickets.submit_request":  # the JSON APIs: the app's error shape
        return jsonify(ok=False, error=exc.description, status=429), 429
    form = {key: strip_unstorable(value) for key, value in request.form.items()}
    current = state().limiter.current_limit
    wait = current.reset_at - time.time() if current else 60
    return _limited(form, form.get("session", "")[:64].strip() or None, "client", wait)


@bp.get("/support/requests/<int:request_id>")
def submitted(request_id: int):
    if request_id not in session.get("my_requests", []):
        abort(404, description="No such request in this browser session.")
    req = db.get_request(request_id)
    if req is None:
        abort(404, description="No such request.")
    return render_template("ticket_submitted.html", req=req)
