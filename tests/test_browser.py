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
