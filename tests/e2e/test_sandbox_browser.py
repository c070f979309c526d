"""The sandbox in real headless Chromium (Debian's `chromium`, driven by Playwright): a fresh
`chatops serve` without Slack credentials; replay a few example mentions, claim one, reply with a
canned answer (which reaches the customer panel as the network shows it), escalate and resolve.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.processes import Serve

CHROMIUM = os.environ.get("CHATOPS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (.ci/run does) to run the browser test")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def sandbox_serve(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SLACK_", "CHATOPS_"))}
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        server = Serve(tmp_path, f"sqlite:///{tmp_path / 'sandbox.db'}", SLACK_POST_INTERVAL="0.05")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield server
    # Killed, not stopped: a clean stop waits out the page's long poll and the embedded Slack's
    # last answers (test_serve covers stopping), and this test is about what the page shows.
    server.kill()


def test_replay_claim_reply_escalate_resolve_in_the_browser(browser, sandbox_serve):
    ARTIFACTS.mkdir(exist_ok=True)
    log = Path(sandbox_serve.log.name)
    assert f"{sandbox_serve.url}/sandbox" in log.read_text()  # the printed URL
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(20_000)
    page.goto(f"{sandbox_serve.url}/sandbox?lang=en&autoplay=0")
    page.wait_for_selector("#live:has-text('live')")

    # replay four example mentions: T-1 (with its follow-up threaded), T-2, T-3
    page.fill("#replay-count", "4")
    page.select_option("#replay-speed", "20")
    page.click("#replay")
    page.wait_for_selector(".msg[data-ticket='T-3']")
    page.wait_for_selector("#replay-status:has-text('4')")
    assert page.locator(".msg[data-ticket]").count() == 3
    first = page.locator(".msg[data-ticket='T-1']")
    assert "T-1" in first.inner_text()
    page.wait_for_selector(".thread .msg:has-text('@mika_0312')")  # the follow-up, in T-1's thread
    page.screenshot(path=str(ARTIFACTS / "sandbox-1-replayed.png"), full_page=True)

    # claim T-2 (orange, L2) as the sample agent
    ticket = page.locator(".msg[data-ticket='T-2']")
    ticket.locator("button[data-action-id='ticket.claim']").click()
    ticket.locator("button[data-action-id='ticket.release']").wait_for()
    assert "Sato (agent)" in ticket.inner_text()

    # reply with a canned answer: the modal opens, the canned choice refills the text box
    ticket.locator("button[data-action-id='ticket.reply']").click()
    modal = page.locator("#modal-backdrop")
    modal.wait_for(state="visible")
    page.select_option("select[data-action-id='reply.canned']", "shipping-status")
    page.wait_for_function("document.querySelector(\"#modal-body textarea[data-action-id='text.input']\")"
                           "?.value.length > 0")
    canned = page.input_value("#modal-body textarea[data-action-id='text.input']")
    page.screenshot(path=str(ARTIFACTS / "sandbox-2-reply-modal.png"))
    page.click("#modal-submit")
    modal.wait_for(state="hidden")
    # (outside business hours the offline auto-reply is there too: pick the agent's answer)
    answer = page.locator(".post.out[data-ticket='T-2']").filter(has_text=canned.strip()[:20])
    answer.wait_for()
    assert canned.strip()[:20] in answer.inner_text()
    assert "@acme_jp" in answer.inner_text()  # sent from the account the ticket came in on

    # the customer answers in that conversation: the follow-up lands in the ticket's thread
    answer.click()
    page.wait_for_selector("#customer-reply-to:has-text('T-2')")
    page.fill("#customer-text", "Thanks, I will wait for it")
    page.click("#customer-form button[type=submit]")
    page.wait_for_selector(".msg[data-ticket='T-2'] + .thread :text('Thanks, I will wait for it')")

    # escalate to L3 with a hand-off note (required: an empty note is refused inside the modal)
    ticket.locator("button[data-action-id='ticket.escalate']").click()
    modal.wait_for(state="visible")
    page.fill("#modal-body textarea[data-action-id='note.input']", "Order 12345678 is lost; needs the carrier desk")
    page.click("#modal-submit")
    modal.wait_for(state="hidden")
    page.wait_for_selector(".msg[data-ticket='T-2'] + .thread :text('Order 12345678 is lost')")
    page.wait_for_function("document.querySelector(\".msg[data-ticket='T-2'] .bk-text\").innerText.includes('L3')")
    page.screenshot(path=str(ARTIFACTS / "sandbox-3-escalated.png"), full_page=True)

    # resolve with a note
    ticket.locator("button[data-action-id='ticket.resolve']").click()
    modal.wait_for(state="visible")
    page.fill("#modal-body textarea[data-action-id='note.input']", "Re-shipped")
    page.click("#modal-submit")
    modal.wait_for(state="hidden")
    ticket.locator("button[data-action-id='ticket.reopen']").wait_for()
    page.screenshot(path=str(ARTIFACTS / "sandbox-4-resolved.png"), full_page=True)

    # App Home lists the open tickets; a row opens the ticket, whose link leads back to its thread
    page.click("#home-link")
    rows = page.locator(".home button[data-action-id='home.open']")
    rows.first.wait_for()
    values = [rows.nth(i).get_attribute("data-value") for i in range(rows.count())]
    assert "T-3" in values and "T-2" not in values  # resolved tickets leave the queue
    page.locator(".home button[data-action-id='home.open'][data-value='T-3']").first.click()
    modal.wait_for(state="visible")
    assert "T-3" in page.inner_text("#modal-title")
    page.screenshot(path=str(ARTIFACTS / "sandbox-5-home.png"))
    page.click("#modal-body a[data-goto-ts]")
    modal.wait_for(state="hidden")
    page.wait_for_selector("#pane-title:has-text('#cs-sales')")

    # a slash command answers ephemerally; the Japanese UI is one switch away
    page.fill("#command-text", "/ticket mine")
    page.press("#command-text", "Enter")
    page.wait_for_selector(".ephemeral")
    page.select_option("#lang", "ja")
    page.wait_for_selector("#replay:has-text('サンプルを再生')")
    page.screenshot(path=str(ARTIFACTS / "sandbox-6-japanese.png"))

    # the message pane scrolls, never the page: the top bar and the composer stay on screen
    for text in ("/ticket mine", "/ticket help", "/oncall", "/ticket mine", "/ticket help", "/ticket mine"):
        page.fill("#command-text", text)
        page.press("#command-text", "Enter")
    page.wait_for_function("document.querySelectorAll('.ephemeral').length >= 7")
    top, composer = page.locator("header.top").bounding_box(), page.locator("#command").bounding_box()
    assert abs(top["y"]) < 1 and page.evaluate("window.scrollY") == 0
    assert composer["y"] + composer["height"] <= 1000 + 1
    page.screenshot(path=str(ARTIFACTS / "sandbox-7-after-commands.png"))
