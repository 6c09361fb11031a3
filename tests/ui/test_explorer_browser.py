"""The /ui decision explorer in headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
driven by selenium): sign in with a token, search, open a decision, run a replay.

``make ui-test`` runs this module (``UI_TEST=1``); ``make test`` skips it. The gateway is a
real ``skein serve`` process serving a signed bundle, with a signed candidate that freezes
gpt-4o-mini in ``bundle.candidates_dir``. Screenshots of each step go to ``UI_ARTIFACTS``
(default ``artifacts/ui``); the browser's console must show no CSP violation or error.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.bundle.helpers import KID, workspace
from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, serve
from tests.support.upstream import FakeProvider

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("UI_TEST") != "1", reason="make ui-test runs this (UI_TEST=1)"),
]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("UI_ARTIFACTS", REPO / "artifacts" / "ui"))


@pytest.fixture
def gateway_url(
    tmp_path: Path, token_issuer_session: TokenIssuer, fake_provider: FakeProvider
) -> Iterator[str]:
    ws = workspace(tmp_path / "ws")
    ws.quiet_finance()  # no guard for finance: the page is under test, not the NER model
    serving = tmp_path / "serving.tar.gz"
    serving.write_bytes(ws.build("serving"))
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    ws.freeze_model()
    (candidates / "frozen.tar.gz").write_bytes(ws.build("frozen"))
    config = {
        "state_dir": tmp_path / "state",
        "bundle": {
            "source": "file",
            "path": serving,
            "trusted_keys": {KID: ws.write_public_key()},
            "candidates_dir": candidates,
        },
        "auth": {"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        "providers": {"openai": {"base_url": fake_provider.base_url}},
        "guard": {"enabled": False},
    }
    with serve(config, tmp_path) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def until(check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the page did not get there")
        time.sleep(0.1)


def test_sign_in_search_open_and_replay(
    gateway_url: str, browser: object, token_issuer_session: TokenIssuer
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import Select

    driver: WebDriver = browser  # type: ignore[assignment]
    alice = {"authorization": f"Bearer {token_issuer_session.mint(sub='alice', roles=['finance'])}"}
    for model, status in (("gpt-4o-mini", 200), ("gpt-4o-mini", 200), ("gpt-4o", 403)):
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(f"{gateway_url}/v1/chat/completions", json=body, headers=alice, timeout=30)
        assert response.status_code == status, response.text
    auditor = token_issuer_session.mint(sub="carol", roles=["auditor"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    driver.get(f"{gateway_url}/ui")
    assert driver.title == "Skein decision explorer"
    token = driver.find_element(By.ID, "token")
    token.send_keys(auditor, Keys.ENTER)  # the keyboard submits the form
    until(lambda: "frozen.tar.gz" in driver.find_element(By.ID, "candidate").text)

    driver.find_element(By.ID, "f-sub").send_keys("alice")

    def three_rows() -> bool:
        driver.find_element(By.ID, "search-button").click()
        time.sleep(0.2)
        return len(driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")) >= 3

    until(three_rows)
    driver.save_screenshot(str(ARTIFACTS / "1-search.png"))
    denied = next(
        row for row in driver.find_elements(By.CSS_SELECTOR, "#results tbody tr") if "deny" in row.text
    )
    assert "model_not_allowed" in denied.text
    button = denied.find_element(By.TAG_NAME, "button")
    button.send_keys(Keys.ENTER)  # opened from the keyboard, focus moves to the decision
    until(lambda: driver.find_element(By.ID, "detail").is_displayed())
    reasons = driver.find_element(By.ID, "detail-reasons").text
    assert "model gpt-4o is not allowed for roles finance" in reasons
    assert "decide" in driver.find_element(By.ID, "detail-timings").text
    assert driver.switch_to.active_element.get_attribute("id") == "detail-heading"
    driver.save_screenshot(str(ARTIFACTS / "2-decision.png"))

    Select(driver.find_element(By.ID, "candidate")).select_by_visible_text("frozen.tar.gz")
    driver.find_element(By.ID, "replay-button").click()
    summary = until(
        lambda: "would change" in (text := driver.find_element(By.ID, "replay-summary").text) and text
    )
    assert "Replayed 3 decisions" in str(summary) and "2 would change" in str(summary), summary
    changes = driver.find_elements(By.CSS_SELECTOR, "#replay-changes tbody tr")
    assert len(changes) == 2 and all("allow_to_deny" in row.text for row in changes)
    driver.save_screenshot(str(ARTIFACTS / "3-replay.png"))

    console = driver.get_log("browser")  # type: ignore[attr-defined]
    problems = [e["message"] for e in console if e["level"] == "SEVERE" or "Content Security" in e["message"]]
    assert not problems, problems
