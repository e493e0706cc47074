"""Instant search in a real headless Chromium (one browser for the module): typing shows suggestions under the search
box (the WAI-ARIA combobox pattern), ↓/↑ move, Esc closes, Enter opens the chosen article or, with none chosen,
the results page; an input method's composition is not searched before it ends. Screenshots of the open list at
1280 and 390 px (English, Chinese, Korean) in test-output/screens/."""
import base64
from urllib.parse import parse_qs, quote, urlparse

import pytest

from browser import OUTPUT, LiveServer, wait_for, webdriver_session
from instant_kb import instant_index

pytestmark = pytest.mark.browser

OPTION = ".instant-option"


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    from webapp import create_app

    settings = instant_index(tmp_path_factory, embedder)
    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
                      "KB_DB_PATH": str(tmp_path_factory.mktemp("instant-browser") / "kb.sqlite3"), "SECRET_KEY": "t"},
                     embedder=embedder)
    yield app
    app.extensions["kb"].db.dispose()


@pytest.fixture(scope="module")
def site(app):
    driver = webdriver_session()
    try:
        with LiveServer(app) as live:
            yield live.url, driver
    finally:
        driver.quit()


def wait(driver, condition, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition())


def box(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "form[role=search] input[name=q]")


def options(driver):
    from selenium.webdriver.common.by import By

    return [o for o in driver.find_elements(By.CSS_SELECTOR, OPTION) if o.is_displayed()]


def selected(driver):
    return [o.get_attribute("id") for o in options(driver) if o.get_attribute("aria-selected") == "true"]


def screenshot(driver, name: str, width: int):
    """The viewport with the open list, as test-output/screens/<name>-<width>.png."""
    driver.set_window_size(width, 844 if width < 600 else 900)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    (OUTPUT / "screens").mkdir(parents=True, exist_ok=True)
    (OUTPUT / "screens" / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))


def type_and_wait(driver, text: str):
    field = box(driver)
    field.clear()
    field.send_keys(text)
    wait(driver, lambda: options(driver) and field.get_attribute("aria-expanded") == "true")
    return field


