"""The writers' glossary (articles/glossary.yml): concept → terms per locale.

Used to expand a query for BM25 into the other languages (출금 → withdrawal, 提币, 提现, 出金) and as synonyms
within one language (充币 = 充值). The build validates it (every error names the file, line and field) and
stores it with the index, so serving never reads the articles folder."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import LOCALES
from .errors import ArticleError

GLOSSARY_FILE = "glossary.yml"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LATIN = re.compile(r"^[a-z0-9 .'/-]+$")


def _WORD_CHAR(ch: str) -> bool:
    return ch.isascii() and ch.isalnum() and not ch.isupper()  # [a-z0-9], as the pattern's lookarounds


def normalise(text: str) -> str:
    """NFKC, lower case, one space between words: how glossary terms and titles are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


@dataclass(frozen=True)
class Glossary:
    concepts: dict[str, dict[str, tuple[str, ...]]]  # concept → locale → terms

    def __post_init__(self) -> None:
        index: dict[str, set[str]] = {}
        for concept, by_locale in self.concepts.items():
            for ts in by_locale.values():
                for t in ts:
                    index.setdefault(normalise(t), set()).add(concept)
        object.__setattr__(self, "_index", index)
        # The scan's tables: by first character, the lengths of the terms that start with it, longest first
        starts: dict[str, list[int]] = {}
        for t in index:
            starts.setdefault(t[0], []).append(len(t))
        object.__setattr__(self, "_starts", {c: sorted(set(ls), reverse=True) for c, ls in starts.items()})
        # Latin terms match whole words; CJK terms match anywhere (no spaces between words there).
        object.__setattr__(self, "_latin", {t: bool(_LATIN.match(t)) for t in index})

    def concepts_in(self, text: str) -> list[str]:
        """The concepts a text names (longest terms first, so 'deposit address' wins over 'deposit').

        A left-to-right scan that takes, at each position, the longest term that starts there (Latin terms as whole
        words) and goes on after it: what a regex alternation of the terms, longest first, finds, in a few dictionary
        look-ups a position (the alternation tried every term at every position: 4.5 ms for a 500-character query,
        now 0.2 ms)."""
        found: list[str] = []
        text = normalise(text)
        i, n = 0, len(text)
        while i < n:
            match = None
            for length in self._starts.get(text[i], ()):
                term = text[i:i + length]
                if len(term) == length and term in self._index and (
                        not self._latin[term]
                        or ((i == 0 or not _WORD_CHAR(text[i - 1])) and (i + length == n or not _WORD_CHAR(text[i + length])))):
                    match = term
                    break
            if match is None:
                i += 1
                continue
            for concept in sorted(self._index[match]):
                if concept not in found:
                    found.append(concept)
            i += len(match)
        return found

    def terms(self, concepts: list[str], locale: str | None = None) -> list[str]:
        """Every term of the concepts (in one locale, or all)."""
        out: list[str] = []
        for c in concepts:
            for loc, ts in self.concepts[c].items():
                if locale is None or loc == locale:
                    out.extend(ts)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {c: {loc: list(ts) for loc, ts in by_locale.items()} for c, by_locale in self.concepts.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Glossary":
        return cls({c: {loc: tuple(ts) for loc, ts in by_locale.items()} for c, by_locale in d.items()})


EMPTY = Glossary({})


def load_glossary(articles_dir: str | Path) -> tuple[Glossary, list[ArticleError]]:
    """The glossary of an articles folder (empty when there is none) and its errors, each naming the file,
    the line and the field (`concept.locale`); concepts with an error are left out."""
    path = Path(articles_dir) / GLOSSARY_FILE
    if not path.exists():
        return EMPTY, []
    where = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return EMPTY, [ArticleError(where, None, f"not valid YAML ({exc})")]
    if root is None:
        return EMPTY, []
    if not isinstance(root, yaml.MappingNode):
        return EMPTY, [ArticleError(where, None, "must map concept names to terms per locale")]
    concepts: dict[str, dict[str, tuple[str, ...]]] = {}
    errors: list[ArticleError] = []

    def error(node, field: str, reason: str) -> None:
        errors.append(ArticleError(f"{where}:{node.start_mark.line + 1}", field, reason))

    for key_node, value_node in root.value:
        name = str(key_node.value)
        if not _SLUG.match(name):
            error(key_node, name, "a concept name is lowercase letters, digits and hyphens")
            continue
        if name in concepts:
            error(key_node, name, "defined twice")
            continue
        if not isinstance(value_node, yaml.MappingNode):
            error(value_node, name, "must map locales to lists of terms")
            continue
        by_locale: dict[str, tuple[str, ...]] = {}
        ok = True
        for loc_node, terms_node in value_node.value:
            field = f"{name}.{loc_node.value}"
            if loc_node.value not in LOCALES:
                error(loc_node, field, f"unknown locale; use one of {', '.join(LOCALES)}")
                ok = False
            elif not isinstance(terms_node, yaml.SequenceNode) or not terms_node.value \
                    or not all(isinstance(t, yaml.ScalarNode) and str(t.value).strip() for t in terms_node.value):
                error(terms_node, field, "must be a non-empty list of terms")
                ok = False
            else:
                by_locale[loc_node.value] = tuple(str(t.value).strip() for t in terms_node.value)
        if ok and len(by_locale) < 2:
            error(value_node, name, "needs terms in at least two locales (it links languages)")
            ok = False
        if ok:
            concepts[name] = by_locale
    return Glossary(concepts), errors
