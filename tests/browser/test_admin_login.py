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
