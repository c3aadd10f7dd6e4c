"""A person signs in to the admin in a real browser and sees only what their role allows."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_payments_reviewer_signs_in_and_sees_payments_but_not_staff_admin(
    live_server, page, admin_login, make_staff, brand
):
    reviewer = make_staff("Payments reviewer", brands=[brand])

    admin_login(reviewer)

    content = page.locator("#content")
    assert content.locator("a[href='/admin/payments/payment/']").count() >= 1
    assert content.locator("a[href='/admin/tenants/staffuser/']").count() == 0
    assert page.goto(f"{live_server.url}/admin/tenants/staffuser/").status == 403


def test_a_first_sign_in_sets_up_the_second_factor_under_the_csp(live_server, page, make_staff, brand):
    """The enrolment in a browser: QR code shown (no CSP violation), the key typed into
    "the app", its code confirms, the recovery codes are shown once, then the admin."""
    from base64 import b32decode

    from django_otp.oath import totp

    from tests.browser.conftest import PASSWORD

    agent = make_staff("Support agent", brands=[brand])
    agent.set_password(PASSWORD)
    agent.save(update_fields=["password"])
    violations = []
    page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/second-factor/enrol/**")
    qr_loaded = page.eval_on_selector("img.pam-otp-qr", "img => img.complete && img.naturalWidth > 0")
    secret = page.inner_text("#otp-secret").replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_token", str(totp(key)).zfill(6))
    page.click("#otp-enrol-form input[type=submit]")
    codes = page.locator("#otp-recovery-codes li").all_inner_texts()
    page.click("#otp-continue")
    page.wait_for_url(f"{live_server.url}/admin/")

    assert qr_loaded
    assert len(codes) == 10
    assert violations == []