def test_the_combobox_suggests_moves_closes_and_opens_the_chosen_article(app, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, driver = site
    driver.set_window_size(1280, 900)
    driver.get(f"{url}/?lang=en")
    field = box(driver)
    listbox = driver.find_element(By.ID, field.get_attribute("aria-controls"))
    assert (field.get_attribute("role"), field.get_attribute("aria-expanded"), field.get_attribute("aria-autocomplete")) == \
        ("combobox", "false", "list")
    assert listbox.get_attribute("role") == "listbox" and listbox.get_attribute("aria-label") == "Suggested articles"
    assert not listbox.is_displayed() and field.get_attribute("aria-activedescendant") is None

    type_and_wait(driver, "depo")
    found = options(driver)
    assert found[0].find_element(By.CSS_SELECTOR, ".instant-title").text == "My deposit has not arrived"
    assert found[0].find_element(By.CSS_SELECTOR, ".instant-snippet mark").text.lower().startswith("deposit")
    assert all(o.get_attribute("role") == "option" for o in found)
    status = driver.find_element(By.CSS_SELECTOR, "form[role=search] [role=status]")
    assert status.get_attribute("textContent").startswith(f"{len(found)} suggestion")  # the live region's count
    screenshot(driver, "instant-home-en", 1280)
    screenshot(driver, "instant-home-en", 390)
    driver.set_window_size(1280, 900)

    field.send_keys(Keys.ARROW_DOWN)
    assert selected(driver) == [found[0].get_attribute("id")] == [field.get_attribute("aria-activedescendant")]
    if len(found) > 1:
        field.send_keys(Keys.ARROW_DOWN)
        assert selected(driver) == [found[1].get_attribute("id")] == [field.get_attribute("aria-activedescendant")]
        field.send_keys(Keys.ARROW_UP)
    assert selected(driver) == [found[0].get_attribute("id")]
    field.send_keys(Keys.ESCAPE)
    assert not listbox.is_displayed() and field.get_attribute("aria-expanded") == "false"
    assert field.get_attribute("aria-activedescendant") is None and field.get_attribute("value") == "depo"

    field.send_keys(Keys.ARROW_DOWN)  # reopens on the first
    assert listbox.is_displayed() and selected(driver) == [found[0].get_attribute("id")]
    field.send_keys(Keys.ENTER)
    wait(driver, lambda: urlparse(driver.current_url).path == "/articles/deposit-not-credited-en")
    wait_for(driver, "h1")
    from webapp import db

    with app.app_context(), db.engine().connect() as conn:
        rows = conn.execute(db.search_log.select()).fetchall()
    # the keystrokes were never logged; the chosen suggestion once, with its click
    assert [(r.surface, r.query, r.clicked_id) for r in rows] == [("instant", "depo", "deposit-not-credited-en")]


def test_enter_without_a_choice_opens_the_results_page_from_the_header_box(site):
    from selenium.webdriver.common.keys import Keys

    url, driver = site
    driver.set_window_size(1280, 900)
    driver.get(f"{url}/articles/lost-2fa-en?lang=en")  # the header's compact box
    field = type_and_wait(driver, "fee")
    assert len(options(driver)) == 8  # ten fee topics, eight shown
    field.send_keys(Keys.ENTER)
    wait(driver, lambda: urlparse(driver.current_url).path == "/search")
    assert parse_qs(urlparse(driver.current_url).query)["q"] == ["fee"]


@pytest.mark.parametrize("lang, path, text, first", [
    ("zh-CN", "/search?q=" + quote("提币") + "&lang=zh-CN", "充值", "充值未到账怎么办"),
    ("ko", "/?lang=ko", "입금", "입금이 반영되지 않아요"),
])
def test_cjk_suggestions_fit_a_phone_and_a_desktop(site, lang, path, text, first):
    from selenium.webdriver.common.by import By

    url, driver = site
    for width in (390, 1280):
        driver.set_window_size(width, 844 if width < 600 else 900)
        driver.get(url + path)
        type_and_wait(driver, text)
        found = options(driver)
        assert found[0].find_element(By.CSS_SELECTOR, ".instant-title").text == first
        listbox = driver.find_element(By.CSS_SELECTOR, ".instant-list")
        fits = driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(), w = document.documentElement.clientWidth;"
            "return r.left >= 0 && r.right <= w + 0.5 && document.documentElement.scrollWidth <= w;", listbox)
        assert fits, (lang, width)
        screenshot(driver, f"instant-{lang}", width)


COMPOSE_JS = """
const [field, done] = [arguments[0], arguments[arguments.length - 1]];
const requests = () => performance.getEntriesByType('resource').filter(e => e.name.includes('/api/instant')).length;
const before = requests();
field.focus();
field.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
for (const partial of ['ㅇ', '이', '입', '입ㄱ', '입그', '입금']) {  // what a Korean IME shows while composing
  field.value = partial;
  field.dispatchEvent(new InputEvent('input', {data: partial, isComposing: true, inputType: 'insertCompositionText'}));
}
// three times the debounce: long enough for a search that should not happen to have been sent
setTimeout(() => {
  const during = requests() - before, shown = !field.closest('form').querySelector('.instant-list').hidden;
  field.dispatchEvent(new CompositionEvent('compositionend', {data: '입금'}));
  done({during, shown});
}, 360);
"""


def test_an_input_methods_composition_is_searched_only_when_it_ends(site):
    url, driver = site
    driver.set_window_size(1280, 900)
    driver.get(f"{url}/?lang=ko")
    field = box(driver)
    driver.set_script_timeout(10)
    during = driver.execute_async_script(COMPOSE_JS, field)
    assert during == {"during": 0, "shown": False}
    wait(driver, lambda: options(driver))  # compositionend searched
    sent = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"
                                 ".filter(n => n.includes('/api/instant'))")
    assert [parse_qs(urlparse(u).query)["q"] for u in sent] == [["입금"]]
