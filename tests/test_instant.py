"""Instant search (issue 16, item 1): the prefix matcher (kb.instant) and its endpoints (webapp.instant)."""
import re

import pytest

from conftest import AGENT_TOKEN
from instant_kb import FEE_TOPICS, instant_index
from kb.instant import LIMIT, Typed, preferred_locale

INTERNAL = "sop-freeze-account-en"


@pytest.fixture(scope="module")
def settings(tmp_path_factory, embedder):
    return instant_index(tmp_path_factory, embedder)


@pytest.fixture(scope="module")
def searcher(settings, embedder):
    from kb.search import Searcher
    from kb.store import load_current

    return Searcher(load_current(settings.index_dir, embedder.name, embedder.dim), embedder, settings)


@pytest.fixture(scope="module")
def instant(searcher):
    return searcher.instant


def ids(instant, text, locale=None, limit=LIMIT):
    return [h.id for h in instant.suggest(text, locale, limit)[0]]


def test_the_text_being_typed_is_parsed_into_finished_words_and_the_unfinished_end():
    assert Typed.parse("Deposit not cr") == Typed(("deposit",), (), "cr", "")
    assert Typed.parse("deposit not ") == Typed(("deposit",), (), "", "")
    assert Typed.parse("充值未") == Typed((), ("充值未",), "", "充值未")
    assert Typed.parse("usdt 充值 ") == Typed(("usdt",), ("充值",), "", "")
    assert Typed.parse("ＵＳＤＴ") == Typed((), (), "usdt", "")  # full-width, as an IME may type it


def test_the_latin_word_being_typed_is_completed_and_highlighted(instant):
    hits, locale = instant.suggest("depo")
    assert locale == "en" and hits[0].id == "deposit-not-credited-en"
    assert "<mark>deposit" in hits[0].snippet.lower()
    assert "withdraw" in instant.completions(Typed.parse("withdrawa"))  # typed past its stem
    assert ids(instant, "withdrawa")[0] == "withdrawal-pending-review-en"
    assert ids(instant, "lost my goo")[0] == "lost-2fa-en"  # every word in the title, the last one a prefix
    assert instant.suggest("zzzqqq")[0] == []


def test_cjk_prefixes_in_chinese_korean_and_japanese(instant):
    # a lone Han character is completed to the words it starts (充 → 充值), a longer run by its end
    assert "充值" in instant.completions(Typed.parse("充"))
    assert ids(instant, "充")[0] == "deposit-not-credited-zh"
    assert ids(instant, "提币一直")[0] == "withdrawal-pending-review-zh"
    # a lone Hangul syllable, as the IME ends its composition, to the bigrams it starts (입 → 입금)
    assert "입금" in instant.completions(Typed.parse("입"))
    assert ids(instant, "입")[0] == "deposit-not-credited-ko"
    assert ids(instant, "구글 OTP")[0] == "lost-2fa-ko"
    assert ids(instant, "入金が", "ja")[0] == "deposit-not-credited-ja"
    hits, locale = instant.suggest("二段階", "ja")
    assert locale == "ja" and hits[0].id == "lost-2fa-ja" and hits[0].section == "二段階認証のリセット"


def test_the_readers_locale_is_preferred_where_the_text_does_not_say(instant):
    assert preferred_locale("usdt", "zh-CN") == "zh-CN"  # one Latin word is typed in every language
    assert preferred_locale("deposit not credited", "zh-CN") == "en"
    assert preferred_locale("入金", "ja") == "ja" and preferred_locale("入金", "en") == "zh-CN"  # Han: kanji in a Japanese IME
    assert preferred_locale("입금", "en") == "ko" and preferred_locale("にゅうきん", None) == "ja"
    assert ids(instant, "2fa", "ko")[0] == "lost-2fa-ko"
    assert ids(instant, "2fa", "ja")[0] == "lost-2fa-ja"
    assert ids(instant, "2fa", "zh-CN")[0] == "lost-2fa-en"  # no Chinese translation: the English one
    assert ids(instant, "2fa")[0] == "lost-2fa-en"


