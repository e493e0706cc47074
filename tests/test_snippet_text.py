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
    # indexed (BM25, the vector) with the header once, so that a header does not count once per row
    assert en.index_text == "Network | Confirmations\nTRC20 | 20\nERC20 | 12" and en.search_text in en.embed_text
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


# Every surface that shows or inserts chunk text, over a knowledge base with tables, lists, code and links.
MESSY = {
    "confirmations-table-zh.md": """---
id: confirmations-table-zh
title: 各网络充值所需确认数
locale: zh-CN
category: deposits
tags: [确认数, 网络]
translation_group: confirmations-table
---

## 各网络所需确认数

到 **资产 > 充值** 查看状态，确认数够了才会到账：

| 网络 | 所需确认数 | 说明 |
|---|---|---|
| **TRC20** | 20 | 约 1 分钟 ，到账快 |
| ERC20 | 12 | 拥堵时更久 |
""",
    "memo-steps-en.md": """---
id: memo-steps-en
title: Add the memo to an XRP deposit
locale: en
category: deposits
tags: [memo, xrp]
translation_group: memo-steps
---

## Add the memo

- Tap **Deposit** , then choose `XRP` .
- Copy the **memo** as well; see [My deposit has not arrived](/articles/deposit-not-credited-en) .

| Coin | Memo needed |
|---|---|
| XRP | Yes |
| USDT (TRC20) | No |
""",
    "template-memo-en.md": """---
id: template-memo-en
title: "Template: deposit without a memo"
locale: en
category: deposits
tags: [memo, template]
audience: internal
translation_group: template-memo
---

## Reply: memo missing

> Hi, your **XRP** deposit ({TXID}) arrived without a memo. Please:
>
> 1. Send us a screenshot of the withdrawal with the `memo` field .
> 2. Reply with your UID.

::: internal
Check the memo in **Harbor Admin** first.
:::
""",
}


@pytest.fixture(scope="module")
def messy_client(tmp_path_factory, embedder):
    import shutil

    from conftest import AGENT_TOKEN, FIXTURE_KB
    from kb.build import build_index
    from kb.config import Settings
    from webapp import create_app

    root = tmp_path_factory.mktemp("messy")
    shutil.copytree(FIXTURE_KB, root / "articles")
    for name, text in MESSY.items():
        (root / "articles" / name).write_text(text, encoding="utf-8")
    settings = Settings.from_mapping({"articles_dir": str(root / "articles"), "index_dir": str(root / "index")})
    build_index(settings, embedder=embedder)
    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
                      "KB_DB_PATH": str(root / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN, "SECRET_KEY": "t"},
                     embedder=embedder)
    yield app.test_client(), {"Authorization": f"Bearer {AGENT_TOKEN}"}
    app.extensions["kb"].db.dispose()


def _clean(texts: list[str]) -> list[str]:
    return [p for t in texts for p in debris(shown(t))]


def test_search_results_api_suggestions_and_agent_passages_read_like_text(messy_client):
    client, agent = messy_client
    api = client.get("/api/search", query_string={"q": "TRC20 确认数", "locale": "zh-CN"}).get_json()
    top = api["results"][0]
    assert top["id"] == "confirmations-table-zh" and "<mark>TRC20</mark>" in top["snippet"]
    assert "网络：<mark>TRC20</mark>；所需" in top["snippet"] and "数：20；说明：约 1 分钟，到账快。网络：ERC20；" in top["snippet"]
    assert not _clean([h["snippet"] for h in api["results"]] + [s["snippet"] for h in api["results"] for s in h["sections"]])

    page = client.get("/search", query_string={"q": "memo xrp deposit", "lang": "en"}).get_data(as_text=True)
    snippets = re.findall(r'<p class="snippet"[^>]*>(.*?)</p>', page, re.S)
    assert any("Tap Deposit, then choose XRP." in shown(s) for s in snippets) and not _clean(snippets)

    suggest = client.post("/api/suggest", json={"subject": "XRP deposit memo", "description": "I forgot the memo"}).get_json()
    assert suggest["suggestions"] and not _clean([s["snippet"] for s in suggest["suggestions"]])

    found = client.get("/api/agent/search", query_string={"q": "memo missing template"}, headers=agent).get_json()
    template = next(h for h in found["results"] if h["id"] == "template-memo-en")
    assert template["passage"] == ("Hi, your XRP deposit ({TXID}) arrived without a memo. Please:\n\n"
                                   "1. Send us a screenshot of the withdrawal with the memo field.\n2. Reply with your UID.")
    steps = next(h for h in found["results"] if h["id"] == "memo-steps-en")
    assert steps["passage"].startswith("Tap Deposit, then choose XRP.\nCopy the memo as well; see My deposit has not arrived.\n"
                                       "Coin: XRP; Memo needed: Yes.")
    assert not _clean([h["passage"] for h in found["results"]] + [h["snippet"] for h in found["results"]])
