"""The playground page (`GET /ui`) in a real browser: Debian's chromium driven by selenium. Loads the page from the
running service, describes a Pro trial account, moves the time cursor across the trial's end and checks what the
page shows against the engine; screenshots at a desktop and a phone size go to .build/screenshots/."""
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import REPO

SHOTS = REPO / ".build" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "the browser test needs Debian's chromium and chromium-driver (scripts/setup)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=ChromeService(driver_path), options=options)
    driver.set_window_size(1280, 800)
    yield driver
    driver.quit()


def set_value(driver, element_id, value):
    el = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))", el, value)


def cell(driver, table_id, first_cell):
    for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr"):
        tds = row.find_elements(By.TAG_NAME, "td")
        if tds and tds[0].text == first_cell:
            return [td.text for td in tds]
    return None


def describe_trial(svc, browser, wait):
    """Loads the page and describes a Pro trial from May 7 to May 21 with an unverified user created at the start."""
    browser.get(f"http://{svc.host}:{svc.port}/ui")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#plan option")) > 1)
    set_value(browser, "plan", "pro")
    set_value(browser, "status", "trialing")
    set_value(browser, "period-start", "2026-05-07T12:00:00")
    set_value(browser, "period-end", "2026-05-21T12:00:00")
    set_value(browser, "created-at", "2026-05-07T12:00:00")
    set_value(browser, "verified-at", "")
    browser.find_element(By.ID, "compute").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#boundaries li")) >= 4)


def test_trial_lifecycle_in_the_page(svc, browser):
    wait = WebDriverWait(browser, 20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 800)
    describe_trial(svc, browser, wait)
    ats = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#boundaries li button")]
    assert ats[:4] == ["2026-05-14T12:00:00Z", "2026-05-18T12:00:00Z", "2026-05-20T12:00:00Z", "2026-05-21T12:00:00Z"]

    def at(instant):
        set_value(browser, "cursor-at", instant)
        wait.until(lambda d: d.find_element(By.ID, "cursor-text").text.startswith(instant + "Z"))
        wait.until(lambda d: d.find_elements(By.ID, "stage"))

    # Day 13 (one day before the end): urgent, Pro features on; the unverified user is past the 7-day grace.
    at("2026-05-20T12:00:00")
    wait.until(lambda d: d.find_element(By.ID, "stage").text == "urgent")
    assert browser.find_element(By.ID, "cursor-text").text.endswith("(day 14 of the period)")
    assert cell(browser, "features-table", "psa_integration")[1] == "true"
    assert "email_not_verified" in cell(browser, "routes-table", "GET /api/v1/trees")[1]
    assert cell(browser, "routes-table", "GET /api/v1/billing/state")[1] == "allowed"
    browser.save_screenshot(str(SHOTS / "ui-1280x800-urgent.png"))

    # Across the trial's end: locked, Pro features off, the guard that decides is the subscription one.
    at("2026-05-21T12:00:00")
    wait.until(lambda d: d.find_element(By.ID, "stage").text == "expired")
    assert cell(browser, "features-table", "psa_integration")[1:] == ["false", "locked"]
    trees = cell(browser, "routes-table", "GET /api/v1/trees")
    assert "subscription_inactive" in trees[1] and trees[2] == "active_subscription"
    # The explain trace of a route, opened from the keyboard.
    row = browser.find_element(By.CSS_SELECTOR, '#routes-table tr[data-route="GET /api/v1/trees"]')
    row.send_keys(Keys.ENTER)
    wait.until(lambda d: "guards.active_subscription.requires" in d.find_element(By.ID, "trace").text)
    assert "guards.yaml:" in browser.find_element(By.ID, "trace").text
    browser.save_screenshot(str(SHOTS / "ui-1280x800.png"))

    # The pricing matrix, reached with the keyboard (arrow keys move between tabs).
    browser.find_element(By.ID, "tab-timeline").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: d.find_element(By.ID, "pricing").is_displayed())
    headers = [th.text.split("\n")[0] for th in browser.find_elements(By.CSS_SELECTOR, "#pricing-table thead th")]
    assert headers[:5] == ["Feature", "Free", "Starter", "Pro", "Enterprise"]
    assert browser.find_elements(By.CSS_SELECTOR, "#pricing-table td.diff")
    # The billing.stripe mapping: each plan's Stripe prices (Policies/billing.yaml).
    prices = cell(browser, "pricing-table", "Stripe prices\nbilling.stripe.prices")
    assert prices[1:5] == ["free_monthly", "starter_monthly\nstarter_annual",
                           "price_1PgafmB7WZ01zgkW6dKueIc5\npro_annual", "none"], prices
    browser.save_screenshot(str(SHOTS / "ui-1280x800-pricing.png"))

    # The guards view and its route matrix.
    browser.find_element(By.ID, "tab-pricing").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#matrix-table tbody tr")) >= 5)
    assert cell(browser, "matrix-table", "GET /api/v1/billing/state")[1] == "skip"

    # A phone-sized viewport: the same page, one column.
    browser.set_window_size(390, 844)
    browser.find_element(By.ID, "tab-guards").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: d.find_element(By.ID, "timeline").is_displayed())
    browser.save_screenshot(str(SHOTS / "ui-phone.png"))
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400


