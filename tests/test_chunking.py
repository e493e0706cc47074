from kb.articles import parse_article
from kb.chunking import chunk_article
from kb.render import render_markdown, slugify

ARTICLE = """---
id: c-1
title: 充值未到账
locale: zh-CN
category: deposits
---

开头的说明。

## 查看确认数

在区块浏览器查询 TXID。

### ERC20

需要 12 个确认。

## 网络

| 网络 | 确认数 |
|---|---|
| TRC20 | 20 |

## Long

""" + " ".join(f"Sentence number {i} is here." for i in range(200)) + "\n"


def chunks():
    return chunk_article(parse_article(ARTICLE.encode(), "a.md"), max_chars=300)


def test_sections_carry_heading_path_and_anchor():
    cs = chunks()
    assert cs[0].heading_path == () and cs[0].anchor == "" and cs[0].text == "开头的说明。"
    assert cs[1].heading_path == ("查看确认数",) and cs[1].anchor == "查看确认数"
    assert cs[2].heading_path == ("查看确认数", "ERC20") and cs[2].anchor == "erc20"
    table = cs[3]
    assert table.heading == "网络" and table.text == "网络：TRC20；确认数：20。"  # a row as "header: value"


def test_long_sections_are_split_under_the_limit_and_keep_their_anchor():
    long = [c for c in chunks() if c.heading == "Long"]
    assert len(long) > 5
    assert all(len(c.text) <= 300 for c in long)
    assert {c.anchor for c in long} == {"long"}
    assert "Sentence number 199 is here." in long[-1].text


def test_embed_text_includes_title_and_headings():
    c = chunks()[2]
    assert c.embed_text.startswith("充值未到账 > 查看确认数 > ERC20\n")
    assert [x.id for x in chunks()][:2] == ["c-1#0", "c-1#1"]


def test_anchor_matches_rendered_heading_id():
    html = render_markdown("## 查看确认数\n\ntext\n\n## Wrong network (TRC20)?\n")
    assert 'id="查看确认数"' in html and f'id="{slugify("Wrong network (TRC20)?")}"' in html
    assert slugify("Wrong network (TRC20)?") == "wrong-network-trc20"


def test_rendering_strips_script_and_event_handlers():
    html = render_markdown('Hi <script>alert(1)</script> <img src="x" onerror="alert(2)"> [x](javascript:alert(3))')
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html


def test_title_gets_its_own_vector_unless_the_body_opens_with_it():
    from kb.chunking import title_to_embed

    assert title_to_embed(parse_article(ARTICLE.encode(), "a.md")) == "充值未到账"
    lead = ARTICLE.replace("title: 充值未到账", "title: 开头的说明。")  # a "title" that is the body's first sentence
    assert title_to_embed(parse_article(lead.encode(), "a.md")) is None
    cut = ARTICLE.replace("title: 充值未到账", "title: 开头的…")  # or its opening, cut short
    assert title_to_embed(parse_article(cut.encode(), "a.md")) is None


def test_internal_notes_are_searchable_but_never_part_of_what_an_agent_inserts():
    from kb.articles import parse_article

    raw = (b"---\nid: t\ntitle: Reply templates\nlocale: en\ncategory: deposits\naudience: internal\n---\n\n"
           b"## Waiting for confirmations\n\nCheck the TXID first.\n\n> Hi, your deposit {TXID} has {n} confirmations.\n>\n"
           b"> Thanks for waiting.\n\n::: internal\nEscalate to WALLET-OPS as P3.\n:::\n\n## Steps\n\n1. Open Harbor Admin.\n\n"
           b"::: internal\nNever promise a date.\n:::\n")
    template, steps = chunk_article(parse_article(raw, "t.md"))
    assert "WALLET-OPS" in template.text and "WALLET-OPS" in template.internal  # agents find it by its notes
    assert template.reply == "Hi, your deposit {TXID} has {n} confirmations.\n\nThanks for waiting."  # the quote only
    assert "Open Harbor Admin." in steps.reply and "promise" not in steps.reply and "promise" in steps.internal


def test_a_public_article_reply_is_its_text():
    from kb.articles import parse_article

    raw = b"---\nid: p\ntitle: Fees\nlocale: en\ncategory: deposits\n---\n\n## Fees\n\n> Fees are shown before you confirm.\n\nNo fee to deposit.\n"
    (chunk,) = chunk_article(parse_article(raw, "p.md"))
    assert chunk.reply == chunk.text and "No fee to deposit." in chunk.reply and not chunk.internal
