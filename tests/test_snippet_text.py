"""Snippets and chunk text read like text: the snippet maker over every chunk of the shipped knowledge base finds
no Markdown debris, no space before punctuation, no space added between Han or kana characters, no cut inside a
word; and small cases (a table, a list, inline code, CJK punctuation, a long sentence cut at a clause)."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from kb.articles import load_articles, parse_article
from kb.chunking import chunk_article
from kb.lexical import stem
from kb.plaintext import flatten
from kb.snippet import make_snippet

ARTICLES = Path(__file__).resolve().parent.parent / "articles"
WIDTH = 220

WIDE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\u31f0-\u31ff"  # Han and kana
DEBRIS = {
    "a table pipe": re.compile(r"\|"),
    "bold or italic markers": re.compile(r"\*\*|__|(?<![\w*])\*(?=\w)|~~"),
    "a backtick": re.compile(r"`"),
    "a Markdown link": re.compile(r"\[[^\]]*\]\([^)]*\)"),
    "a heading marker": re.compile(r"(?m)^#{1,6}\s"),
    "a list marker": re.compile(r"(?m)^\s*[-*+•·]\s"),
    "a ':::' block line": re.compile(r":::"),
    "an HTML tag": re.compile(r"<[a-zA-Z/][^>]*>"),
    "a space before punctuation": re.compile(
        r" (?:[,.;:!?](?=\s|$)|[)\]}，。、；：！？）」』〕】》〉］｝｡｣､])"),
}


def debris(text: str) -> list[str]:
    return [f"{name}: …{text[max(0, m.start() - 25):m.end() + 25]}…" for name, rx in DEBRIS.items()
            for m in [rx.search(text)] if m]


def shown(snippet: str) -> str:
    """A snippet's text as a reader sees it: marks dropped, entities decoded."""
    return html.unescape(snippet.replace("<mark>", "").replace("</mark>", ""))


def added_wide_spaces(text: str, body: str) -> list[str]:
    """Spaces between two Han or kana characters that the article's Markdown (its inline markup aside) does not
    have (`は **プロフィール**` has one, the writer's)."""
    body = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", body)
    body = re.sub(r"\*\*|`|(?<!\w)\*|\*(?!\w)", "", body)
    return [m.group() for m in re.finditer(rf"[{WIDE}] [{WIDE}]", text) if m.group() not in body]


@pytest.fixture(scope="module")
def shipped():
    loaded = load_articles(ARTICLES)
    assert not loaded.errors
    chunks = [(a, c) for a in loaded.articles for c in chunk_article(a)]
    assert {a.locale for a, _ in chunks} == {"en", "zh-CN", "ko", "ja"}
    return chunks


def test_chunk_text_and_replies_of_the_shipped_articles_read_like_text(shipped):
    problems = []
    for article, chunk in shipped:
        for field in ("text", "reply", "internal"):
            value = getattr(chunk, field)
            problems += [f"{chunk.id} {field}: {p}" for p in debris(value)]
            problems += [f"{chunk.id} {field}: added space {s!r}" for s in added_wide_spaces(value, article.body)]
        problems += [f"{chunk.id} heading: {p}" for h in chunk.heading_path for p in debris(h)]
    assert not problems, "\n".join(problems[:30])


def _query_at(text: str, frac: float) -> tuple[frozenset[str], frozenset[str]]:
    """Terms that match the word (or two Han/kana characters) found at `frac` of the text: a snippet window
    elsewhere than the opening."""
    pos = int(len(text) * frac)
    m = re.compile(r"[A-Za-z]{3,}").search(text, pos)
    if m is not None:
        return frozenset({stem(m.group().lower())}), frozenset()
    m = re.compile(rf"[{WIDE}]{{2}}").search(text, pos)
    return frozenset(), frozenset({m.group()} if m else ())


BOUNDARY_BEFORE = re.compile(r"[.!?;。！？；，、：,:)）」』\"”]$")


def cut_problems(snippet: str, text: str) -> tuple[list[str], int, int]:
    """(problems, cuts, cuts at a sentence or clause end) of one snippet of `text` (flattened chunk text)."""
    body = shown(snippet)
    start_cut, end_cut = body.startswith("…"), body.endswith("…")
    body = body.removeprefix("…").removesuffix("…").strip()
    at = text.find(body)
    if at == -1:
        return [f"not a piece of the text: {body[:60]!r}"], 0, 0
    problems, cuts, clean = [], 0, 0
    end = at + len(body)
    if start_cut != (at > 0) or end_cut != (end < len(text)):
        problems.append(f"ellipsis does not match the cut: {snippet[:60]!r}")
    for cut, before, after in ((at, text[:at], text[at:]), (end, text[:end], text[end:])):
        if 0 < cut < len(text):
            cuts += 1
            if BOUNDARY_BEFORE.search(before.rstrip()):
                clean += 1
            elif not (before.endswith(" ") or after.startswith(" ")):
                problems.append(f"cut inside a word at …{before[-15:]}|{after[:15]}…")
    return problems, cuts, clean


def test_every_snippet_of_the_shipped_articles_reads_like_text(shipped):
    problems, cuts, clean = [], 0, 0
    for article, chunk in shipped:
        text = flatten(chunk.text)
        for terms in ((frozenset(), frozenset()), _query_at(text, 0.5), _query_at(text, 0.9)):
            snippet = make_snippet(chunk.text, terms, width=WIDTH)
            problems += [f"{chunk.id}: {p}" for p in debris(shown(snippet))]
            problems += [f"{chunk.id}: added space {s!r}" for s in added_wide_spaces(shown(snippet), article.body)]
            assert len(shown(snippet)) <= WIDTH + 4, snippet
            found, n, at_sentence = cut_problems(snippet, text)
            problems += [f"{chunk.id}: {p}" for p in found]
            cuts, clean = cuts + n, clean + at_sentence
    assert not problems, "\n".join(problems[:30])
    assert cuts > 1000 and clean / cuts > 0.97, (cuts, clean)  # nearly every cut at a sentence or clause end