def lane(browser, key):
    """The segments of one lane of the drawn timeline: (text, class, left %, width %)."""
    segs = browser.find_elements(By.CSS_SELECTOR, f'#lanes .lane[data-key="{key}"] .seg')
    return [(e.text, e.get_attribute("class"), float(e.value_of_css_property("left")[:-2]),
             float(e.value_of_css_property("width")[:-2])) for e in segs]


def test_the_drawn_timeline(svc, browser):
    """The lifecycle drawn as lanes: stage, live, each feature and guard that changes; the cursor on them, a tooltip
    with the value and the rule that set it, the keyboard moving between boundaries, both sizes readable (no CSP
    violation: the page's script and style are allowed by their hashes)."""
    wait = WebDriverWait(browser, 20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 800)
    browser.get_log("browser")  # drop what earlier tests left
    describe_trial(svc, browser, wait)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#lanes .lane[data-key="guards.verified_email"]'))
    keys = [e.get_attribute("data-key") for e in browser.find_elements(By.CSS_SELECTOR, "#lanes .lane")]
    assert keys[:2] == ["subscription.stage", "subscription.live"]
    assert "features.psa_integration.value" in keys and "guards.active_subscription" in keys
    assert not any(k.startswith("features.") and k.endswith(".source") for k in keys)
    stage = lane(browser, "subscription.stage")
    assert [t for t, *_ in stage] == ["pristine", "warning", "urgent", "expired"]
    assert [c.split()[1] for _, c, *_ in stage] == ["ok", "warn", "hot", "no"]
    # Segments tile the lane in time order, none too narrow to read at this size.
    for (_, _, l1, w1), (_, _, l2, _) in zip(stage, stage[1:]):
        assert abs(l1 + w1 - l2) < 1.5
    track_width = browser.find_element(By.CSS_SELECTOR, "#lanes .lane-track").size["width"]
    assert min(w for *_, w in stage) >= 48 or track_width < 500
    guard = lane(browser, "guards.verified_email")
    assert [t for t, *_ in guard] == ["passes", "denies: email_not_verified"]
    # Boundaries are numbered on the axis, in order; clicking one moves the cursor there.
    marks = browser.find_elements(By.CSS_SELECTOR, "#lanes .bmark")
    assert [m.text for m in marks] == [str(i + 1) for i in range(len(marks))] and len(marks) >= 4
    marks[0].click()
    wait.until(lambda d: d.find_element(By.ID, "cursor-text").text.startswith("2026-05-14T12:00:00Z"))
    # The cursor is drawn where the guard's denying bar begins.
    x = browser.execute_script(
        "const s = document.querySelectorAll('#lanes .lane[data-key=\"guards.verified_email\"] .seg')[1];"
        "return [document.getElementById('cursor-line').getBoundingClientRect().left, s.getBoundingClientRect().left]")
    assert abs(x[0] - x[1]) < 4, x
    wait.until(lambda d: "current" in d.find_elements(
        By.CSS_SELECTOR, '#lanes .lane[data-key="guards.verified_email"] .seg')[1].get_attribute("class"))
    readout = browser.find_element(By.ID, "lane-readout").text
    assert "guard verified_email: denies: email_not_verified — since 2026-05-14 12:00Z" in readout, readout
    # The keyboard: → to the next boundary (the trial's warning stage), ← back.
    browser.find_element(By.ID, "lanes").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: d.find_element(By.ID, "cursor-text").text.startswith("2026-05-18T12:00:00Z"))
    wait.until(lambda d: "stage: warning" in d.find_element(By.ID, "lane-readout").text)
    browser.find_element(By.ID, "lanes").send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    wait.until(lambda d: d.find_element(By.ID, "cursor-text").text.startswith("2026-05-21T12:00:00Z"))
    browser.find_element(By.ID, "lanes").send_keys(Keys.ARROW_LEFT)
    wait.until(lambda d: d.find_element(By.ID, "cursor-text").text.startswith("2026-05-20T12:00:00Z"))
    browser.execute_script("document.getElementById('timeline-card').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "timeline-lanes-1280x800.png"))
    # Hover: the value, its interval and the rule that set it.
    browser.execute_script(
        "document.querySelector('#lanes .lane[data-key=\"guards.verified_email\"]').scrollIntoView({block: 'center'})")
    seg = browser.find_elements(By.CSS_SELECTOR, '#lanes .lane[data-key="guards.verified_email"] .seg')[1]
    ActionChains(browser).move_to_element(seg).perform()
    wait.until(lambda d: d.find_element(By.ID, "lane-tip").is_displayed())
    tip = browser.find_element(By.ID, "lane-tip").text
    assert "guard verified_email: denies: email_not_verified" in tip
    assert "user.email_verified or now < user.created_at + 7d" in tip and "2026-05-14 12:00Z" in tip, tip
    browser.save_screenshot(str(SHOTS / "timeline-lanes-hover-1280x800.png"))
    # A phone: the lanes stack their names above the bars and fit the width.
    browser.set_window_size(390, 844)
    browser.execute_script("document.querySelector('.lanes-figure figcaption').scrollIntoView()")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400
    stage = lane(browser, "subscription.stage")
    assert all(w > 0 for *_, w in stage)
    browser.save_screenshot(str(SHOTS / "timeline-lanes-phone.png"))
    violations = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert violations == []
