"""The words of a text for BM25 and snippets: a CJK-aware tokenizer (jieba for Han, bigrams for kana and
Hangul, stems for Latin script). The BM25 index itself is kb.bm25."""
from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

from .bm25 import LexicalIndex, TermCounts, evidence_words  # noqa: F401  (re-exported: the tokenizer's index)
from .charsets import CJK, HAN, HANGUL, KANA

_DATA = Path(__file__).resolve().parent / "data"

# Runs of one script: Han, kana, Hangul, or Latin letters/digits.
_RUN_RE = re.compile(
    rf"(?P<han>[{HAN}]+)"
    rf"|(?P<kana>[{KANA}]+)"
    rf"|(?P<hangul>[{HANGUL}]+)"
    r"|(?P<word>[a-z0-9]+(?:[._'][a-z0-9]+)*)"
)
_HEX_RE = re.compile(r"^(?:0x)?[0-9a-f]{16,}$")

ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does doesn't for from had has have how i i'm if in into is it "
    "it's its me my no not of on or our so than that the their them then there these they this to too up us was we "
    "were what when where which while who why will with would you your yours".split()
)
CHINESE_STOPWORDS = frozenset("的 了 吗 呢 吧 啊 是 我 你 在 和 也 就 都 要 会 有 把 被 给 怎么 怎么办 如何 什么 为什么 一直 还 没 请问 一下".split())

_jieba_lock = threading.Lock()
_jieba = None
_stemmer = None
_mapped_segmenter = False  # a server's: jieba reads kb.segmenter's mapped table instead of its dict


def use_mapped_segmenter() -> None:
    """For a server, before the first segmentation: jieba's words and frequencies from one table file mapped by
    every server process (kb.segmenter), not a dict in each."""
    global _mapped_segmenter
    _mapped_segmenter = True


def _get_jieba():
    """jieba with kb's support vocabulary, initialised once per process on first use."""
    global _jieba
    with _jieba_lock:
        if _jieba is None and _mapped_segmenter:
            from .segmenter import server_tokenizer

            _jieba = server_tokenizer()
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            with open(_DATA / "userdict.txt", "rb") as f:  # a path would be opened by jieba and never closed
                tokenizer.load_userdict(f)
            tokenizer.initialize()
            _jieba = tokenizer
    return _jieba


@functools.lru_cache(maxsize=8192)
def _segment(run: str) -> tuple[str, ...]:
    """jieba's search-mode words of one Han run; remembered, since a query's runs are segmented twice (its BM25
    words and its snippet terms) and the same runs recur across queries."""
    return tuple(_get_jieba().cut_for_search(run))


def warm_up() -> None:
    """Load the segmenter's dictionary now (about half a second) rather than in the first request."""
    tokenize("预热 warm up")


def warm_up_in_background() -> threading.Thread:
    """warm_up in a thread, so that it overlaps the model and index loads (a Han query that comes first waits
    for it on the segmenter's lock)."""
    thread = threading.Thread(target=warm_up, name="kb-jieba-warm-up", daemon=True)
    thread.start()
    return thread


def stem(word: str) -> str:
    """The English stem of one lowercase word (the BM25 tokenizer's and the snippets')."""
    global _stemmer
    if _stemmer is None:
        import Stemmer

        _stemmer = Stemmer.Stemmer("english")
    return _stemmer.stemWord(word)


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) < 2 else [run[i:i + 2] for i in range(len(run) - 1)]


# Anything that changes the words of a text; a build with another version re-tokenizes every chunk.
TOKENIZER_VERSION = 2


def tokenize(text: str) -> list[str]:
    """Words for BM25: jieba search-mode words plus single characters and character bigrams for Han,
    bigrams for kana and Hangul, stemmed lowercase words for Latin script; identifiers such as TRC20 or
    a tx hash stay whole.

    Single Han characters catch what segmentation and bigrams split differently in query and article
    (a query's 租金保险 against an article's 租客保险); on the Chinese dev sets they raised BM25 nDCG@10
    by 2.5 to 4 points and the hybrid by about 1."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for m in _RUN_RE.finditer(text):
        kind, run = m.lastgroup, m.group()
        if kind == "han":
            words = [w for w in _segment(run) if w.strip() and w not in CHINESE_STOPWORDS]
            tokens.extend(words)
            tokens.extend(c for c in run if c not in words)
            if len(run) > 1:
                tokens.extend(b for b in _bigrams(run) if b not in words)
        elif kind in ("kana", "hangul"):
            tokens.extend(_bigrams(run))
        elif run not in ENGLISH_STOPWORDS:
            tokens.append(run if (_HEX_RE.match(run) or any(c.isdigit() for c in run)) else stem(run))
    return tokens


_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:[._'][A-Za-z0-9]+)*")
_CJK_RUN_RE = re.compile(f"[{CJK}]+")


def match_terms(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """What a snippet highlights for a query: (stems of its Latin words, its CJK words of two or more
    characters). Computed once per query (kb.query.Query)."""
    text = unicodedata.normalize("NFKC", text).lower()
    stems = {stem(w) for w in _WORD_RE.findall(text) if w not in ENGLISH_STOPWORDS and len(w) > 1}
    cjk: set[str] = set()
    for run in _CJK_RUN_RE.findall(text):
        words = [w for w in _segment(run) if len(w) > 1 and w not in CHINESE_STOPWORDS]
        cjk.update(words or ([run] if len(run) > 1 else []))
    return frozenset(stems), frozenset(cjk)


def chunk_document(title: str, heading_path: Sequence[str], text: str, tags: Iterable[str]) -> list[str]:
    """A chunk's BM25 tokens; title, headings and tags are repeated so that they count more than body text."""
    head = tokenize(" ".join([title, *heading_path, " ".join(tags)]))
    return head + head + tokenize(text)
