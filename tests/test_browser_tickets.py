"""The ticket form and the agent view, driven in a real headless Chromium (Selenium + Debian's chromedriver)."""
import pytest

from browser import OUTPUT, LiveServer, wait_for, webdriver_session
from conftest import AGENT_TOKEN

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(app):
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def driver():
    d = webdriver_session()
    yield d
    d.quit()


def shot(driver, name):
    OUTPUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(OUTPUT / name))


def file_a_request_and_open_it_as_an_agent(server, driver, subject, description, email) -> str:
    """A user files a request on the form; an agent logs in and opens it. Returns its number."""
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/support/new?lang=en")
    driver.find_element(By.ID, "subject").send_keys(subject)
    driver.find_element(By.ID, "description").send_keys(description)
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "#ticket-form button[type=submit]").click()
    number = wait_for(driver, "#request-number").text.lstrip("#")
    driver.get(f"{server.url}/agent/login")
    driver.find_element(By.ID, "name").send_keys("alice")
    driver.find_element(By.ID, "secret").send_keys(AGENT_TOKEN)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, "table.queue")
    driver.get(f"{server.url}/agent/requests/{number}")
    return number


def test_typing_shows_suggestions_and_solved_records_a_deflection(app, server, driver):
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/support/new?lang=zh-CN")
    driver.find_element(By.ID, "subject").send_keys("我的USDT充值两小时还没到账")
    first = wait_for(driver, "#suggestions .suggestion")
    assert first.get_attribute("data-article") == "deposit-not-credited-zh"
    assert first.find_element(By.CSS_SELECTOR, "mark").text
    shot(driver, "ticket-suggestions-zh.png")
    with app.app_context():
        from webapp import db

        before = len(db.all_deflections())
    first.find_element(By.CSS_SELECTOR, "button.solved").click()
    done = wait_for(driver, "#deflected")
    shot(driver, "ticket-deflected-zh.png")
    with app.app_context():
        rows = db.all_deflections()
    assert len(rows) == before + 1 and rows[-1]["article_id"] == "deposit-not-credited-zh"
    assert "deposit-not-credited-zh" in rows[-1]["shown"]
    # the way back to the article, and an undo that brings the form back as it was
    assert "/articles/deposit-not-credited-zh" in done.find_element(By.CSS_SELECTOR, "a.back-to-article").get_attribute("href")
    done.find_element(By.CSS_SELECTOR, "button.undo").click()
    wait_for(driver, "#ticket-form .notice")
    assert driver.find_element(By.ID, "subject").get_attribute("value") == "我的USDT充值两小时还没到账"
    assert not driver.find_elements(By.ID, "deflected")
    with app.app_context():
        assert len(db.all_deflections()) == before  # taken back


def test_urgent_request_shows_emergency_steps_not_deflection(server, driver):
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/support/new?lang=en")
    driver.find_element(By.ID, "subject").send_keys("my account was hacked and someone withdrew my BTC")
    box = wait_for(driver, "#suggestions .emergency")
    assert "Freeze your account" in box.text
    assert not driver.find_elements(By.CSS_SELECTOR, "button.solved")
    shot(driver, "ticket-urgent-en.png")


def test_agent_inserts_an_internal_sop_passage(server, driver):
    from selenium.webdriver.common.by import By

    file_a_request_and_open_it_as_an_agent(server, driver, "Account hacked, please freeze it",
                                           "Someone logged in from another country. Freeze my account now.",
                                           "victim@example.com")
    sop = wait_for(driver, '.suggestion[data-article="sop-freeze-account-en"]')
    sop.find_element(By.CSS_SELECTOR, "button.insert").click()
    reply = driver.find_element(By.ID, "reply").get_attribute("value")
    assert "Agents freeze an account at once" in reply and "/articles/sop-freeze-account-en" not in reply
    shot(driver, "agent-insert-sop.png")


@pytest.mark.parametrize("lang, report, step", [
    ("ko", "카톡으로 상담원이라면서 코인을 보내래요", "계정을 동결"),
    ("ja", "公式を名乗るアカウントから資産を移すように言われた", "凍結"),
])
def test_a_scam_report_shows_the_emergency_steps_in_korean_and_japanese(server, driver, lang, report, step):
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/support/new?lang={lang}")
    driver.find_element(By.ID, "subject").send_keys(report)
    box = wait_for(driver, "#suggestions .emergency")
    assert step in box.text and not driver.find_elements(By.CSS_SELECTOR, "button.solved")
    shot(driver, f"ticket-scam-{lang}.png")


def test_an_agent_inserts_a_template_without_its_internal_note_and_used_keeps_the_draft(server, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    txid = "0x" + "cd34" * 16
    number = file_a_request_and_open_it_as_an_agent(
        server, driver, "Hacked: 0.5 BTC withdrawn", f"Someone withdrew 0.5 BTC from my account, tx {txid}. Freeze it.",
        "victim2@example.com")
    reply = wait_for(driver, "#reply")
    reply.clear()
    # the template section, found by the agent's own search, inserted with the request's values
    search = driver.find_element(By.CSS_SELECTOR, "#agent-search input[name=q]")
    search.send_keys("reply to the user we froze your account\n")
    template = wait_for(driver, '#agent-search-results .suggestion')
    template.find_element(By.CSS_SELECTOR, "button.insert").click()
    text = reply.get_attribute("value")
    assert "We froze your account" in text and txid in text and "0.5 BTC" in text and f"#{number}" in text
    assert "SEC-ONCALL" not in text and "{TXID}" not in text
    reply.send_keys("\nWe will write again within the hour.")
    draft = reply.get_attribute("value")
    driver.execute_script("window.notReloaded = true")
    used = driver.find_element(By.CSS_SELECTOR, '.suggestion[data-article="sop-freeze-account-en"] button[value=used]')
    used.click()
    WebDriverWait(driver, 10).until(lambda d: "chosen" in used.get_attribute("class"))
    assert driver.execute_script("return window.notReloaded") is True  # recorded without leaving the page
    assert reply.get_attribute("value") == draft
    driver.refresh()  # the draft is kept in the browser until it is sent
    assert wait_for(driver, "#reply").get_attribute("value") == draft
    shot(driver, "agent-template-inserted.png")
    driver.find_element(By.CSS_SELECTOR, "#reply-form button[type=submit]").click()
    status = driver.find_element(By.CSS_SELECTOR, ".reply-status")
    WebDriverWait(driver, 10).until(lambda d: "Reply saved" in status.text)
    assert status.text == f"Reply saved. Request #{number} is now answered."
    driver.refresh()  # the sent reply is in the thread; the box is empty for the next one, the browser's copy gone
    assert wait_for(driver, "#reply").get_attribute("value") == ""
    assert "We will write again within the hour." in driver.find_element(By.CSS_SELECTOR, ".message.agent .message-body").text
    assert driver.execute_script(f"return localStorage.getItem('kb-draft-{number}')") is None
