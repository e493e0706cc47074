"""Which locale a query is written in, from its script (reliable for zh/ja/ko, the cases that matter)."""
from __future__ import annotations

import re

from .charsets import HAN, HANGUL, KANA

_HAN = re.compile(f"[{HAN}]")
_KANA = re.compile(f"[{KANA}]")
_HANGUL = re.compile(f"[{HANGUL}]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_locale(text: str) -> str | None:
    """'ja' if kana, 'ko' if Hangul, 'zh-CN' if Han (mixed with English too), 'en' if Latin letters, else None."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text):
        return "zh-CN"
    if _LATIN.search(text):
        return "en"
    return None
