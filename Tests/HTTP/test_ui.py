"""The playground page (`GET /ui`) in a real browser: Debian's chromium driven by selenium. Loads the page from the
running service, describes a Pro trial account, moves the time cursor across the trial's end and checks what the
page shows against the engine; screenshots at a desktop and a phone size go to .build/screenshots/."""
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
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


def test_trial_lifecycle_in_the_page(svc, browser):
    wait = WebDriverWait(browser, 20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(f"http://{svc.host}:{svc.port}/ui")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#plan option")) > 1)
    # A Pro trial from May 7 to May 21, an unverified user created at the start.
    set_value(browser, "plan", "pro")
    set_value(browser, "status", "trialing")
    set_value(browser, "period-start", "2026-05-07T12:00:00")
    set_value(browser, "period-end", "2026-05-21T12:00:00")
    set_value(browser, "created-at", "2026-05-07T12:00:00")
    set_value(browser, "verified-at", "")
    browser.find_element(By.ID, "compute").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#boundaries li")) >= 4)
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
