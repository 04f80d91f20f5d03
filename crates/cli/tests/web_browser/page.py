"""The web page in a real browser (headless Chromium through Selenium and
Debian's chromedriver), against a running hermod whose fake model answers
the first message with Markdown (a code block and a table), slowly, and the
second so slowly that it is stopped.

Run by crates/cli/tests/web_browser.rs:

    page.py --url http://127.0.0.1:PORT --key KEY [--token TOKEN] [--flows chat,dashboard]
            [--chromedriver /usr/bin/chromedriver] [--screenshot docs/web-chat.png]

Each flow prints `ok: <what>` as it passes; any failure raises, with the
page's state, and the exit status is not 0. Every wait is generous (a slow
machine), and nothing is timed.
"""

import argparse
import base64
import os
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 60  # seconds; generous on purpose


def browser(chromedriver):
    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"  # Debian's
    # Debian's chromedriver, never one downloaded by Selenium Manager.
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    # The page itself 1280x800, whatever the window's own bars take.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


def wait(driver, condition, what, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def visible(driver, css):
    return wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, css)), css)


def one(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css)


def many(driver, css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def sign_in(driver, url, key):
    driver.get(url + "/")
    visible(driver, "#login")
    assert not one(driver, "#app").is_displayed()
    field = one(driver, "#login-key")
    field.send_keys("not-the-key-0123456789")
    one(driver, "#login-submit").click()
    error = visible(driver, "#login-error")
    wait(driver, lambda d: error.text.strip() != "", "the sign-in error's text")
    assert "not accepted" in error.text, error.text
    print("ok: a wrong key shows #login-error")
    field.clear()
    field.send_keys(key)
    one(driver, "#login-submit").click()
    visible(driver, "#app")
    wait(driver, EC.invisibility_of_element_located((By.ID, "login")), "#login hidden")
    visible(driver, "#chat-view")
    # The key stays in sessionStorage only: not in the URL, not in a cookie.
    assert key not in driver.current_url
    assert not driver.get_cookies(), driver.get_cookies()
    print("ok: signed in")


def erase(field):
    """Empties a field as a person does (`clear()` fires no input event)."""
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)


def send(driver, text):
    composer = one(driver, "#composer")
    composer.clear()
    composer.send_keys(text)
    composer.send_keys(Keys.ENTER)


def replies(driver):
    return many(driver, "#messages .message.assistant")


# Markdown that must not become active HTML.
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "[x](https://a.example\"onclick=\"alert(1))",
    "[`code` <b>](https://a.example)",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "| <iframe src=x> | b |\n|---|---|\n| <svg onload=alert(1)> | c |",
    "> <a href=\"javascript:alert(1)\">quoted</a>",
    "https://a.example/<script>",
    # An image or code span kept aside must not be restored inside a link's URL.
    "[x](https://a![y](data:image/png;base64,AAAA/onmouseover=location=name//))",
    "[x](https://a`c`)",
    "![`c\"onerror=alert(1)`](data:image/png;base64,AAAA)",
    "\u00000\u0000[x](https://a\u00000\u0000)`\" onclick=alert(1) \"`",
]

INERT_CHECK = """
const html = window.hermodMarkdown.render(arguments[0]);
const doc = new DOMParser().parseFromString('<div>' + html + '</div>', 'text/html');
const bad = [];
for (const node of doc.body.querySelectorAll('*')) {
  if (/^(script|iframe|object|embed|style|svg|form|input)$/i.test(node.tagName)) bad.push(node.tagName);
  for (const attr of node.attributes) {
    if (/^on/i.test(attr.name) || /^\\s*javascript:/i.test(attr.value) || /<(img|code)\\b|\\u0000/i.test(attr.value)) {
      bad.push(attr.name + '=' + attr.value);
    }
  }
}
return bad;
"""


def markdown_is_inert(driver):
    # The check itself sees active HTML when it is there.
    raw = INERT_CHECK.replace("window.hermodMarkdown.render(arguments[0])", "arguments[0]")
    assert driver.execute_script(raw, HOSTILE[0]) == ["onerror=alert(1)"]
    assert driver.execute_script(raw, HOSTILE[2].replace("[x](javascript:alert(1))", '<a href="javascript:x">x</a>'))
    assert driver.execute_script(raw, '<a href="https://a<img src=x>">x</a>')
    for source in HOSTILE:
        bad = driver.execute_script(INERT_CHECK, source)
        assert not bad, f"{source!r} rendered {bad}"
    print("ok: hostile Markdown renders inert")


