"""Crypto identifiers: network names, coin tickers, memo/tag, error codes, and the shapes of tx hashes and addresses.

A query that names TRC20, XRP, a memo or error -1021 is about exactly that; a pasted 64-hex string is a TXID and a
pasted 0x… string an address. `find` turns a text into canonical identifiers ("trc20", "memo", "code:1021",
"txid", "address"); `IdentifierIndex` knows which chunks mention each, so the ranking can lift the chunks that
carry every identifier of the query (see ranking.lift_identifiers)."""
from __future__ import annotations

import math
import re
import unicodedata
from typing import Iterable, Sequence

import numpy as np

NETWORKS = frozenset({
    "trc20", "erc20", "bep20", "bep2", "spl", "arbitrum", "polygon", "optimism", "avalanche", "solana", "tron",
    "lightning", "omni", "ton",
})
TICKERS = frozenset({
    "btc", "eth", "usdt", "usdc", "xrp", "xlm", "eos", "atom", "sol", "bnb", "trx", "doge", "ltc", "chb",
})
# words that name a concept in any of our locales → the canonical identifier
CONCEPT_WORDS = {
    "memo": ("memo", "tag", "destination tag", "标签", "备注", "메모", "태그", "メモ", "タグ"),
    "txid": ("txid", "tx hash", "transaction hash", "交易哈希", "哈希", "交易id", "트랜잭션", "トランザクションid"),
}
_WORD = re.compile(r"[a-z0-9]+")
_TX_HASH = re.compile(r"(?<![0-9a-z])(?:0x)?[0-9a-f]{64}(?![0-9a-z])")
_ADDRESS = re.compile(
    r"(?<![0-9a-z])(?:0x[0-9a-f]{40}|t[1-9a-z]{33}|bc1[0-9a-z]{25,60}|[13][1-9a-z]{25,34})(?![0-9a-z])")
_CODE = re.compile(r"(?<![\w.,])-?(\d{3,5})(?![\w.,%])")
# the same two shapes in text as written (not lower-cased): base58 addresses (Tron's T…, Bitcoin's 1…/3…) are
# case-sensitive, so two that differ only in case are two addresses
_LITERAL = re.compile(f"{_TX_HASH.pattern}|{_ADDRESS.pattern}", re.IGNORECASE)
_HEX_SHAPE = re.compile(r"(?:0x)?[0-9a-f]+|bc1[0-9a-z]+", re.IGNORECASE)
# text that the hash/address shapes describe, added to a query's BM25 words
EXPANSIONS = {"txid": "TXID", "address": "address 地址"}


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def find(text: str) -> set[str]:
    """The canonical identifiers a text mentions."""
    low = _norm(text)
    found: set[str] = set()
    if _TX_HASH.search(low):
        found.add("txid")
        low = _TX_HASH.sub(" ", low)
    if _ADDRESS.search(low):
        found.add("address")
        low = _ADDRESS.sub(" ", low)
    words = set(_WORD.findall(low))
    found |= words & NETWORKS
    found |= words & TICKERS
    for concept, variants in CONCEPT_WORDS.items():
        if any((v in words) if v.isascii() and " " not in v else (v in low) for v in variants):
            found.add(concept)
    found |= {f"code:{m}" for m in _CODE.findall(low)}
    return found


def literals(text: str) -> list[tuple[int, int, str]]:
    """The tx hashes and addresses in a text (NFKC-normalised by the caller) as (start, end, value): hex and bech32
    values in lower case (their case carries no meaning), base58 ones as written."""
    found = []
    for m in _LITERAL.finditer(text):
        value = m.group()
        found.append((m.start(), m.end(), value.lower() if _HEX_SHAPE.fullmatch(value) else value))
    return found


def expansion_text(identifiers: Iterable[str]) -> str:
    """Words to add to a query for the identifiers only its shape revealed (a pasted hash or address)."""
    return " ".join(EXPANSIONS[i] for i in sorted(identifiers) if i in EXPANSIONS)


def about_text(chunk) -> str:
    """What a chunk is about: its article's title and tags, and its headings (a body mention is not enough)."""
    return f"{chunk.title}\n{' '.join(chunk.heading_path)}\n{' '.join(chunk.tags)}"


class IdentifierIndex:
    """Which chunks are about each identifier; made at build time (kb.build), loaded with the snapshot. Of every
    chunk, or of some of them (the public ones): `size` is how many chunks it describes, postings are chunk ids."""

    def __init__(self, size: int, postings: dict[str, Sequence[int]]):
        self.size = size
        # sorted: coverage looks chunks up by binary search
        self._postings = {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in postings.items()}

    @classmethod
    def build(cls, texts: Sequence[str], ids: Sequence[int] | None = None) -> "IdentifierIndex":
        """The index of `texts`, each the chunk of the same position in `ids` (default: chunk ids 0, 1, …)."""
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"{len(ids)} chunk ids for {len(texts)} texts")
        postings: dict[str, list[int]] = {}
        for n, text in zip(ids if ids is not None else range(len(texts)), texts):
            for ident in find(text):
                postings.setdefault(ident, []).append(n)
        return cls(len(texts), postings)

    def to_dict(self) -> dict:
        return {"size": self.size, "postings": {k: v.tolist() for k, v in self._postings.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "IdentifierIndex":
        return cls(int(d["size"]), d["postings"])

    def known(self, identifiers: Iterable[str]) -> list[str]:
        """The identifiers some chunk mentions (others, e.g. an amount read as a code, say nothing)."""
        return sorted(i for i in identifiers if i in self._postings)

    def weight(self, identifier: str) -> float:
        """How telling an identifier is, in (0, 1]: an idf scaled by the largest possible. 'USDT', named by a third of
        the help center, tells little; error -1021, named by one article, tells a lot."""
        df = len(self._postings.get(identifier, ()))
        return max(0.0, math.log((self.size + 1) / (df + 0.5)) / math.log(self.size + 1)) if self.size else 0.0

    def coverage(self, identifiers: Sequence[str], chunk_ids: np.ndarray) -> np.ndarray:
        """For each chunk id: the share of the query's identifiers it is about, each weighted by how telling it is."""
        if not identifiers or not len(chunk_ids):
            return np.zeros(len(chunk_ids))
        hits = sum(self.weight(i) * _among(chunk_ids, self._postings[i]) for i in identifiers)
        return hits / len(identifiers)


def _among(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """1.0 where an id of `ids` is in `sorted_ids` (sorted), else 0.0: np.isin by binary search, which
    for a few hundred candidates costs a hundredth of isin's sorting (a long query names many identifiers)."""
    if not len(sorted_ids):
        return np.zeros(len(ids))
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return (sorted_ids[at] == ids).astype(np.float64)
