from pathlib import Path

import pytest

from kb.articles import load_articles, parse_article
from kb.errors import ArticleError

GOOD = """---
id: a-1
title: Hello
locale: en
category: deposits
tags: [x, y]
---

Body text.
"""


def parse(text: str | bytes):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_article(raw, "articles/a.md")


def test_valid_article_fields_and_defaults():
    a = parse(GOOD)
    assert (a.id, a.title, a.locale, a.category, a.tags) == ("a-1", "Hello", "en", "deposits", ("x", "y"))
    assert a.audience == "public" and a.status == "published" and a.translation_group == "a-1"
    assert a.body.strip() == "Body text." and len(a.fingerprint) == 64


@pytest.mark.parametrize("text, field, words", [
    (GOOD.replace("title: Hello", "title: [unclosed"), "front matter", "invalid YAML at line"),
    (GOOD.replace("id: a-1\n", ""), "id", "missing"),
    (GOOD.replace("id: a-1", "id: Bad Id!"), "id", "not a slug"),
    (GOOD.replace("locale: en", "locale: fr"), "locale", "unknown locale 'fr'"),
    (GOOD.replace("tags: [x, y]", "tags: [x]\naudience: secret"), "audience", "unknown audience"),
    (GOOD.replace("tags: [x, y]", "tags: [x]\nstatus: live"), "status", "unknown status"),
    (GOOD.replace("tags: [x, y]", "tags: {a: 1}"), "tags", "list"),
    (GOOD.replace("tags: [x, y]", "tags: [x]\nupdated: yesterday"), "updated", "not a date"),
    (GOOD.replace("Body text.", "   "), "body", "empty"),
    ("no front matter here", "front matter", "missing"),
    ("---\n- just\n- a list\n---\nbody", "front matter", "mapping"),
    # internal notes (kb.reply): only in internal articles, closed, of a known kind; the line is the file's
    (GOOD.replace("Body text.", "Body text.\n\n::: internal\nWALLET-OPS P3\n:::"), "body", "line 11: an internal note in a public article"),
    (GOOD.replace("tags: [x, y]", "audience: internal").replace("Body text.", "Text.\n\n::: internal\nnote"), "body",
     "line 11: '::: internal' is never closed"),
    (GOOD.replace("tags: [x, y]", "audience: internal").replace("Body text.", "::: secret\nx\n:::"), "body",
     "line 9: unknown block '::: secret'"),
    (GOOD.replace("Body text.", "Text.\n:::"), "body", "line 10: ':::' closes no block"),
])
def test_each_validation_error_names_file_and_field(text, field, words):
    with pytest.raises(ArticleError) as info:
        parse(text)
    assert info.value.path == "articles/a.md" and info.value.field == field
    assert words in info.value.reason
    assert str(info.value).startswith(f"articles/a.md: {field}")


def test_non_utf8_file_is_reported():
    with pytest.raises(ArticleError, match="not UTF-8"):
        parse(GOOD.encode("gb18030") + "中文".encode("gb18030"))


def test_folder_collects_every_error_and_duplicate_ids(kb_dir: Path):
    (kb_dir / "dup.md").write_text(GOOD.replace("id: a-1", "id: lost-2fa-en"), encoding="utf-8")
    (kb_dir / "broken.md").write_text(GOOD.replace("locale: en", "locale: xx"), encoding="utf-8")
    (kb_dir / "typo.md").write_text(GOOD.replace("id: a-1", "id: typo-1\ntittle: oops"), encoding="utf-8")
    (kb_dir / "badcat.md").write_text(GOOD.replace("id: a-1", "id: c-1").replace("category: deposits", "category: nope"), encoding="utf-8")
    result = load_articles(kb_dir)
    messages = sorted(str(e) for e in result.errors)
    assert len(messages) == 3
    assert any("broken.md: locale" in m for m in messages)
    assert any("badcat.md: category" in m and "unknown category 'nope'" in m for m in messages)
    dup = [e for e in result.errors if e.field == "id"]
    assert dup and "duplicate id 'lost-2fa-en'" in dup[0].reason
    assert [(w.field, Path(w.path).name) for w in result.warnings] == [("tittle", "typo.md")]
    assert "typo-1" in {a.id for a in result.articles}


def test_categories_file_is_loaded_in_order(kb_dir: Path):
    result = load_articles(kb_dir)
    assert list(result.categories) == ["deposits", "withdrawals", "security"]
    assert result.categories["deposits"].name("zh-CN") == "充值"
    assert result.categories["deposits"].name("ja") == "Deposits"
