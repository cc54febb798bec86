"""The HTML report opened in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed by scripts/setup) driven by Selenium, with no network.

Where the browser is missing the tests skip, except in CI (CI=true), where they fail: a
report nobody opened is not tested.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipsecsim.config.loader import load_scenario
from ipsecsim.report.html import write
from ipsecsim.report.model import build
from ipsecsim.sim.runner import simulate

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1500,1800"]


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} is not installed (scripts/setup installs Debian's chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    why = _missing()
    if why is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the browser tests must run in CI: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    profile = tempfile.mkdtemp(prefix="ipsecsim-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else str(shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=opts, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver, result, tmp: Path):  # type: ignore[no-untyped-def]
    page = tmp / f"{result.scenario.name}.html"
    write(page, build(result))
    driver.get(page.as_uri())
    assert driver.find_element("css selector", "body").get_attribute("data-ready") == "1"
    return page


@pytest.fixture(scope="module")
def rekeys():  # type: ignore[no-untyped-def]
    return simulate(load_scenario(str(SCENARIOS / "teach-ikev2-create-child-sa.yaml")))


def _severe(driver) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def test_the_report_loads_without_errors_and_draws_every_message(browser, rekeys, tmp_path) -> None:
    _open(browser, rekeys, tmp_path)
    assert _severe(browser) == []
    shown = browser.find_elements("css selector", "#sequence g.msg")
    assert len(shown) == len(rekeys.transmissions) == len(rekeys.select("message_sent"))
    labels = [g.find_element("css selector", "text.label").text for g in shown]
    # RFC 7296 1.2: the run begins IKE_SA_INIT request 0, response 0, IKE_AUTH request 1, response 1
    assert labels[:4] == ["IKE_SA_INIT request 0", "IKE_SA_INIT response 0", "IKE_AUTH request 1",
                          "IKE_AUTH response 1"]
    sent = [f"{e.get('exchange')} {'response' if e.get('response') else 'request'} {e.get('msg_id')}"
            for e in sorted(rekeys.select("message_sent"), key=lambda e: e.t)]
    assert [x.split("  (")[0] for x in labels] == sent
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_clicking_a_message_opens_its_decoded_payloads(browser, rekeys, tmp_path) -> None:
    _open(browser, rekeys, tmp_path)
    first = browser.find_elements("css selector", "#sequence g.msg")[0]
    first.click()
    detail = browser.find_element("id", "detail").text
    # IKE_SA_INIT request: SA, KE, Ni in the clear (RFC 7296 1.2); modp2048 is DH group 14 (RFC 3526 3)
    assert "IKE_SA_INIT request 0" in detail
    assert "DH group: 14" in detail
    assert "ENCR: aes128" in detail and "INTEG: sha256" in detail
    assert "NAT_DETECTION_SOURCE_IP" in detail
    # IKE_AUTH is encrypted (RFC 7296 3.14): the SK contents decrypted, IDi and AUTH inside, and SK_ei named
    browser.find_elements("css selector", "#sequence g.msg")[2].click()
    detail = browser.find_element("id", "detail").text
    assert "SK { ... } (RFC 7296 3.14), decrypted" in detail
    assert "ID_IPV4_ADDR 10.99.0.1" in detail and "SHARED_KEY_MIC" in detail
    browser.find_element("xpath", "//div[@id='detail']//summary[contains(., 'keys')]").click()
    assert "SK_ei" in browser.find_element("id", "detail").text
    browser.save_screenshot(str(tmp_path / "clicked.png"))


def test_the_timeline_has_one_bar_per_sa(browser, rekeys, tmp_path) -> None:
    _open(browser, rekeys, tmp_path)
    for peer in rekeys.peers:
        ike = browser.find_elements("css selector", f"#timeline g.sa-bar[data-peer='{peer}'][data-kind='ike']")
        child = browser.find_elements("css selector", f"#timeline g.sa-bar[data-peer='{peer}'][data-kind='child']")
        # every IKE SA is made by IKE_AUTH or by a rekey (RFC 7296 1.3.2), every CHILD SA likewise (1.3.3)
        assert len(ike) == len(rekeys.select("ike_sa_established", peer)) + len(rekeys.select("ike_sa_rekeyed", peer))
        assert len(child) == (len(rekeys.select("child_sa_established", peer))
                              + len(rekeys.select("child_sa_rekeyed", peer)))
        assert len(child) == 4  # the first CHILD SA and its rekeys at 2, 4 and 6 minutes (rekey_time 2m, 8 min)


def test_lost_messages_and_retransmissions_are_drawn_as_such(browser, tmp_path) -> None:
    result = simulate(load_scenario(str(SCENARIOS / "ikev2-lossy-link.yaml")))
    _open(browser, result, tmp_path)
    assert _severe(browser) == []
    lost = [tx for tx in result.transmissions if tx.lost is not None]
    again = [tx for tx in result.transmissions if tx.dgram.retransmit]
    assert lost and again, "the lossy-link scenario loses and retransmits messages"
    assert len(browser.find_elements("css selector", "#sequence g.msg.lost")) == len(lost)
    assert len(browser.find_elements("css selector", "#sequence g.msg.retransmit")) == len(again)
    assert "lost (" in browser.find_element("css selector", "#sequence g.msg.lost").text
    browser.save_screenshot(str(tmp_path / "lossy.png"))
