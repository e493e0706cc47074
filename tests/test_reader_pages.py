"""What a reader sees around an answer: related articles, a no-results page that helps, one vote per reader, and
every result link counted (title and section)."""
import re

import numpy as np
import sqlalchemy as sa

from kb.articles import Article
from kb.catalog import related_articles
from kb.chunking import Chunk
from kb.spelling import Speller
from webapp import db


def rows(app, table):
    with app.app_context(), db.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


# -- related articles -------------------------------------------------------------------------------------------

def _article(aid, locale="en", group=None, audience="public"):
    return Article(id=aid, title=aid, locale=locale, category="c", tags=(), audience=audience, status="published",
                   translation_group=group or aid, updated=None, body="", path="", fingerprint="")


def _chunk(aid, locale="en"):
    return Chunk(f"{aid}#0", aid, 0, aid, (), "", "text", locale, "c", "public", ())


def test_article_sums_are_np_add_at_s_to_the_last_bit():
    """Each article's vectors summed run by run are np.add.at's float32 sums, whichever order its rows come in."""
    from kb.catalog import row_sums

    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 9, size=300)
    of = np.repeat(rng.permutation(400)[:300], lengths)  # runs, not sorted: the loop of np.add.at
    vectors = rng.standard_normal((len(of), 24)).astype(np.float32) * 1e3
    for rows in (np.sort(of), of):
        expected = np.zeros((400, 24), np.float32)
        np.add.at(expected, rows, vectors)
        assert np.array_equal(row_sums(rows, vectors, 400), expected)
    assert row_sums(np.zeros(0, np.int64), np.zeros((0, 24), np.float32), 3).shape == (3, 24)


