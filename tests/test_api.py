import pytest
from conftest import AGENT_TOKEN

from kb.config import LOCALES, Settings


def test_search_shape(client):
    r = client.get("/api/search", query_string={"q": "充值未到账", "k": 3})
    assert r.status_code == 200
    body = r.get_json()
    assert body["ok"] is True and body["query"] == "充值未到账" and body["count"] == len(body["results"]) <= 3
    top = body["results"][0]
    assert set(top) >= {"id", "title", "section", "url", "score", "snippet", "locale", "category", "confidence"}
    assert top["id"] == "deposit-not-credited-zh" and top["url"].startswith("/articles/deposit-not-credited-zh")
    assert body["detected_locale"] == "zh-CN" and body["no_answer"] is False


def test_search_filters(client):
    body = client.get("/api/search", query_string={"q": "deposit", "locale": "zh-CN", "category": "deposits"}).get_json()
    assert body["results"] and {(h["locale"], h["category"]) for h in body["results"]} == {("zh-CN", "deposits")}


@pytest.mark.parametrize("params, parameter", [
    ({}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 501}, "q"),
    ({"q": "deposit", "k": "0"}, "k"),
    ({"q": "deposit", "k": "51"}, "k"),
    ({"q": "deposit", "k": "ten"}, "k"),
    ({"q": "deposit", "locale": "fr"}, "locale"),
    ({"q": "deposit", "category": "nope"}, "category"),
])
def test_bad_search_input_is_a_400_naming_the_parameter(client, params, parameter):
    r = client.get("/api/search", query_string=params)
    assert r.status_code == 400
    body = r.get_json()
    assert body == {"ok": False, "status": 400, "parameter": parameter, "error": body["error"]}
    assert body["error"].startswith(f"{parameter}: ")


def test_article_api_and_404s(client):
    body = client.get("/api/articles/deposit-not-credited-en").get_json()
    assert body["title"] == "My deposit has not arrived" and 'id="check-the-confirmations"' in body["html"]
    assert [t["id"] for t in body["translations"]] == ["deposit-not-credited-zh"]
    for path in ("/api/articles/nope", "/api/articles/sop-freeze-account-en", "/api/articles/draft-fees-en", "/api/nothing"):
        r = client.get(path)
        assert r.status_code == 404 and r.get_json()["ok"] is False and r.get_json()["status"] == 404


def test_healthz(client, embedder):
    body = client.get("/healthz").get_json()
    assert body["ok"] and body["index_loaded"] and body["model"] == embedder.name
    assert body["public_articles"] == 5 and body["index_current"] is True
    # issue 14: anonymous users see no count that includes internal articles and no error naming a path
    assert not {"articles", "chunks", "by_locale", "last_reload_error", "index_note"} & set(body)
    assert body["store"] == {"ok": True}
    agent = client.get("/healthz", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}).get_json()
    assert agent["articles"] == 6 and agent["public_articles"] == 5 and agent["chunks"] > 6
    assert agent["index_current"] is True and agent["index_note"] == "up to date" and agent["store"]["failed_writes"] == 0


def test_internal_articles_never_public(client):
    for q in ["SOP: freeze a user's account", "Harbor Admin SEC-ONCALL freeze"]:
        assert "sop-freeze-account-en" not in client.get("/api/search", query_string={"q": q}).get_data(as_text=True)
        assert "sop-freeze-account-en" not in client.get("/search", query_string={"q": q}).get_data(as_text=True)
    assert client.get("/articles/sop-freeze-account-en").status_code == 404
    assert "SOP" not in client.get("/").get_data(as_text=True)


def test_pages(client):
    home = client.get("/?lang=zh-CN")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "充值" in html and "/articles/deposit-not-credited-zh" in html
    assert "lang=zh-CN" in home.headers.get("Set-Cookie", "")
    page = client.get("/search", query_string={"q": "withdrawal pending"}).get_data(as_text=True)
    assert "/articles/withdrawal-pending-review-en" in page and "<mark>" in page
    art = client.get("/articles/deposit-not-credited-zh").get_data(as_text=True)
    assert "<h1>充值未到账怎么办</h1>" in art and 'href="#查看区块确认数"' in art
    assert client.get("/search").status_code == 302
    assert client.get("/search", query_string={"q": "x" * 600}).status_code == 400
    assert client.get("/categories/deposits").status_code == 200
    assert client.get("/categories/nope").status_code == 404


