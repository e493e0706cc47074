"""What a user sees, checked in a real headless Chromium."""
import pytest

from browser import Browser, LiveServer, chromium_path

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    return Browser(chromium_path())


@pytest.fixture(scope="module")
def server(app):
    with LiveServer(app) as live:
        yield live


def test_search_page_in_chromium(browser, server):
    url = f"{server.url}/search?q=%E5%85%85%E5%80%BC%E6%9C%AA%E5%88%B0%E8%B4%A6&lang=zh-CN"  # 充值未到账
    dom = browser.dom(url)
    assert 'href="/articles/deposit-not-credited-zh' in dom
    assert "<mark>充值</mark>" in dom
    assert browser.screenshot(url, "search-zh.png").stat().st_size > 5000


def test_article_page_in_chromium(browser, server):
    url = f"{server.url}/articles/withdrawal-pending-review-en"
    dom = browser.dom(url)
    assert "<h1>My withdrawal is pending review</h1>" in dom
    assert 'id="how-long-it-takes"' in dom and 'href="#how-long-it-takes"' in dom
    browser.screenshot(url, "article-en.png")


def test_home_page_in_chromium(browser, server):
    dom = browser.dom(f"{server.url}/?lang=en")
    assert "Browse by topic" in dom and "My deposit has not arrived" in dom
    browser.screenshot(f"{server.url}/?lang=en", "home-en.png")


def test_writers_dashboard_charts_in_chromium(app):
    """Log in as a writer in a real browser and find the dashboard's charts rendered."""
    from browser import OUTPUT, wait_for, webdriver_session
    from conftest import AGENT_TOKEN
    from selenium.webdriver.common.by import By

    client = app.test_client()
    for q in ["deposit not arrived", "withdrawal pending", "how to cook rice", "今天比特币会涨吗"]:
        client.get("/search", query_string={"q": q})
    driver = webdriver_session()
    try:
        with LiveServer(app) as live:
            driver.get(f"{live.url}/agent/login?next=/writers/")
            driver.find_element(By.ID, "secret").send_keys(AGENT_TOKEN)
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_for(driver, "svg.chart")
            charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
            assert len(charts) == 4 and all(c.size["height"] > 20 and c.size["width"] > 200 for c in charts)
            assert driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
            OUTPUT.mkdir(exist_ok=True)
            driver.set_window_size(1280, 1600)
            driver.save_screenshot(str(OUTPUT / "writers-dashboard.png"))
    finally:
        driver.quit()


@pytest.mark.parametrize("lang, query", [("ko", "출금 심사 중이에요"), ("ja", "出金が審査中のままです")])
def test_an_answer_only_in_english_is_shown_labelled_to_a_korean_or_japanese_reader(browser, server, lang, query):
    """The fixture has no Korean or Japanese article: the English one is found through the glossary and the
    multilingual model, shown once (not also in Chinese), and labelled with its language."""
    from urllib.parse import quote

    url = f"{server.url}/search?q={quote(query)}&lang={lang}"
    dom = browser.dom(url)
    assert 'href="/articles/withdrawal-pending-review-en' in dom and "withdrawal-pending-review-zh" not in dom
    assert '<span class="badge" lang="en">English</span>' in dom
    browser.screenshot(url, f"search-{lang}-fallback.png")
    browser.screenshot(url, f"search-{lang}-fallback-phone.png", size="390,844")


def test_pages_at_phone_width_in_korean_and_chinese(browser, server):
    for lang in ("ko", "zh-CN"):
        assert browser.screenshot(f"{server.url}/?lang={lang}", f"home-{lang}-phone.png", size="390,844").stat().st_size > 5000
        browser.screenshot(f"{server.url}/categories/deposits?lang={lang}", f"category-{lang}.png")