def test_related_articles_are_the_nearest_public_ones_of_the_locale_never_itself_nor_a_translation():
    articles = [_article("a"), _article("b"), _article("c"), _article("secret", audience="internal"),
                _article("a-again", group="a"), _article("a-zh", "zh-CN", group="a"), _article("b-zh", "zh-CN")]
    vec = {"a": [1, 0, 0], "b": [0.9, 0.44, 0], "c": [0, 1, 0], "secret": [1, 0, 0], "a-again": [1, 0, 0],
           "a-zh": [1, 0, 0], "b-zh": [0.8, 0.6, 0]}
    chunks = [_chunk(a.id, a.locale) for a in articles]
    matrix = np.array([vec[a.id] for a in articles], np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    related = related_articles(articles, chunks, matrix, n=5)
    assert related["a"] == ["b", "c"]  # nearest first; not a-again (its translation group), never the internal one
    assert related["c"] == ["b", "a", "a-again"]
    assert related["a-zh"] == ["b-zh"] and "secret" not in related
    assert all("secret" not in ids for ids in related.values())
    assert related_articles(articles, chunks, matrix, n=1)["c"] == ["b"]


def test_article_page_lists_related_articles_of_its_locale(client, app):
    snap = app.extensions["kb"].searcher.snapshot
    for aid, article in snap.articles.items():
        related = snap.related_to(aid)
        assert len(related) <= 5 and aid not in [r.id for r in related]
        assert all(r.is_public and r.locale == article.locale for r in related)
        if not article.is_public:
            assert related == []
    assert {r.id for r in snap.related_to("lost-2fa-en")} >= {"deposit-not-credited-en", "withdrawal-pending-review-en"}
    assert [r.id for r in snap.related_to("deposit-not-credited-zh")] == ["withdrawal-pending-review-zh"]
    page = client.get("/articles/lost-2fa-en").get_data(as_text=True)
    related = page.split('class="related"', 1)[1].split("</section>", 1)[0]
    assert 'href="/articles/deposit-not-credited-en"' in related and "sop-freeze-account-en" not in page


def test_an_internal_article_is_never_related_even_for_an_agent(app):
    snap = app.extensions["kb"].searcher.snapshot
    internal = {aid for aid, a in snap.articles.items() if not a.is_public}
    assert internal and not any(internal & set(ids) for ids in snap.related.values())


# -- the no-results page ----------------------------------------------------------------------------------------

def test_no_results_page_links_to_the_request_form_with_the_query_filled_in(client):
    page = client.get("/search", query_string={"q": "how to cook rice & beans"}).get_data(as_text=True)
    link = re.search(r'class="button primary ask-us" href="([^"]+)"', page).group(1)
    assert link == "/support/new?subject=how+to+cook+rice+%26+beans"
    form = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'id="subject" name="subject" maxlength="200" required value="how to cook rice &amp; beans"' in form


def test_request_form_refuses_a_subject_it_cannot_keep(client):
    assert client.get("/support/new", query_string={"subject": "x" * 201}).status_code == 400
    assert client.get("/support/new", query_string={"subject": "a\x00b"}).status_code == 400


def test_did_you_mean_offers_a_looser_spelling_never_applies_it():
    speller = Speller({"deposit": 9, "withdrawal": 5})
    assert speller.correct("deposut missing", lambda w: False) is None  # one letter changed: not a slip, not applied
    assert speller.correct("deposut missing", lambda w: False, loose=True) == "deposit missing"
    assert speller.correct("withdrwal", lambda w: False) == "withdrawal"  # applied by the search itself


def test_no_results_page_says_did_you_mean_when_that_spelling_has_an_answer(client, app):
    searcher = app.extensions["kb"].searcher
    assert searcher.did_you_mean("how to cook rice") is None
    suggestion = searcher.did_you_mean("2fa recovary")
    if searcher.search("2fa recovary").no_answer:
        assert suggestion == "2fa recovery"
        page = client.get("/search", query_string={"q": "2fa recovary"}).get_data(as_text=True)
        assert 'class="did-you-mean"' in page and 'href="/search?q=2fa+recovery"' in page
    else:  # answered as typed: nothing to suggest
        assert suggestion is None


def test_no_results_page_shows_the_most_read_public_articles_of_the_topic_first(store_app):
    with store_app.app_context():
        for article_id, clicks in (("deposit-not-credited-en", 1), ("withdrawal-pending-review-en", 3),
                                   ("sop-freeze-account-en", 5)):  # an agent's clicks on an internal article
            for _ in range(clicks):
                db.log_click(db.log_search("search", "x", "en", [], 0.9, False, None), article_id)
    client = store_app.test_client()

    def most_read(**query):
        page = client.get("/search", query_string={"q": "how to cook rice", **query}).get_data(as_text=True)
        block = page.split('class="most-read"', 1)[1].split("</section>")[0]
        return re.search(r"<h2>(.*?)</h2>", block).group(1), re.findall(r'<li><a href="/articles/([^"]+)"', block)

    heading, listed = most_read(category="security")  # the topic's one public article, then the most read
    assert listed == ["lost-2fa-en", "withdrawal-pending-review-en", "deposit-not-credited-en"]
    assert heading == "Most-read articles"  # not all of them are the topic's


# -- votes and clicks -------------------------------------------------------------------------------------------

def test_one_vote_per_reader_a_second_replaces_the_first(store_app):
    reader = store_app.test_client()
    first = reader.post("/articles/lost-2fa-en/vote", data={"helpful": "no", "comment": "steps unclear"})
    cookie = first.headers.getlist("Set-Cookie")
    reader_cookie = next(c for c in cookie if c.startswith("kb_reader="))
    assert "HttpOnly" in reader_cookie and "SameSite=Lax" in reader_cookie and "Max-Age=31536000" in reader_cookie
    reader.post("/articles/lost-2fa-en/vote", data={"helpful": "yes"})
    reader.post("/articles/deposit-not-credited-en/vote", data={"helpful": "yes"})
    store_app.test_client().post("/articles/lost-2fa-en/vote", data={"helpful": "no"})  # another reader
    votes = rows(store_app, db.article_votes)
    lost = [v for v in votes if v["article_id"] == "lost-2fa-en"]
    assert len(votes) == 3 and len(lost) == 2
    assert sorted((v["helpful"], v["comment"]) for v in lost) == [(False, None), (True, None)]
    value = reader_cookie.split(";", 1)[0].split("=", 1)[1]
    assert all(v["reader"] and v["reader"] != value and value not in v["reader"] for v in votes)  # only a hash


def test_a_reader_cookie_that_is_not_ours_starts_a_new_reader(store_app):
    client = store_app.test_client()
    client.set_cookie("kb_reader", "x' OR 1=1 --")
    r = client.post("/articles/lost-2fa-en/vote", data={"helpful": "yes"})
    assert r.status_code == 302 and re.search(r"kb_reader=[A-Za-z0-9_-]{24};", r.headers["Set-Cookie"])


def test_section_links_in_results_count_a_click_like_title_links(store_app):
    client = store_app.test_client()
    page = client.get("/search", query_string={"q": "withdrawal pending review how long"}).get_data(as_text=True)
    sections = re.findall(r'class="result-section" href="([^"]+)"', page)
    assert sections and all("?sl=" in href for href in sections)
    href = sections[0].replace("&amp;", "&")
    article_id = href.split("/articles/", 1)[1].split("?", 1)[0]
    assert client.get(href.split("#", 1)[0]).status_code == 200
    logged = [r for r in rows(store_app, db.search_log) if r["surface"] == "search"]
    assert logged[-1]["clicked_id"] == article_id
