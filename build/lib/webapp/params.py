"""Validation of request parameters, shared by the pages and the API: bad input is a 400 naming the parameter."""
from __future__ import annotations

from typing import Any, Mapping

from werkzeug.exceptions import BadRequest

from kb.config import LOCALES

MAX_K = 50


class ParamError(BadRequest):
    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def text_param(values: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str:
    """A text field (query string, form or JSON), trimmed; its length is checked as sent, before trimming."""
    value = values.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ParamError(name, "must be text")
    if len(value) > limit:
        raise ParamError(name, f"too long ({len(value)} characters, at most {limit})")
    value = value.strip()
    if required and not value:
        raise ParamError(name, "required and must not be empty")
    return value


def query_param(args: Mapping[str, Any], name: str = "q", required: bool = True) -> str:
    from .state import settings

    return text_param(args, name, settings().max_query_chars, required)


def int_param(args: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ParamError(name, f"must be a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise ParamError(name, f"must be from {low} to {high}, got {value}")
    return value


def locale_param(args: Mapping[str, Any], name: str = "locale") -> str | None:
    value = args.get(name) or None
    if value is not None and value not in LOCALES:
        raise ParamError(name, f"unknown locale {value!r}; use one of {', '.join(LOCALES)}")
    return value


def category_param(args: Mapping[str, Any], categories: Mapping[str, Any], name: str = "category") -> str | None:
    value = args.get(name) or None
    if value is not None and value not in categories:
        raise ParamError(name, f"unknown category {value!r}")
    return value
