"""Phone-sized and accessible, in a real headless Chromium: every public page, the agent pages and the writers'
dashboard fit 390 px without horizontal scrolling and have no serious or critical axe-core violation; the skip
link; the language switch with and without JavaScript; other-language text marked with `lang`. Screenshots at
1280 and 390 px in test-output/screens/, axe-core's violations per page in test-output/axe.json."""
import base64
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from browser import OUTPUT, LiveServer, wait_for, webdriver_session
from conftest import AGENT_TOKEN, missing_tool

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE, DESKTOP = (390, 844), (1280, 900)
TXID = "0x" + "9f3c" * 16
ADDRESS = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"

# (name, path, screenshots at 1280 and 390 px?): public pages in the four UI languages, then the agent pages
PUBLIC = [
    ("home-zh", "/?lang=zh-CN", True),
    ("home-ko", "/?lang=ko", True),
    ("category-en", "/categories/withdrawals?lang=en", False),
    ("search-zh", "/search?q=" + quote("充值未到账") + "&lang=zh-CN", True),
    ("search-en", "/search?q=" + quote("withdrawal pending review") + "&lang=en", True),
    ("search-ko", "/search?q=" + quote("출금 심사 중이에요") + "&lang=ko", True),
    ("search-txid", "/search?q=" + TXID + "&lang=ja", False),
    ("no-results-zh", "/search?q=" + quote("天气预报") + "&lang=zh-CN", True),
    ("article-zh", "/articles/withdrawal-pending-review-zh?lang=zh-CN", True),
    ("article-en-in-ko", "/articles/deposit-not-credited-en?lang=ko", True),
    ("ticket-form-ko", "/support/new?lang=ko", True),
    ("instant-en", "/?lang=en", True),
    ("error-404-ja", "/articles/no-such-article?lang=ja", False),
]
AGENT = [
    ("agent-queue", "/agent/", False),
    ("agent-outbox", "/agent/outbox", False),
    ("dashboard", "/writers/", True),
]

# Why the page is wider than the viewport: the elements that reach past its right edge, innermost first.
OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
const out = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.right > width + 0.5 && r.width > 0 && getComputedStyle(el).position !== 'fixed') {
    let inScroller = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') && p.getBoundingClientRect().right <= width + 0.5) { inScroller = true; break; }
    }
    const article = el.closest('[data-article]');
    if (!inScroller) out.push((article ? article.dataset.article + ': ' : '') + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' right=' + Math.round(r.right));
  }
}
return {scroll: document.documentElement.scrollWidth, width: width, offenders: out.slice(-8)};
"""

# pages checked again once the user has typed: (field, text, what appears), from the scripts of the page
TYPED = {
    "ticket-form-ko": ("#subject", "我的USDT充值两小时还没到账", "#suggestions .suggestion"),  # ticket.js
    "instant-en": ("form.search-form input[name=q]", "deposit not arr", ".instant-option"),  # instant.js's combobox
}

AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
  targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))), e => done({error: String(e)}));
"""


def fit(driver, size):
    driver.set_window_size(*size)


def screenshot(driver, name: str, width: int):
    """The whole page (not only the viewport) at `width` px, as test-output/screens/<name>-<width>.png."""
    height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 6000)")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    (OUTPUT / "screens").mkdir(parents=True, exist_ok=True)
    (OUTPUT / "screens" / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.exists():
        missing_tool("axe-core is not installed (make install-dev runs npm ci from package-lock.json)")
    return AXE.read_text()


@pytest.fixture(scope="module")
def site(app):
    """One live server and one browser: a few searches logged, a request filed in Chinese with a TXID and an
    address (its confirmation and follow-up pages kept), the agent logged in."""
    from selenium.webdriver.common.by import By

    client = app.test_client()
    for q in ["deposit not arrived", "withdrawal pending", "how to cook rice", "今天比特币会涨吗", "怎么做红烧肉"]:
        client.get("/search", query_string={"q": q})
    driver = webdriver_session()
    try:
        with LiveServer(app) as live:
            driver.get(f"{live.url}/support/new?lang=zh-CN")
            driver.find_element(By.ID, "subject").send_keys(f"提币一直在审核中 {TXID}")
            driver.find_element(By.ID, "description").send_keys(
                f"我昨天提了 500 USDT（TRC20）到 {ADDRESS}，交易哈希 {TXID}，到现在还显示审核中。"
                f"https://tronscan.org/#/transaction/{TXID[2:]}")
            driver.find_element(By.ID, "email").send_keys("zhang.wei@example.com")
            driver.find_element(By.CSS_SELECTOR, "#ticket-form button[type=submit]").click()
            number = wait_for(driver, "#request-number").text.lstrip("#")
            submitted = driver.current_url.removeprefix(live.url)
            followup = driver.find_element(By.ID, "followup-link").get_attribute("href")
            followup = followup.removeprefix(live.url) if followup.startswith(live.url) else followup
            yield {"url": live.url, "driver": driver, "request": number,
                   "public": [*PUBLIC, ("ticket-submitted-zh", submitted, False), ("followup-zh", followup, False)],
                   "agent": [("agent-login", "/agent/login", False), *AGENT[:1],
                             ("agent-request", f"/agent/requests/{number}", True), *AGENT[1:]]}
    finally:
        driver.quit()


def log_in(site):
    """The agent logged in (once per browser: later calls find the queue open)."""
    from selenium.webdriver.common.by import By

    driver = site["driver"]
    driver.get(f"{site['url']}/agent/")
    if driver.find_elements(By.CSS_SELECTOR, "table.queue"):
        return
    driver.get(f"{site['url']}/agent/login")
    driver.find_element(By.ID, "name").send_keys("alice")
    driver.find_element(By.ID, "secret").send_keys(AGENT_TOKEN)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, "table.queue")


