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


_LATIN_RUN = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"[A-Za-z][a-z]+")  # "deposit", "Hello"; not USDT, TRC20, a TXID or an address
_SCRIPTS = {"ja": _KANA, "ko": _HANGUL, "zh-CN": _HAN}
MIN_UNITS = 2.0  # two words, or four CJK characters: less is too short to tell
DOMINANCE = 2.0  # a language needs twice the next one's share, else the text is mixed


def text_locale(text: str, fallback: str | None = None) -> str | None:
    """The language a request is written in, from the share of each script: a Latin word counts 1, a CJK
    character 1/2 (about a word). Identifiers (TXIDs, addresses, USDT, TRC20) are Latin in every language and do
    not count. Too short, or mixed without a clear majority: `fallback` (the interface's locale)."""
    han, kana, hangul = (len(_SCRIPTS[loc].findall(text)) for loc in ("zh-CN", "ja", "ko"))
    scores = {"en": float(sum(bool(_WORD.fullmatch(run)) for run in _LATIN_RUN.findall(text))), "ko": hangul / 2}
    if kana and kana >= 0.1 * (han + kana):  # kanji with kana is Japanese; a stray の in Chinese is not
        scores["ja"] = (han + kana) / 2
    else:
        scores["zh-CN"] = han / 2
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < MIN_UNITS:
        return fallback
    if top >= DOMINANCE * second:
        return best
    return fallback if fallback and scores.get(fallback, 0) > 0 else best