def test_at_most_eight_and_each_topic_once(instant, searcher):
    found = instant.suggest("fee")[0]
    assert len(found) == LIMIT < FEE_TOPICS
    assert len({h.translation_group for h in found}) == len(found)
    assert len(instant.suggest("fee", limit=3)[0]) == 3
    for text in ("d", "deposit", "2fa", "充", "입금", "入金"):
        groups = [searcher.snapshot.articles[h].translation_group for h in ids(instant, text)]
        assert len(groups) == len(set(groups)) <= LIMIT, text


def test_internal_and_draft_articles_are_never_suggested_nor_their_words_completed(instant, searcher):
    snapshot = searcher.snapshot
    hidden = {a.id for a in snapshot.articles.values() if not a.is_public}
    assert INTERNAL in hidden
    text = " ".join(c.title + " " + " ".join(c.heading_path) + " " + c.text for c in snapshot.chunks if c.article_id == INTERNAL)
    words = sorted(set(re.findall(r"[A-Za-z][A-Za-z-]+", text)))
    assert len(words) > 20
    for word in words:
        for typed in (word[:3], word[:5], word, f"freeze {word[:4]}"):
            found = instant.suggest(typed)[0]
            assert not {h.id for h in found} & hidden, typed
    assert instant.completions(Typed.parse("harb")) == []  # "Harbor Admin" is only in the internal SOP
    assert instant.completions(Typed.parse("sec-on")) == []
    assert instant.anchors(INTERNAL) == frozenset() and instant.anchors("draft-fees-en") == frozenset()
    assert "draft-fees-en" not in ids(instant, "new fee sched")


@pytest.fixture(scope="module")
def app(settings, embedder, tmp_path_factory):
    from webapp import create_app

    app = create_app({
        "TESTING": True, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
        "KB_DB_PATH": str(tmp_path_factory.mktemp("instant-app") / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN,
        "SECRET_KEY": "test",
    }, embedder=embedder)
    yield app
    app.extensions["kb"].db.dispose()


def log_rows(app):
    from webapp import db

    with app.app_context(), db.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(db.search_log.select().order_by(db.search_log.c.id))]


def test_the_api_answers_suggestions_without_scores_and_logs_no_keystroke(app, client):
    before = len(log_rows(app))
    for typed in ("d", "de", "dep", "depo", "depos"):
        body = client.get("/api/instant", query_string={"q": typed, "locale": "en"}).get_json()
        assert body["ok"] is True and body["query"] == typed and body["count"] == len(body["results"]) <= LIMIT
    assert body["locale"] == "en" and body["results"][0]["id"] == "deposit-not-credited-en"
    first = body["results"][0]
    assert set(first) == {"id", "title", "section", "url", "snippet", "locale", "category", "category_name"}
    assert first["url"].startswith("/articles/deposit-not-credited-en") and "<mark>" in first["snippet"]
    assert first["category_name"] == "Deposits"
    assert "score" not in str(body) and "confidence" not in str(body)
    zh = client.get("/api/instant", query_string={"q": "充值", "locale": "zh-CN"}).get_json()
    assert zh["results"][0]["category_name"] == "充值"
    assert len(log_rows(app)) == before  # typing is not searching: nothing in the writers' log


@pytest.mark.parametrize("query, parameter", [
    ({}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 501}, "q"), ({"q": "a\x00b"}, "q"),
    ({"q": "fee", "locale": "fr"}, "locale"), ({"q": "fee", "k": "9"}, "k"), ({"q": "fee", "k": "0"}, "k"),
    ({"q": "fee", "k": "two"}, "k"), ("q=fee&q=dep", "q"),
])
def test_bad_parameters_are_a_400_naming_them(client, query, parameter):
    r = client.get("/api/instant", query_string=query)
    body = r.get_json()
    assert r.status_code == 400 and body["ok"] is False and body["parameter"] == parameter and body["status"] == 400