def check_page(driver, axe_source: str, url: str) -> tuple[dict, list]:
    """(the page's width at 390 px, axe-core's violations there)."""
    driver.get(url)
    width = driver.execute_script(OVERFLOW_JS)
    driver.execute_script(axe_source)
    violations = driver.execute_async_script(AXE_RUN_JS)
    assert not isinstance(violations, dict), violations  # axe itself failed
    return width, violations


def test_every_page_fits_a_phone_and_axe_finds_no_serious_or_critical_violation(site, axe_source):
    driver = site["driver"]
    driver.set_script_timeout(60)
    problems, report = [], {}
    pages = [(p, False) for p in site["public"]] + [(p, True) for p in site["agent"]]
    for (name, path, shots), agent in pages:
        if agent and name == "agent-queue":
            log_in(site)  # the login page was checked logged out
        fit(driver, PHONE)
        width, violations = check_page(driver, axe_source, site["url"] + path)
        if name in TYPED:  # what the page's script shows after typing is checked too, and in the screenshots
            field, text, shown = TYPED[name]
            box = driver.find_element("css selector", field)
            if name == "instant-en" and box.get_attribute("role") != "combobox":
                problems.append("instant-en: the search box is not a combobox (instant.js not loaded)")
                continue
            box.send_keys(text)
            wait_for(driver, shown)
            width, violations = driver.execute_script(OVERFLOW_JS), driver.execute_async_script(AXE_RUN_JS)
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        report[name] = {"url": path, "viewport": PHONE[0], "serious_or_critical": len(serious),
                        "by_impact": {i: sum(v["nodes"] for v in violations if v["impact"] == i)
                                      for i in ("critical", "serious", "moderate", "minor")},
                        "violations": violations}
        if width["scroll"] > width["width"]:
            problems.append(f"{name}: {width['scroll']} px wide at {width['width']} px: {width['offenders']}")
        problems += [f"{name}: axe {v['impact']} {v['id']} ({v['help']}) on {v['targets']}" for v in serious]
        if shots:
            screenshot(driver, name, PHONE[0])
            fit(driver, DESKTOP)
            screenshot(driver, name, DESKTOP[0])
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "axe.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    assert not problems, "\n".join(problems)
    assert len(report) == len(pages) and all(r["serious_or_critical"] == 0 for r in report.values())


def test_every_shipped_article_fits_a_phone(site, tmp_path):
    """All the shipped knowledge base's articles (tables, code, TXIDs, URLs in Chinese text) rendered from their
    Markdown as article.html lays them out (the layout, card, body and contents box, with the real style.css),
    one after another on one page, measured at 390 px."""
    from kb.articles import load_articles
    from kb.render import render_markdown

    articles = load_articles(ROOT / "articles").articles
    assert len(articles) > 200
    css = (ROOT / "webapp" / "static" / "style.css").as_uri()
    blocks = []
    for a in articles:
        html = render_markdown(a.body)
        toc = "".join(f"<li><a href='#{anchor}'>{anchor}</a></li>" for anchor in re.findall(r'<h2 id="([^"]+)"', html))
        blocks.append(f'<div class="article-layout" data-article="{a.id}"><article class="article"><h1 lang="{a.locale}">'
                      f'{a.title}</h1><p class="article-meta">Updated {a.updated} · Also in: <a href="#">English</a></p>'
                      f'<div class="article-body" lang="{a.locale}">{html}</div></article>'
                      f'<aside class="toc"><h2>On this page</h2><ul>{toc}</ul></aside></div>')
    page = tmp_path / "articles.html"
    page.write_text(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
                    f'content="width=device-width, initial-scale=1"><link rel="stylesheet" href="{css}"></head><body>'
                    f'<main id="content" class="wrap">{"".join(blocks)}</main></body></html>', encoding="utf-8")
    driver = site["driver"]
    fit(driver, PHONE)
    driver.get(page.as_uri())
    assert driver.execute_script("return getComputedStyle(document.querySelector('.article')).borderTopStyle") == "solid"
    width = driver.execute_script(OVERFLOW_JS)
    assert width["scroll"] <= width["width"], width["offenders"]


