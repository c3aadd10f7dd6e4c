"""Browser tests: Playwright driving Debian's chromium against a live server on 127.0.0.1.

Playwright cannot download its own browser here, so it launches /usr/bin/chromium (the
`chromium` package; .ci/run installs it when it is missing). Without it these tests are
skipped loudly outside CI and fail in CI, like the PostgreSQL tests.
"""

import os
import shutil
import time

import pytest
from django.db import connections

from tests.helpers.staff import totp_device, totp_now

CHROMIUM = os.environ.get("PAM_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-pass-2026"


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.environ.get("CI") == "true":
        return
    for item in items:
        if "tests/browser/" in str(item.fspath):
            reason = f"needs chromium at {CHROMIUM} (apt-get install chromium)"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def page(settings):
    """A fresh browser page. Playwright is started per test: its sync API runs an event loop
    in this thread, and Django refuses ORM calls while one runs, so the loop must be gone
    before the test database is flushed (the ORM calls the test makes between browser
    steps are allowed explicitly, and only while the browser runs)."""
    from playwright.sync_api import sync_playwright

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(15_000)
            yield page
            browser.close()
            # Inside Playwright's loop the ORM calls of the test get connections of their own
            # (Django's connections are per thread *and* per running loop): close them here,
            # or they outlive the test as idle sessions on the test database.
            connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def fresh_code(device) -> str:
    """The code the user's app shows, or (a code is accepted once) the next step's when the
    current one was used already; the device accepts one step either side."""
    device.refresh_from_db()
    reused = device.last_t >= int(time.time() - device.t0) // device.step
    return totp_now(device, offset_steps=1 if reused else 0)


@pytest.fixture
def reauth_in_browser(page):
    """reauth_in_browser(user): on the re-authentication page, confirm password and code."""

    def confirm(user) -> None:
        page.wait_for_selector("#reauth-form")
        page.fill("#id_password", PASSWORD)
        page.fill("#id_token", fresh_code(totp_device(user)))
        page.click("#reauth-form input[type=submit]")
        page.wait_for_load_state("load")

    return confirm


@pytest.fixture
def admin_login(live_server, page):
    """admin_login(user): sign `user` in through the admin's login form and the second-factor
    page, with the current code of the user's authenticator device (made if they have none),
    computed from its key as their app would."""

    def login(user) -> None:
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        device = totp_device(user)
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/second-factor/verify/**")
        # A code is accepted once: a second sign-in within the same 30 s takes the next
        # step's code (the device accepts one step either side).
        page.fill("#id_token", fresh_code(device))
        page.click("#otp-verify-form input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")

    return login
