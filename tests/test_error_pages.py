"""Error pages in the reader's language (webapp.errors): a title and a sentence per status, never a developer's
text; a parameter error names the parameter in a localized sentence; the JSON errors of the API stay as they are."""
import re

import pytest
from werkzeug.exceptions import default_exceptions

from webapp.errors import PAGE_CODES, render_error_page
from webapp.i18n import STRINGS
from webapp.params import ParamError

LOCALES = ["zh-CN", "ko", "ja"]
DEVELOPER_TEXT = "no category 'x' (developer detail)"


def page(resp) -> tuple[str, str]:
    html = resp.get_data(as_text=True)
    return re.search(r"<h1>(.*?)</h1>", html).group(1), re.search(r'<div class="error-page">.*?<p>(.*?)</p>', html, re.S).group(1)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_error_status_has_its_own_page_in_the_readers_language(app, locale):
    for code in PAGE_CODES:
        title, text = STRINGS[locale][f"error_{code}"], STRINGS[locale][f"error_{code}_text"]
        assert title != STRINGS["en"][f"error_{code}"] and text != STRINGS["en"][f"error_{code}_text"]  # translated
        with app.test_request_context(f"/?lang={locale}"):
            body, status, _ = render_error_page(default_exceptions[code](description=DEVELOPER_TEXT))
        assert status == code and f'<html lang="{locale}">' in body
        assert f"<h1>{title}</h1>" in body and text in body and "developer detail" not in body


@pytest.mark.parametrize("locale", LOCALES)
def test_real_errors_render_the_localized_page(client, locale):
    t = STRINGS[locale]
    resp = client.get(f"/articles/no-such-article?lang={locale}")
    assert resp.status_code == 404 and page(resp) == (t["error_404"], t["error_404_text"])
    resp = client.get(f"/categories/nope?lang={locale}")
    assert resp.status_code == 404 and "nope" not in resp.get_data(as_text=True).split("<main", 1)[1]
    resp = client.get(f"/search?lang={locale}&q=" + "x" * 600)  # too long: a parameter error, named
    assert resp.status_code == 400 and page(resp) == (t["error_400"], t["error_param"].format(parameter="q"))
    resp = client.get(f"/articles/deposit-not-credited-en/vote?lang={locale}")
    assert resp.status_code == 405 and page(resp) == (t["error_405"], t["error_405_text"]) and "POST" in resp.headers["Allow"]
    resp = client.post(f"/support/new?lang={locale}", data={"description": "x" * 70_000})
    assert resp.status_code == 413 and page(resp) == (t["error_413"], t["error_413_text"])
    resp = client.post(f"/articles/deposit-not-credited-en/vote?lang={locale}", data={"helpful": "yes"},
                       headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403 and page(resp) == (t["error_403"], t["error_403_text"]) and "evil" not in resp.get_data(as_text=True)


def test_a_missing_form_token_is_told_as_an_expired_form(app):
    client = app.test_client()
    client.send_csrf = False
    resp = client.post("/articles/deposit-not-credited-en/vote?lang=ko", data={"helpful": "yes"})
    assert resp.status_code == 400 and page(resp) == (STRINGS["ko"]["error_400"], STRINGS["ko"]["error_csrf"])
    assert "CSRF" not in resp.get_data(as_text=True)


def test_an_unexpected_error_is_a_localized_500_without_details(app):
    from webapp import errors
    from werkzeug.exceptions import InternalServerError

    with app.test_request_context("/?lang=ja"):
        body, status, _ = errors.render_error_page(InternalServerError())
    assert status == 500 and STRINGS["ja"]["error_500_text"] in body and "Traceback" not in body


def test_a_parameter_error_in_english_names_the_parameter(app):
    with app.test_request_context("/?lang=en"):
        body, status, _ = render_error_page(ParamError("helpful", "use yes or no"))
    assert status == 400 and "The value of “helpful” is not valid." in body and "use yes or no" not in body


def test_the_json_error_shape_of_the_api_is_unchanged(client):
    resp = client.get("/api/articles/no-such-article?lang=zh-CN")
    assert resp.status_code == 404 and resp.get_json() == {"ok": False, "error": "no article 'no-such-article'", "status": 404}
    resp = client.get("/api/search?lang=ko&q=" + "x" * 600)
    body = resp.get_json()
    assert resp.status_code == 400 and body["ok"] is False and body["parameter"] == "q" and body["status"] == 400
