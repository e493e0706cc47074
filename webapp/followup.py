"""The requester's page, reached only by the signed link of a mail: the thread, a reply box, "this is solved";
and the agents' outbox. A request has no other public address: the link's signature is the only key to it."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired

from . import db
from .auth import agent_required, current_agent
from .errors import abort_for_reader
from .i18n import STRINGS, ui_locale
from .mail import mailer
from .params import ParamError, int_param, text_param

bp = Blueprint("followup", __name__)

MAX_FOLLOWUP = 5000  # as the request form's description


def _t() -> dict[str, str]:
    return {**STRINGS["en"], **STRINGS.get(ui_locale(), {})}


def _request_for(token: str) -> dict:
    """The request a link opens; 403 for an expired link, 404 for anything else (forged, cut, unknown)."""
    try:
        request_id = mailer().read_token(token)
    except SignatureExpired:
        abort_for_reader(403, _t()["followup_expired"].format(days=f"{mailer().followup_days:g}"))
    except BadSignature:
        abort_for_reader(404, _t()["followup_invalid"])
    req = db.get_request(request_id)
    if req is None:
        abort_for_reader(404, _t()["followup_invalid"])
    return req


def thread(req: dict) -> list[dict]:
    """The request's messages, oldest first: the request itself, then the replies and follow-ups."""
    first = {"author": "requester", "body": req["description"], "created_at": req["created_at"], "agent": None}
    return [first, *db.messages_for(req["id"])]


@bp.get("/support/followup/<token>")
def show(token: str):
    req = _request_for(token)
    return render_template("followup.html", req=req, thread=thread(req), token=token, error=None, draft="")


@bp.post("/support/followup/<token>/reply")
def reply(token: str):
    req = _request_for(token)
    try:
        body = text_param(request.form, "body", MAX_FOLLOWUP, required=True)
    except ParamError as exc:
        error = _t()["followup_empty"] if "required" in exc.description else exc.description.split(": ", 1)[1]
        return render_template("followup.html", req=req, thread=thread(req), token=token, error=error,
                               draft=request.form.get("body", "")[:MAX_FOLLOWUP]), 400
    db.add_message(req["id"], "requester", body)
    db.update_request(req["id"], status="open")  # a follow-up puts the request back in the open queue
    flash(_t()["followup_sent"])
    return redirect(url_for("followup.show", token=token, _anchor="thread-end"))


@bp.post("/support/followup/<token>/solved")
def solved(token: str):
    req = _request_for(token)
    db.update_request(req["id"], status="closed")
    flash(_t()["followup_closed"])
    return redirect(url_for("followup.show", token=token))


@bp.get("/agent/outbox")
@agent_required
def outbox():
    status = request.args.get("status") or None
    if status not in (None, *db.MAIL_STATUSES):
        raise ParamError("status", f"use one of {', '.join(db.MAIL_STATUSES)}")
    return render_template("agent_outbox.html", mails=db.mails(status=status), counts=db.mail_counts(), status=status,
                           agent=current_agent(), mail=mailer())


@bp.post("/agent/outbox/<int:mail_id>/retry")
@agent_required
def retry(mail_id: int):
    if db.get_mail(mail_id) is None:
        abort(404, description=f"no mail #{mail_id}")
    mailer().retry(mail_id)
    back = int_param(request.form, "request", 0, 0, db.MAX_ID)
    return redirect(url_for("agent.detail", request_id=back) if back else url_for("followup.outbox"))


def mail_view(request_id: int) -> dict:
    """What the agent's request page shows of the mail side (templates/_mail_thread.html)."""
    return {"messages": db.messages_for(request_id), "mails": db.mails(request_id=request_id),
            "enabled": mailer().enabled}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(mail_view=mail_view, mail_failed=lambda: db.mail_counts().get("failed", 0),
                                 followup_link=lambda req: mailer().followup_url(req["id"], req.get("locale")))
    # the requester's posts are writes like filing a request (ratelimit.ROUTES names the app's own)
    state = app.extensions["kb"]
    if state.rate_limits.get("write"):
        for endpoint in ("followup.reply", "followup.solved"):
            app.view_functions[endpoint] = state.limiter.shared_limit(state.rate_limits["write"], scope="write")(
                app.view_functions[endpoint])
