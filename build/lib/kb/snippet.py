"""Snippets: the part of a chunk that best matches the query, HTML-escaped, matched words in <mark>."""
from __future__ import annotations

import html
import re

from .lexical import match_terms, stem

_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:[._'][A-Za-z0-9]+)*")

Terms = tuple[frozenset[str], frozenset[str]]  # kb.lexical.match_terms of the query


def match_spans(text: str, stems: frozenset[str], cjk: frozenset[str]) -> list[tuple[int, int]]:
    """Character spans of text that match the query terms, merged and sorted."""
    spans = [m.span() for m in _WORD_RE.finditer(text) if stem(m.group().lower()) in stems]
    lowered = text.lower()
    for word in cjk:
        start = lowered.find(word)
        while start != -1:
            spans.append((start, start + len(word)))
            start = lowered.find(word, start + len(word))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in spans:
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)


def make_snippet(text: str, terms: Terms | str, width: int = 220) -> str:
    """HTML-safe snippet of about `width` characters around the densest cluster of the query's terms
    (`match_terms` of the query, or the query itself)."""
    text = " ".join(text.replace("\n- ", " · ").split())
    stems, cjk = match_terms(terms) if isinstance(terms, str) else terms
    spans = match_spans(text, stems, cjk)
    if len(text) <= width:
        return highlight(text, spans)
    best_start, best_hits = 0, -1
    for s, _ in spans:
        start = max(0, s - width // 4)
        hits = sum(1 for a, b in spans if a >= start and b <= start + width)
        if hits > best_hits:
            best_start, best_hits = start, hits
    end = min(len(text), best_start + width)
    best_start = max(0, min(best_start, end - width))
    window = [(max(a, best_start) - best_start, min(b, end) - best_start) for a, b in spans if b > best_start and a < end]
    prefix = "… " if best_start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return prefix + highlight(text[best_start:end], window) + suffix
