"""The error page a reader sees: a title and a sentence for the status in the UI language, never a developer's
text (that stays in the JSON errors of the APIs, whose shape is set in webapp/__init__.py)."""
from __future__ import annotations

from typing import NoReturn

from flask import render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, default_exceptions

from .i18n import STRINGS, ui_locale

PAGE_CODES = (400, 401, 403, 404, 405, 413, 429, 500, 503)  # each has error_<code> and error_<code>_text
STAFF_PAGES = ("/agent/", "/writers/")  # English pages for the desk: the detail helps there ("placeholders not filled")


def abort_for_reader(code: int, message: str) -> NoReturn:
    """Abort with a message written for the reader, already in their language: the error page shows it as it is."""
    exc = default_exceptions[code](description=message)
    exc.for_reader = True
    raise exc


def page_text(exc: HTTPException) -> tuple[str, str]:
    """(title, sentence) of the error page for `exc`, in the UI language."""
    t = {**STRINGS["en"], **STRINGS.get(ui_locale(), {})}
    code = exc.code if exc.code in PAGE_CODES else (500 if (exc.code or 500) >= 500 else 400)
    title, text = t[f"error_{code}"], t[f"error_{code}_text"]
    if getattr(exc, "for_reader", False):
        text = exc.description
    elif request.path.startswith(STAFF_PAGES) and code != 500 and exc.description:
        text = exc.description
    elif isinstance(exc, CSRFError):
        text = t["error_csrf"]
    elif getattr(exc, "parameter", None):
        text = t["error_param"].format(parameter=exc.parameter)
    return title, text


def render_error_page(exc: HTTPException):
    code = exc.code or 500
    title, text = page_text(exc)
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # Allow, Retry-After
    return render_template("error.html", code=code, title=title, message=text), code, headers