def busy_flow(driver, url, key):
    """While the one turn the server runs at once streams (the gateway has
    API_SERVER_MAX_CONCURRENT_RUNS=1), a message from another tab is refused
    with 429: the page says the server is busy and to retry."""
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        driver.get(url + "/")
        visible(driver, "#login")
        one(driver, "#login-key").send_keys(key)
        one(driver, "#login-submit").click()
        visible(driver, "#chat-view")
        send(driver, "Are you free?")
        wait(driver, lambda d: replies(d), "the refused reply")
        failed = replies(driver)[-1]
        wait(driver, lambda d: "failed" in failed.get_attribute("class"), "the refused reply marked failed")
        said = failed.find_element(By.CSS_SELECTOR, ".note").text
        assert "busy" in said and "retry" in said, said
        assert one(driver, "#send").is_enabled(), "the message can be sent again"
        print("ok: a refused turn (429) says the server is busy, retry")
    finally:
        driver.close()
        driver.switch_to.window(first)


def chat_flow(driver, screenshot, url, token):
    markdown_is_inert(driver)
    # A new chat; the reply streams in and is rendered from Markdown.
    one(driver, "#new-chat").click()
    send(driver, "Show me a code block and a table")
    wait(driver, lambda d: len(many(d, "#messages .message.user")) == 1, "the user's message")
    reply = wait(driver, lambda d: (replies(d) or [None])[-1], "a reply")
    wait(
        driver,
        lambda d: "streaming" in reply.get_attribute("class") and reply.text.strip() != "",
        "the first words of the reply while it streams",
    )
    assert one(driver, "#stop").is_enabled(), "#stop is enabled while a reply streams"
    print("ok: the reply streams in (.streaming, with text)")
    wait(driver, lambda d: "streaming" not in reply.get_attribute("class"), "the reply's end")
    assert not one(driver, "#stop").is_enabled(), "#stop is disabled once the reply ended"
    code = reply.find_elements(By.CSS_SELECTOR, ".content pre code")
    assert code and "fn main()" in code[0].text, reply.get_attribute("innerHTML")
    cells = [c.text for c in reply.find_elements(By.CSS_SELECTOR, ".content table td")]
    assert "hermod" in cells and "Rust" in cells, cells
    assert reply.find_elements(By.CSS_SELECTOR, ".content strong"), "bold text is rendered"
    # The Markdown's HTML came out as text, not markup.
    assert not driver.find_elements(By.CSS_SELECTOR, "#messages .content script")
    assert "Tags like <b> show as text." in reply.text, reply.text
    assert not reply.find_elements(By.CSS_SELECTOR, ".content b"), "<b> stays text"
    print("ok: the reply is rendered from Markdown (code block, table)")
    reasoning = reply.find_element(By.CSS_SELECTOR, "details.reasoning")
    assert "A table, then code." not in reply.find_element(By.CSS_SELECTOR, ".content").text
    assert reasoning.get_attribute("open") is None, "the reasoning is folded away"
    reasoning.find_element(By.TAG_NAME, "summary").click()
    assert "A table, then code." in reasoning.text, reasoning.text
    reasoning.find_element(By.TAG_NAME, "summary").click()
    print("ok: the model's reasoning is shown apart, folded")

    # The new conversation is in the list, and search finds it.
    item = visible(driver, "#session-list .session-item.active")
    session = item.get_attribute("data-id")
    assert session, "the active conversation has its id"
    search = one(driver, "#session-search")
    search.send_keys("no conversation says this")
    wait(driver, lambda d: not many(d, "#session-list .session-item"), "a search with no match")
    erase(search)
    search.send_keys("code block")
    wait(
        driver,
        lambda d: [i.get_attribute("data-id") for i in many(d, "#session-list .session-item")] == [session],
        "the search to find the conversation",
    )
    assert one(driver, "#session-list .session-item .snippet mark").text.lower() in ("code", "block")
    erase(search)
    wait(driver, lambda d: not many(d, "#session-list .snippet"), "the whole list again")
    print("ok: the conversation is listed and found by search")

    if screenshot:
        driver.execute_script("document.activeElement.blur()")
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        assert driver.save_screenshot(screenshot), f"cannot write {screenshot}"
        print(f"ok: screenshot saved to {screenshot}")

    # Stopping a slow reply: it ends, marked stopped.
    send(driver, "Tell me a very long story")
    wait(driver, lambda d: len(replies(d)) == 2, "the second reply")
    slow = replies(driver)[-1]
    wait(
        driver,
        lambda d: "streaming" in slow.get_attribute("class") and slow.text.strip() != "",
        "the slow reply's first words",
    )
    busy_flow(driver, url, token)
    one(driver, "#stop").click()
    wait(driver, lambda d: "streaming" not in slow.get_attribute("class"), "the stopped reply's end")
    assert "stopped" in slow.get_attribute("class"), slow.get_attribute("class")
    assert "Stopped" in slow.find_element(By.CSS_SELECTOR, ".note").text
    assert not one(driver, "#stop").is_enabled()
    assert one(driver, "#send").is_enabled()
    print("ok: #stop ends a streaming reply, marked stopped")

    # A slash command is a message; the gateway answers it.
    send(driver, "/help")
    wait(driver, lambda d: len(replies(d)) == 3, "the answer to /help")
    helped = replies(driver)[-1]
    wait(driver, lambda d: "streaming" not in helped.get_attribute("class"), "the end of /help's answer")
    assert "/new" in helped.text and "echo" not in helped.text, helped.text
    print("ok: /help is answered by the gateway")

    approval_flow(driver)
    attach_flow(driver)

    # Opening the conversation again loads its messages from the server.
    one(driver, "#new-chat").click()
    wait(driver, lambda d: not many(d, "#messages .message"), "an empty new chat")
    one(driver, f'#session-list .session-item[data-id="{session}"]').click()
    wait(
        driver,
        lambda d: any("fn main()" in m.text for m in replies(d)),
        "the stored conversation to load",
    )
    users = [m.text for m in many(driver, "#messages .message.user")]
    assert users[0] == "Show me a code block and a table", users
    print("ok: opening a conversation loads its messages")


