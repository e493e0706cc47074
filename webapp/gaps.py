"""Content gaps: the key a no-answer query is counted under, and the merging of near-duplicate keys.

The key is stored with each search-log row when it is written (db.log_search), so that the dashboard counts gaps
with one GROUP BY in the database. Two queries share a key when they differ only in case, width, punctuation or
the spaces between CJK characters; a merge by meaning (query-embedding cosine) joins two keys only when they name
the same identifiers (kb.identifiers: networks, coins, error codes, and the very same tx hash or address), so that
two different addresses, hashes or error codes are never one gap."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from kb import identifiers

KEY_CHARS = 500  # as long as a logged query can be (KB_MAX_QUERY_CHARS' default)
_PUNCT = re.compile(r"[^\w]+")
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


def gap_key(query: str) -> str:
    """'充值 没到账！' and '充值没到账' have one key; 'TXyz…' and 'txyz…' (base58, case-sensitive) two."""
    text = unicodedata.normalize("NFKC", query)
    parts, pos = [], 0
    for start, end, value in identifiers.literals(text):
        parts += [text[pos:start].lower(), value]
        pos = end
    parts.append(text[pos:].lower())
    text = _PUNCT.sub(" ", "".join(parts)).strip()
    return _CJK_SPACE.sub("", text)[:KEY_CHARS]


def signature(text: str) -> frozenset[str]:
    """What a query names: canonical identifiers (kb.identifiers.find) and the literal hashes and addresses."""
    text = unicodedata.normalize("NFKC", text)
    return frozenset(identifiers.find(text)) | {f"literal:{v}" for _, _, v in identifiers.literals(text)}


def merge(keys: Sequence[str], texts: Sequence[str], encode: Callable[[list[str]], np.ndarray] | None,
          threshold: float = 0.9) -> list[list[int]]:
    """Positions of `keys` (most asked first) in groups: each joins the first earlier group whose first member is
    as close as `threshold` (cosine of the normalised query vectors of `texts`) and names the same identifiers."""
    if encode is None or len(keys) < 2:
        return [[i] for i in range(len(keys))]
    sigs = [signature(t) for t in texts]
    shared = Counter(sigs)
    # only a key that names what another one names can join it: the others (a pasted address, most often) are
    # not encoded at all
    todo = [i for i in range(len(keys)) if shared[sigs[i]] > 1]
    vectors = dict(zip(todo, np.asarray(encode([texts[i] for i in todo])))) if todo else {}
    groups: list[list[int]] = []
    for i in range(len(keys)):
        home = next((members for members in groups if i in vectors and sigs[members[0]] == sigs[i]
                     and float(vectors[members[0]] @ vectors[i]) >= threshold), None)  # unit vectors: cosine
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    return groups