def test_the_skip_link_is_the_first_thing_tab_reaches_and_moves_focus_to_the_content(site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = site["driver"]
    log_in(site)
    fit(driver, PHONE)
    for path, label in [("/articles/withdrawal-pending-review-en?lang=ko", "본문으로 건너뛰기"), ("/agent/", "Skip to content")]:
        driver.get(site["url"] + path)
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        link = driver.switch_to.active_element
        assert link.get_attribute("class") == "skip-link" and link.text == label
        box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.top, r.left, r.width]", link)
        assert box[0] >= 0 and box[1] >= 0 and box[2] > 20  # shown on screen once focused
        link.send_keys(Keys.ENTER)
        assert driver.switch_to.active_element.get_attribute("id") == "content"
        assert driver.current_url.endswith("#content")


def test_the_language_switch_reloads_the_page_on_change_and_keeps_the_query(site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = site["driver"]
    driver.get(site["url"] + "/search?q=" + quote("充值未到账") + "&lang=en")
    assert not [b for b in driver.find_elements(By.CSS_SELECTOR, ".lang-form button") if b.is_displayed()]
    Select(driver.find_element(By.ID, "lang")).select_by_value("ja")
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja")
    assert "q=%E5%85%85%E5%80%BC" in driver.current_url and "lang=ja" in driver.current_url
    assert driver.find_element(By.CSS_SELECTOR, "input[name=q]").get_attribute("value") == "充值未到账"


def test_suggestions_on_the_ticket_form_carry_the_language_of_their_article(site):
    from selenium.webdriver.common.by import By

    driver = site["driver"]
    driver.get(site["url"] + "/support/new?lang=en")
    driver.find_element(By.ID, "subject").send_keys("我的USDT充值两小时还没到账")
    first = wait_for(driver, '#suggestions .suggestion[data-article="deposit-not-credited-zh"]')
    assert first.find_element(By.CSS_SELECTOR, "a.result-title").get_attribute("lang") == "zh-CN"
    assert first.find_element(By.CSS_SELECTOR, ".snippet").get_attribute("lang") == "zh-CN"
    assert first.find_element(By.CSS_SELECTOR, "button.solved").get_attribute("lang") in ("", None)  # the page's


# -- without a browser: the no-JS language switch and the lang attributes in the HTML -----------------------------

FORM = re.compile(r'<form class="lang-form" method="get" action="([^"]*)">(.*?)</form>', re.S)


def test_the_language_switch_works_without_javascript(client):
    page = client.get("/search", query_string={"q": "deposit not arrived", "lang": "en"}).get_data(as_text=True)
    action, form = FORM.search(page).groups()
    assert re.search(r'<noscript><button type="submit" class="lang-go">Change language</button></noscript>', form)
    assert "✓" not in page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert fields == {"q": "deposit not arrived"}
    resp = client.get(action, query_string={**fields, "lang": "ko"})  # what the button sends
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and '<html lang="ko">' in html
    assert '<button type="submit" class="lang-go">언어 변경</button>' in html and 'value="deposit not arrived"' in html


def test_text_in_another_language_than_the_page_carries_its_lang(client):
    search = client.get("/search", query_string={"q": "充值未到账", "lang": "en"}).get_data(as_text=True)
    assert re.search(r'<q lang="zh-CN">充值未到账</q>', search)
    assert re.search(r'<a class="result-title" href="/articles/deposit-not-credited-zh[^"]*" lang="zh-CN">', search)
    assert re.search(r'<p class="snippet" lang="zh-CN">', search)
    home = client.get("/?lang=ko").get_data(as_text=True)
    assert re.search(r'hreflang="en" lang="en">', home) and '<span class="badge" lang="en">English</span>' in home
    assert '<option value="ko" lang="ko" selected>한국어</option>' in home
    article = client.get("/articles/withdrawal-pending-review-en?lang=zh-CN").get_data(as_text=True)
    assert '<h1 lang="en">' in article and '<div class="article-body" lang="en">' in article
    assert 'hreflang="zh-CN" lang="zh-CN">简体中文</a>' in article  # "also in"
    assert '<article class="article">' in article  # the meta line and the vote form are in the page's language