def test_an_agents_session_does_not_make_internal_articles_suggestions(app):
    agent = app.test_client()
    assert agent.post("/agent/login", data={"name": "a", "secret": AGENT_TOKEN}).status_code == 302
    for typed in ("free", "freeze acc", "harbor"):
        found = agent.get("/api/instant", query_string={"q": typed}).get_json()["results"]
        assert INTERNAL not in {r["id"] for r in found}
    r = agent.get("/instant/open", query_string={"q": "freeze", "to": INTERNAL})
    assert r.status_code == 400  # nor is the route that opens a suggestion a way to one


def test_a_chosen_suggestion_is_logged_once_with_its_click(app, client):
    before = log_rows(app)
    r = client.get("/instant/open", query_string={"q": "check the mem", "to": "deposit-not-credited-en",
                                                  "anchor": "check-the-memo-or-tag", "locale": "zh-CN"})
    assert r.status_code == 302 and r.headers["Location"] == "/articles/deposit-not-credited-en#check-the-memo-or-tag"
    rows = log_rows(app)[len(before):]
    assert len(rows) == 1
    row = rows[0]
    assert (row["surface"], row["query"], row["clicked_id"], row["no_answer"]) == ("instant", "check the mem", "deposit-not-credited-en", False)
    assert row["locale"] == "en"  # the suggestions were shown in the language the text is written in
    assert client.get(r.headers["Location"]).status_code == 200


@pytest.mark.parametrize("query, parameter", [
    ({"to": "lost-2fa-en"}, "q"), ({"q": "x"}, "to"), ({"q": "x", "to": "no-such-article"}, "to"),
    ({"q": "x", "to": "draft-fees-en"}, "to"), ({"q": "x", "to": INTERNAL}, "to"),
    ({"q": "x", "to": "lost-2fa-en", "anchor": "freeze-in-harbor-admin"}, "anchor"),
    ({"q": "x", "to": "lost-2fa-en", "locale": "xx"}, "locale"),
])
def test_opening_a_suggestion_checks_what_it_opens(app, client, query, parameter):
    before = len(log_rows(app))
    page = client.get("/instant/open", query_string=query)
    assert page.status_code == 400 and "Location" not in page.headers and "<html" in page.get_data(as_text=True)
    fetched = client.get("/instant/open", query_string=query, content_type="application/json")  # a script's error: JSON
    assert fetched.status_code == 400 and fetched.get_json()["parameter"] == parameter
    assert len(log_rows(app)) == before


def test_instant_has_a_rate_limit_of_its_own(settings, embedder, tmp_path):
    from webapp import create_app

    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
                      "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "SECRET_KEY": "t",
                      "KB_RATE_LIMITS": "instant=3/minute, search=100/minute"}, embedder=embedder)
    client = app.test_client()
    codes = [client.get("/api/instant?q=dep").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/instant/open?q=dep&to=lost-2fa-en").status_code == 429  # one budget for both routes
    assert client.get("/api/search?q=deposit").status_code == 200  # typing does not use up the search budget
    app.extensions["kb"].db.dispose()


def test_without_javascript_the_search_boxes_are_plain_forms_to_the_results_page(client):
    """The combobox's roles and list are added by instant.js: the page as served has a form that searches."""
    for path in ("/?lang=ko", "/articles/lost-2fa-en"):
        page = client.get(path).get_data(as_text=True)
        assert 'action="/search" method="get" role="search"' in page and 'name="q"' in page
        assert 'role="combobox"' not in page and 'role="listbox"' not in page
        assert 'src="/static/instant.js" defer data-api="/api/instant"' in page and 'data-open="/instant/open"' in page
    assert 'data-label="추천 도움말"' in client.get("/?lang=ko").get_data(as_text=True)
    assert client.get("/search?q=deposit").status_code == 200
