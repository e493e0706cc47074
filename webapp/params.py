"""Validation of request parameters, shared by the pages and the API: bad input is a 400 naming the parameter.

Text is refused, the same on SQLite and PostgreSQL, when it holds a character no store keeps: a control
character other than tab and line breaks (PostgreSQL cannot store NUL at all) or a lone surrogate (a JSON
"\\ud800", which is not Unicode text and cannot be encoded)."""
from __future__ import annotations

import re
from typing import Any, Mapping

from flask import request
from werkzeug.exceptions import BadRequest

from kb.config import LOCALES

MAX_K = 50
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class ParamError(BadRequest):
    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _one(values: Mapping[str, Any], name: str) -> Any:
    """The parameter's value; sent twice (?k=&k=5) it is ambiguous, and refused rather than read one way."""
    getlist = getattr(values, "getlist", None)
    if getlist is not None and len(getlist(name)) > 1:
        raise ParamError(name, "given more than once")
    return values.get(name)


def check_chars(name: str, value: str) -> str:
    """`value` unchanged if every character can be stored, else a ParamError naming the first one."""
    bad = _UNSTORABLE.search(value)
    if bad:
        char = ord(bad.group())
        kind = "a lone surrogate" if 0xD800 <= char <= 0xDFFF else "a control character"
        raise ParamError(name, f"contains {kind} (U+{char:04X} at position {bad.start() + 1}); remove it")
    return value


def strip_unstorable(value: str) -> str:
    """`value` without the characters `check_chars` refuses (to give a form back to the user, fixed)."""
    return _UNSTORABLE.sub("", value)


def text_param(values: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str:
    """A text field (query string, form or JSON), trimmed; its length is checked as sent, before trimming."""
    value = _one(values, name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ParamError(name, "must be text")
    if len(value) > limit:
        raise ParamError(name, f"too long ({len(value)} characters, at most {limit})")
    value = check_chars(name, value).strip()
    if required and not value:
        raise ParamError(name, "required and must not be empty")
    return value


def query_param(args: Mapping[str, Any], name: str = "q", required: bool = True) -> str:
    from .state import settings

    return text_param(args, name, settings().max_query_chars, required)


def int_param(args: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = _one(args, name)
    if raw in (None, ""):
        return default
    # ASCII digits only: int() also reads '٣' or ' 1_0 ', and str.isdigit() says yes to '²', which int() refuses
    if not isinstance(raw, str) or not re.fullmatch(r"[+-]?[0-9]{1,20}", raw):
        raise ParamError(name, f"must be a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ParamError(name, f"must be from {low} to {high}, got {value}")
    return value


def locale_param(args: Mapping[str, Any], name: str = "locale") -> str | None:
    value = _one(args, name) or None
    if value is not None and (not isinstance(value, str) or value not in LOCALES):
        raise ParamError(name, f"unknown locale {_shown(value)}; use one of {', '.join(LOCALES)}")
    return value


def category_param(args: Mapping[str, Any], categories: Mapping[str, Any], name: str = "category") -> str | None:
    value = _one(args, name) or None
    if value is not None and (not isinstance(value, str) or value not in categories):
        raise ParamError(name, f"unknown category {_shown(value)}")
    return value


def json_object(name: str = "body") -> dict:
    """The request's JSON body, which must be an object; anything else is a ParamError naming `name`."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the json module recurses once per nested [ or {: 5,000 of them exhaust the stack
        raise ParamError(name, "nested too deeply") from None
    if not isinstance(data, dict):
        raise ParamError(name, "send a JSON object (Content-Type: application/json)")
    return data
