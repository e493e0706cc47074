"""Personal data kept out of the log: e-mail addresses and phone numbers in what users type are replaced before
a search, a suggestion request, a deflection or a vote comment is stored (the ticket itself keeps its e-mail: it
is how we answer)."""
from __future__ import annotations

import re

EMAIL = "[email]"
PHONE = "[phone]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s?[@＠]\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# 8 to 15 digits (E.164 allows 15) in groups split by spaces, hyphens or brackets, optionally after a +; not
# inside a word, a TXID, a decimal amount, a date or a time (ASCII neighbours only: '电话13812345678' is a number too)
_PHONE = re.compile(r"(?<![A-Za-z0-9.+\-])(?:\+\s?)?\(?\d[\d \-()]{5,22}\d(?![A-Za-z0-9]|[.:]\d)")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def _phone(match: re.Match) -> str:
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    low = 7 if text.startswith("+") else 8
    if not low <= digits <= 15 or _DATE.search(text):
        return text
    return PHONE


def scrub(text: str | None) -> str | None:
    """`text` with e-mail addresses and phone numbers replaced by [email] and [phone]."""
    if not text:
        return text
    return _PHONE.sub(_phone, _EMAIL.sub(EMAIL, text))
