"""Snippets: the part of a chunk that best matches the query, HTML-escaped, matched words in <mark>."""
from __future__ import annotations

import html
import re

from .lexical import match_terms, stem
from .plaintext import flatten, is_wide, units

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


def _window(cuts: list[tuple[int, int]], spans: list[tuple[int, int]], width: int) -> tuple[int, int]:
    """The run of whole units (kb.plaintext.units) of at most `width` characters that holds the most matched
    terms; the earliest of equals (the section's opening, when nothing matched)."""
    best, best_hits = (cuts[0][0], cuts[0][1]), -1
    j = 0
    for i, (start, _) in enumerate(cuts):
        j = max(j, i)
        while j + 1 < len(cuts) and cuts[j + 1][1] - start <= width:
            j += 1
        end = cuts[j][1]
        hits = sum(1 for a, b in spans if a >= start and b <= end)
        if hits > best_hits:
            best, best_hits = (start, end), hits
    return best


def make_snippet(text: str, terms: Terms | str, width: int = 220) -> str:
    """HTML-safe snippet of at most about `width` characters: the whole sentences (clauses, words, when one is
    longer) that hold the most of the query's terms (`match_terms` of the query, or the query itself), with an
    ellipsis where text is left out."""
    text = flatten(text)
    stems, cjk = match_terms(terms) if isinstance(terms, str) else terms
    spans = match_spans(text, stems, cjk)
    if len(text) <= width:
        return highlight(text, spans)
    start, end = _window(units(text, width), spans, width)
    window = [(max(a, start) - start, min(b, end) - start) for a, b in spans if b > start and a < end]
    prefix = ("…" if is_wide(text[start]) else "… ") if start > 0 else ""
    suffix = ("…" if is_wide(text[end - 1]) else " …") if end < len(text) else ""
    return prefix + highlight(text[start:end], window) + suffix