def approval_flow(driver):
    """The model runs a dangerous command: the page asks, and denies it."""
    before = len(replies(driver))
    send(driver, "Clean up the build directory")
    wait(driver, lambda d: len(replies(d)) == before + 1, "the reply")
    reply = replies(driver)[-1]
    prompt = wait(
        driver,
        lambda d: (reply.find_elements(By.CSS_SELECTOR, ".approval[data-request-id]") or [None])[0],
        "the approval prompt",
    )
    choices = [b.get_attribute("data-choice") for b in prompt.find_elements(By.CSS_SELECTOR, "button[data-choice]")]
    assert choices == ["once", "session", "always", "deny"], choices
    assert "rm -rf build" in prompt.text, prompt.text
    prompt.find_element(By.CSS_SELECTOR, 'button[data-choice="deny"]').click()
    wait(driver, lambda d: "Denied" in prompt.find_element(By.CSS_SELECTOR, ".approval-status").text, "the denial")
    wait(driver, lambda d: "streaming" not in reply.get_attribute("class"), "the reply's end")
    assert "left the build directory alone" in reply.text, reply.text
    print("ok: an approval request is answered from the page")


# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def attach_flow(driver):
    """An image and a text file attached: the image shown as a thumbnail,
    the file as a named chip; the model gets both (checked by the test)."""
    folder = tempfile.mkdtemp()
    image = os.path.join(folder, "dot.png")
    notes = os.path.join(folder, "notes.txt")
    with open(image, "wb") as f:
        f.write(PNG)
    with open(notes, "w") as f:
        f.write("the attached notes say: pelican\n")
    before = len(replies(driver))
    field = one(driver, "#attach")
    field.send_keys(image)
    wait(driver, lambda d: len(many(d, "#attachments .pending")) == 1, "the image waiting to be sent")
    field.send_keys(notes)
    wait(driver, lambda d: len(many(d, "#attachments .pending")) == 2, "the file waiting to be sent")
    send(driver, "What is in these?")
    wait(driver, lambda d: len(replies(d)) == before + 1, "the answer about the files")
    answer = replies(driver)[-1]
    wait(driver, lambda d: "streaming" not in answer.get_attribute("class"), "its end")
    sent = many(driver, "#messages .message.user")[-1]
    thumb = sent.find_element(By.CSS_SELECTOR, "img.thumb")
    assert thumb.get_attribute("src").startswith("data:image/png;base64,"), thumb.get_attribute("src")[:40]
    assert sent.find_element(By.CSS_SELECTOR, ".file-chip").text == "notes.txt"
    assert not many(driver, "#attachments .pending"), "sent attachments are cleared"
    print("ok: an image and a text file are attached and shown")