def test_query_is_escaped_in_pages(client):
    html = client.get("/search", query_string={"q": "<script>alert(1)</script> deposit"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_unexpected_errors_are_json_500_without_trace(app, monkeypatch):
    searcher = app.extensions["kb"].searcher
    monkeypatch.setattr(searcher, "search", lambda *a, **k: 1 / 0)
    r = app.test_client().get("/api/search", query_string={"q": "deposit"})
    assert r.status_code == 500 and r.get_json() == {"ok": False, "status": 500, "error": "internal error; it has been logged"}
    assert "ZeroDivisionError" not in r.get_data(as_text=True)


def test_create_app_without_index_says_what_to_run(tmp_path, embedder):
    from kb.errors import IndexNotBuilt
    from webapp import create_app

    with pytest.raises(IndexNotBuilt, match="scripts/build_index.py"):
        create_app({"KB_INDEX_DIR": str(tmp_path)}, embedder=embedder)


def test_the_app_loads_its_model_with_its_query_threads(shared_index, tmp_path, monkeypatch):
    import kb.embed
    from webapp import create_app

    monkeypatch.setattr(kb.embed, "idle_cores", lambda: 1)  # left to itself, a query would take 2 threads

    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
                      "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_QUERY_THREADS": "1", "SECRET_KEY": "t"})
    embedder = app.extensions["kb"].live.embedder.inner  # inside the query-vector cache
    assert embedder.query_threads() == 1  # KB_QUERY_THREADS=1: never the idle cores too
    assert app.test_client().get("/api/search", query_string={"q": "deposit not arrived"}).get_json()["results"]


def test_every_setting_is_documented_in_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name, _, _ in Settings.describe():
        assert f"KB_{name.upper()}" in readme


def test_every_api_route_is_in_the_openapi_spec(app, client):
    spec = client.get("/api/openapi.json").get_json()
    import re

    # /api/articles/{id} and /api/articles/<article_id>, /api/deflections/{id}/undo and <int:deflection_id>: one route
    documented = {re.sub(r"\{[^}]+\}", "{}", path) for path in spec["paths"]}
    routes = {re.sub(r"<(?:\w+:)?\w+>", "{}", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/") and r.rule != "/api/openapi.json"}
    assert routes <= documented, routes - documented


def test_query_length_is_checked_before_trimming(client):
    # 1 character and 600 separators that str.strip() removes: still a 601-character parameter (found by schemathesis)
    resp = client.get("/api/search", query_string={"q": "\x15" + "\x1c" * 600})
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "q"


def test_every_interface_string_exists_in_every_locale():
    from webapp.i18n import STRINGS

    for locale in LOCALES:
        missing = sorted(set(STRINGS["en"]) - set(STRINGS[locale]))
        assert not missing, f"{locale} lacks {missing}"
        assert all(STRINGS[locale][k].strip() for k in STRINGS["en"])


def test_category_pages_list_local_articles_then_the_rest_labelled(client):
    """Browsing in Korean (the fixture has no Korean article): every public topic of the category is listed,
    each labelled with its language, one per translation group."""
    html = client.get("/categories/deposits?lang=ko").get_data(as_text=True)
    assert "/articles/deposit-not-credited-en" in html and "English</span>" in html
    assert "/articles/deposit-not-credited-zh" not in html  # one language per topic
    zh = client.get("/categories/deposits?lang=zh-CN").get_data(as_text=True)
    assert "/articles/deposit-not-credited-zh" in zh and "/articles/deposit-not-credited-en" not in zh


def test_a_bad_or_unknown_setting_stops_the_start_naming_it(shared_index, embedder, monkeypatch):
    from kb.config import SettingsError
    from webapp import create_app

    with pytest.raises(SettingsError, match="KB_RETRIEVER must be one of hybrid, dense, bm25"):
        create_app({"KB_INDEX_DIR": shared_index.index_dir, "KB_RETRIEVER": "hybird"}, embedder=embedder)
    monkeypatch.setenv("KB_MODLE", "minilm")
    with pytest.raises(SettingsError, match="unknown setting KB_MODLE; did you mean KB_MODEL"):
        create_app({"KB_INDEX_DIR": shared_index.index_dir}, embedder=embedder)