def _chunks(body: str, locale: str = "en", audience: str = "public"):
    raw = (f"---\nid: t-{locale.lower()}\ntitle: T\nlocale: {locale}\ncategory: deposits\naudience: {audience}\n---\n\n"
           f"{body}").encode()
    return chunk_article(parse_article(raw, "t.md"))


def test_a_table_is_header_value_phrases_one_row_a_sentence():
    (zh,) = _chunks("## 状态\n\n| 看到的情况 | 含义 |\n|---|---|\n| **确认中**，如 8/12 | 正在到账途中 |\n"
                    "| 已完成 | 已经入账到**现货账户** |\n", "zh-CN")
    assert zh.text == "看到的情况：确认中，如 8/12；含义：正在到账途中。\n看到的情况：已完成；含义：已经入账到现货账户。"
    (en,) = _chunks("## Networks\n\n| Network | Confirmations |\n|---|---|\n| TRC20 | 20 |\n| ERC20 | 12 |\n")
    assert en.text == "Network: TRC20; Confirmations: 20.\nNetwork: ERC20; Confirmations: 12."
    assert make_snippet(en.text, "trc20") == "Network: <mark>TRC20</mark>; Confirmations: 20. Network: ERC20; Confirmations: 12."


def test_a_list_is_sentences_without_markers_and_a_reply_keeps_its_numbers():
    (c,) = _chunks("## Steps\n\n- Tap **Email**, then *Change*\n- Tap [Confirm](/x).\n\n1. Open\n2. Send\n")
    assert c.text == "Tap Email, then Change.\nTap Confirm.\nOpen.\nSend."
    assert make_snippet(c.text, "confirm") == "Tap Email, then Change. Tap <mark>Confirm</mark>. Open. Send."
    (t,) = _chunks("## Reply\n\n> Hi, please:\n>\n> 1. Freeze the account\n> 2. Reply with your UID\n", audience="internal")
    assert t.reply == "Hi, please:\n\n1. Freeze the account.\n2. Reply with your UID."


def test_inline_code_links_and_bold_leave_no_markers_and_no_stray_spaces():
    (c,) = _chunks("## Key\n\nCall `GET /api/v3/order` with **your key** (see [API keys](/articles/api)), then *wait* .\n")
    assert c.text == "Call GET /api/v3/order with your key (see API keys), then wait."
    assert make_snippet(c.text, "key") == "Call GET /api/v3/order with your <mark>key</mark> (see API <mark>keys</mark>), then wait."


def test_cjk_punctuation_takes_no_space_and_none_is_added_between_han_characters():
    (c,) = _chunks("## 网络\n\n请在**资产 > 充值**页面选择 **TRC20** ，然后复制地址。\n"
                   "确认后再转账（**不要**用 ERC20 ）。\n", "zh-CN")
    assert c.text == "请在资产 > 充值页面选择 TRC20，然后复制地址。确认后再转账（不要用 ERC20）。"
    (ja,) = _chunks("## 注意\n\n**入金**は「**メモ**」が必要です 。\nタグを忘れないでください！\n", "ja")
    assert ja.text == "入金は「メモ」が必要です。タグを忘れないでください！"
    assert make_snippet(ja.text, (frozenset(), frozenset({"メモ"}))) == "入金は「<mark>メモ</mark>」が必要です。タグを忘れないでください！"


def test_a_long_text_is_cut_at_sentences_and_a_long_sentence_at_a_clause_with_an_ellipsis():
    text = ("Deposits arrive after enough confirmations. " * 3 + "If the network is congested, which happens during "
            "market swings, the wallet waits longer, the fee market clears slowly, the memo is checked again, "
            "and only then the deposit is credited to your spot account. " + "Check the TXID. " * 6)
    snippet = make_snippet(text, "memo", width=120)
    assert snippet.startswith("… ") and snippet.endswith(" …") and "<mark>memo</mark>" in snippet
    body = shown(snippet)[2:-2]
    assert len(body) <= 120 and body in text and body[-1] == "," and text[text.find(body) - 2] == ","
    zh = "充值需要足够的确认数。" * 3 + "如果网络拥堵，" + "钱包会等待更久，" * 8 + "最后才会入账到现货账户。" + "请核对 TXID。" * 5
    cut = make_snippet(zh, (frozenset(), frozenset({"现货账户"})), width=60)
    assert cut.startswith("…") and cut.endswith("…") and "<mark>现货账户</mark>" in cut
    assert shown(cut)[1:-1][-1] in "，。" and len(shown(cut)) <= 62


def test_a_url_or_a_decimal_is_never_a_sentence_end():
    long = "Go to https://www.coinharbor.example/support/new and pay 0.5 USDT. " + "Wait for the review. " * 40
    (c, *_rest) = _chunks("## Fees\n\n" + long + "\n")
    assert c.text.startswith("Go to https://www.coinharbor.example/support/new and pay 0.5 USDT. Wait")
    assert all(len(x.text) <= 700 for x in [c, *_rest]) and "https://www. coinharbor" not in c.text


def test_highlighting_escapes_then_marks():
    snippet = make_snippet("Use <script>alert(1)</script> & the memo tag.", "memo")
    assert snippet == "Use &lt;script&gt;alert(1)&lt;/script&gt; &amp; the <mark>memo</mark> tag."
