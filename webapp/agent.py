"""The agent view (behind login): request queue, suggestions with internal articles, reply box, feedback."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from kb.reply import fill, request_values
from kb.suggest import suggest

from . import db, desk
from .auth import agent_required, configured_users, current_agent, end_session, safe_next, start_session, verify_login
from .mail import mailer
from .params import MAX_K, ParamError, int_param, json_object, locale_param, query_param, strip_unstorable, text_param
from .state import searcher, settings, state
from .views import log_response

bp = Blueprint("agent", __name__)
bp.add_app_template_filter(desk.age, "age")


def request_or_404(request_id: int) -> dict:
    req = db.get_request(request_id)
    if req is None:
        abort(404, description=f"no request #{request_id}")
    return req


@bp.route("/agent/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        name, secret = request.form.get("name", ""), request.form.get("secret", "")
        # a name no store can keep (a NUL) is no agent's: a wrong login, not a store error
        verified = verify_login(name.strip()[:64], secret) if name == strip_unstorable(name) else None
        if verified:
            start_session(*verified)
            return redirect(safe_next(request.args.get("next")) or url_for("agent.queue"))
        error = "Wrong name or password/token."
    users = bool(configured_users())
    return render_template("agent_login.html", error=error, users=users), 401 if error else 200


@bp.post("/agent/logout")
def logout():
    end_session()
    return redirect(url_for("agent.login"))


@bp.get("/agent/")
@agent_required
def queue():
    """The queue: urgent open requests pinned on the first page, the rest in pages (webapp.desk), filters, search."""
    return render_template("agent_queue.html", **desk.page(request.args, current_agent()), agent=current_agent(),
                           categories=sorted(searcher().snapshot.categories.values(), key=lambda c: c.order))


@bp.post("/agent/requests/<int:request_id>/assign")
@agent_required
def assign(request_id: int):
    """`action`: `me` (take an unassigned request), `take` (take it over from another agent), `release`."""
    request_or_404(request_id)
    data = json_object() if request.is_json else request.form
    action, me = data.get("action") or "me", current_agent()
    if action == "me":  # only if nobody holds it: two agents clicking at once do not both get it
        done, now = db.assign(request_id, me, only_from=(None, me)), me
    elif action == "take":
        done, now = db.assign(request_id, me), me
    elif action == "release":
        done, now = db.assign(request_id, None, only_from=(None, me)), None
    else:
        raise ParamError("action", "use 'me', 'take' or 'release'")
    holder = (db.get_request(request_id) or {}).get("assigned_to")
    message = (f"Request #{request_id} is assigned to you." if now else f"Request #{request_id} is unassigned.") \
        if done else f"Request #{request_id} is assigned to {holder}: take it over to work on it."
    if request.is_json:
        return jsonify(ok=done, assigned_to=holder, message=message), 200 if done else 409
    flash(message)
    return redirect(safe_next(data.get("next")) or url_for("agent.queue"))


@bp.get("/agent/requests/<int:request_id>")
@agent_required
def detail(request_id: int):
    req = request_or_404(request_id)
    result = suggest(searcher(), state().urgent, req["subject"], req["description"],
                     audience="all", min_confidence=settings().agent_min_confidence, k=8)
    # what Insert puts into the reply: customer-facing text only, the request's own values in the placeholders
    values = request_values(req, current_agent())
    passages = {h.id: fill(h.sections[0].reply, values)[0] for h in result.hits}
    return render_template("agent_request.html", req=req, result=result, feedback=db.feedback_for(request_id),
                           agent=current_agent(), passages=passages, values=values, statuses=db.STATUSES)


@bp.post("/agent/requests/<int:request_id>/feedback")
@agent_required
def feedback(request_id: int):
    request_or_404(request_id)
    data = json_object() if request.is_json else request.form
    article_id, verdict = data.get("article_id"), data.get("verdict")
    if not isinstance(article_id, str) or article_id not in searcher().snapshot.articles:
        raise ParamError("article_id", "unknown article")
    if verdict not in ("used", "wrong"):
        raise ParamError("verdict", "use 'used' or 'wrong'")
    db.record_feedback(request_id, article_id, verdict, current_agent())
    if request.is_json:
        return jsonify(ok=True)
    return redirect(url_for("agent.detail", request_id=request_id))


def _status(data) -> str:
    status = data.get("status") or "answered"  # sending a reply answers the request unless the agent says otherwise
    if status not in db.STATUSES:
        raise ParamError("status", f"use one of {', '.join(db.STATUSES)}")
    return status


@bp.post("/agent/requests/<int:request_id>/status")
@agent_required
def set_status(request_id: int):
    """Change a request's status without touching its reply (the agent view's status menu, by fetch)."""
    request_or_404(request_id)
    data = json_object() if request.is_json else request.form
    status = data.get("status")
    if status not in db.STATUSES:
        raise ParamError("status", f"use one of {', '.join(db.STATUSES)}")
    db.update_request(request_id, status=status)
    if request.is_json:
        return jsonify(ok=True, status=status)
    flash(f"Request #{request_id} is now {status}.")
    return redirect(url_for("agent.detail", request_id=request_id))


@bp.post("/agent/requests/<int:request_id>/reply")
@agent_required
def reply(request_id: int):
    request_or_404(request_id)
    data = json_object() if request.is_json else request.form
    text = text_param(data, "reply", 20000, required=False)
    status = _status(data)
    left = fill(text, {})[1]
    if left and not data.get("confirm_placeholders"):
        raise ParamError("reply", "placeholders not filled: " + ", ".join("{%s}" % name for name in left)
                         + "; replace them, or confirm that they stay")
    db.update_request(request_id, reply=text, status=status)
    mailer().agent_replied(request_id, text, current_agent())  # the thread, and the reply's mail (webapp.mail)
    message = f"Reply saved. Request #{request_id} is now {status}."
    if request.is_json:
        return jsonify(ok=True, status=status, message=message)
    flash(message)
    return redirect(url_for("agent.detail", request_id=request_id))


@bp.get("/api/agent/search")
@agent_required
def agent_search():
    q = query_param(request.args)
    resp = searcher().search(q, locale=locale_param(request.args), audience="all", k=int_param(request.args, "k", 10, 1, MAX_K))
    log_response("agent", resp)  # agents' searches show writers what agents look for and do not find
    return jsonify(ok=True, query=q, no_answer=resp.no_answer, results=[h.to_json("agent") for h in resp.results])