def dashboard_flow(driver, stranger):
    one(driver, "#nav-dashboard").click()
    visible(driver, "#dashboard-view")
    assert driver.current_url.endswith("/dashboard"), driver.current_url
    assert not one(driver, "#chat-view").is_displayed()

    # The stranger's pairing request, approved from the page.
    row_css = '#pairings .pairing[data-platform="telegram"]'
    row = visible(driver, row_css)
    if stranger:
        assert any(who in row.text for who in stranger.split("|")), row.text
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    wait(driver, lambda d: not many(d, row_css), "the pairing request to go")
    visible(driver, "#pairings-empty")
    print("ok: a pairing request is approved from the dashboard")

    # Pausing and resuming a platform.
    platform = '#platforms .platform[data-platform="telegram"]'
    state = visible(driver, platform + " .state")
    wait(driver, lambda d: state.text.strip() == "connected", "telegram connected")
    one(driver, platform + " button.pause").click()
    wait(
        driver,
        lambda d: one(d, platform + " .state").text.strip() == "paused",
        "telegram shown paused",
    )
    print("ok: a platform is paused from the dashboard")
    visible(driver, platform + " button.resume").click()
    wait(
        driver,
        lambda d: one(d, platform + " .state").text.strip() == "connected",
        "telegram shown connected again",
    )
    print("ok: a platform is resumed from the dashboard")

    # Back to the chat through the navigation.
    one(driver, "#nav-chat").click()
    visible(driver, "#chat-view")
    assert not one(driver, "#dashboard-view").is_displayed()


def refused_flow(driver, key):
    """A key the server no longer takes (a token expired): the next request
    is refused and the page goes back to sign-in, saying why. Then signing
    in again with `key` (a token from `hermod web token`)."""
    driver.execute_script("sessionStorage.setItem('hermod.key', 'expired-token-0123456789')")
    one(driver, "#session-search").send_keys("anything")
    visible(driver, "#login")
    error = visible(driver, "#login-error")
    assert "sign in again" in error.text, error.text
    assert not one(driver, "#app").is_displayed()
    print("ok: a refused key goes back to sign-in")
    field = one(driver, "#login-key")
    field.send_keys(key)
    one(driver, "#login-submit").click()
    visible(driver, "#app")
    visible(driver, "#chat-view")
    print("ok: signed in with a token")


def sign_out(driver):
    one(driver, "#logout").click()
    visible(driver, "#login")
    assert not one(driver, "#app").is_displayed()
    driver.refresh()
    visible(driver, "#login")
    print("ok: signing out forgets the key")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", default="", help="a sign-in token, to sign in with the second time")
    parser.add_argument("--flows", default="chat,dashboard")
    parser.add_argument("--stranger", default="")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--screenshot", default="")
    args = parser.parse_args()
    flows = set(args.flows.split(","))
    driver = browser(args.chromedriver)
    try:
        sign_in(driver, args.url, args.key)
        if "chat" in flows:
            chat_flow(driver, args.screenshot, args.url, args.token or args.key)
        if "dashboard" in flows:
            dashboard_flow(driver, args.stranger)
        refused_flow(driver, args.token or args.key)
        sign_out(driver)
        # The browser logs the refusals the test causes on purpose: the
        # wrong key's 401s and the busy server's 429.
        expected = ("status of 401", "status of 429")
        errors = [
            entry
            for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE" and not any(e in entry.get("message", "") for e in expected)
        ]
        assert not errors, f"errors in the browser's console: {errors}"
        print("ok: no errors in the console")
    except Exception:
        traceback.print_exc()
        try:
            print("--- page at failure:", driver.current_url)
            print(driver.find_element(By.TAG_NAME, "body").get_attribute("innerHTML")[:6000])
            print("--- console:", driver.get_log("browser"))
        except Exception as e:  # the browser itself may be gone
            print("(no page state:", e, ")")
        return 1
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
