"""The requester's side of the mail loop in a real headless Chromium: a request filed in Chinese, the
acknowledgement and the agent's reply received by a real SMTP server (aiosmtpd), the link in the reply opened
and answered. Screenshots (desktop and 390 px) in test-output/."""
import re

import pytest

from browser import OUTPUT, LiveServer, wait_for, webdriver_session
from conftest import AGENT_TOKEN

pytestmark = pytest.mark.browser

LINK = re.compile(r"(https?://\S+/support/followup/\S+)")


@pytest.fixture(scope="module")
def mail_app(tmp_path_factory, shared_index, embedder, smtp):
    """Mail on, sent by the app's own sender thread."""
    from webapp import create_app

    app = create_app({
        "TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
        "KB_DB_PATH": str(tmp_path_factory.mktemp("browser_mail") / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN,
        "SECRET_KEY": "test", "KB_SMTP_URL": smtp.url, "KB_MAIL_FROM": "Coinharbor 客服 <support@help.example.test>",
    }, embedder=embedder)
    yield app
    app.extensions["kb_mail"].stop()
    app.extensions["kb"].db.dispose()


def test_the_requester_opens_the_link_from_the_reply_mail_and_answers_in_chinese(mail_app, smtp):
    from selenium.webdriver.common.by import By

    from webapp import db

    address = "zhang.wei@example.com"
    driver = webdriver_session()
    try:
        with LiveServer(mail_app) as live:
            # KB_PUBLIC_URL is the live server (known once it listens); the agent below answers through the test client
            mail_app.extensions["kb_mail"].public_base = live.url
            driver.get(f"{live.url}/support/new?lang=zh-CN")
            driver.find_element(By.ID, "subject").send_keys("提币一直在审核中")
            driver.find_element(By.ID, "description").send_keys("我昨天提了 500 USDT（TRC20），到现在还显示审核中，请帮忙看看。")
            driver.find_element(By.ID, "email").send_keys(address)
            driver.find_element(By.CSS_SELECTOR, "#ticket-form button[type=submit]").click()
            rid = int(wait_for(driver, "#request-number").text.lstrip("#"))

            ack = smtp.inbox.wait_for(address)[0].message
            assert ack["Subject"] == f"[Coinharbor 工单 #{rid}] 提币一直在审核中"
            agent = mail_app.test_client()
            assert agent.post("/agent/login", data={"name": "alice", "secret": AGENT_TOKEN}).status_code == 302
            answer = "你好，你的提币已通过审核并已发出，预计 10 分钟内到账。如仍未到账，请在此回复。"
            assert agent.post(f"/agent/requests/{rid}/reply", data={"reply": answer, "status": "answered"}).status_code == 302
            mail = smtp.inbox.wait_for(address, count=2)[1].message
            assert mail["In-Reply-To"] == ack["Message-ID"]
            link = LINK.search(mail.get_content()).group(1)
            assert link.startswith(f"{live.url}/support/followup/") and link.endswith("?lang=zh-CN")

            driver.get(link)  # as a mail client opens it: a browser with no session of this site would do the same
            thread = wait_for(driver, "#thread")
            assert "你的工单" in driver.find_element(By.TAG_NAME, "h1").text and answer in thread.text
            assert driver.find_element(By.ID, "request-status").get_attribute("data-status") == "answered"
            driver.find_element(By.ID, "followup-body").send_keys("收到了，谢谢！不过金额少了 1 USDT，是手续费吗？")
            driver.find_element(By.CSS_SELECTOR, "#followup-form button[type=submit]").click()
            notice = wait_for(driver, ".notice")
            assert "你的留言已添加" in notice.text
            assert "金额少了 1 USDT" in driver.find_element(By.ID, "thread").text
            assert driver.find_element(By.ID, "request-status").get_attribute("data-status") == "open"
            OUTPUT.mkdir(exist_ok=True)
            driver.set_window_size(1280, 1100)
            driver.execute_script("window.scrollTo(0, 0)")  # the page came back at its #thread-end anchor
            driver.save_screenshot(str(OUTPUT / "followup-zh-desktop.png"))
            driver.set_window_size(390, 844)
            driver.execute_script("window.scrollTo(0, 0)")
            width = "return document.documentElement.scrollWidth"
            assert driver.execute_script(width) <= driver.execute_script("return window.innerWidth")
            driver.save_screenshot(str(OUTPUT / "followup-zh-phone.png"))
    finally:
        driver.quit()
    with mail_app.app_context():
        assert db.get_request(rid)["status"] == "open"
        assert [m["author"] for m in db.messages_for(rid)] == ["agent", "requester"]
