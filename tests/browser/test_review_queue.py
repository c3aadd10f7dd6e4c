"""The review queue in a real browser: a reviewer finds the most urgent item first, claims
it, approves it; a four-eyes withdrawal goes back to the queue for a second person, whose
approval releases it; a rejection without a reason is not possible from the page."""

import pytest

from apps.core.actors import system_actor
from apps.payments import services
from apps.payments.models import Payment, ReviewPolicy, Status
from apps.wallet.models import Wallet
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import PlayerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROVIDER = system_actor("browser-test")


@pytest.fixture
def queued(brand):
    """Two withdrawals under review: 50.00 GBP (first withdrawal) and 1,500.00 GBP (four eyes)."""
    ReviewPolicy.objects.create(brand=brand, four_eyes_above={"GBP": "1000.00"})
    player = PlayerFactory(brand=brand, kyc_status="verified", username="ada")
    wallet = wallet_get_or_create(player=player, currency_code="GBP")
    deposit_credit(wallet=wallet, amount=500_000, source="test", external_id="fund", actor=PROVIDER)
    small = services.withdrawal_request(
        player=player, amount=5_000, currency="GBP", method="card", provider="paymentiq", actor=PROVIDER
    )
    large = services.withdrawal_request(
        player=player, amount=150_000, currency="GBP", method="card", provider="paymentiq", actor=PROVIDER
    )
    return {"small": small, "large": large, "wallet": wallet}


def _open(page, live_server, payment) -> None:
    page.goto(f"{live_server.url}/admin/payments/payment/{payment.pk}/change/")
    page.wait_for_selector("#review-steps")


def _press(page, label: str, reason: str = "") -> None:
    form = page.locator("#review-steps form", has=page.locator(f"input[type=submit][value='{label}']"))
    if reason:
        form.locator("input[name=reason]").fill(reason)
    form.locator("input[type=submit]").click()
    page.wait_for_load_state("load")


def test_two_people_approve_a_four_eyes_withdrawal_through_the_admin(
    live_server, page, admin_login, reauth_in_browser, make_staff, brand, queued
):
    reviewer = make_staff("Payments reviewer", brands=[brand])
    officer = make_staff("Compliance officer", brands=[brand])
    large = queued["large"]

    # The queue lists both items; the reviewer opens the four-eyes one and takes it.
    admin_login(reviewer)
    page.goto(f"{live_server.url}/admin/payments/payment/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    _open(page, live_server, large)
    _press(page, "Claim")
    assert "is now in review" in page.locator(".messagelist").inner_text()
    # A large withdrawal: Approve first asks for password and code again, then the page
    # comes back and the reviewer presses Approve again.
    _press(page, "Approve", reason="documents checked")
    assert page.url.startswith(f"{live_server.url}/admin/second-factor/reauth/")
    assert large.approvals.count() == 0
    reauth_in_browser(reviewer)
    assert page.url == f"{live_server.url}/admin/payments/payment/{large.pk}/change/"
    _press(page, "Approve", reason="documents checked")

    large.refresh_from_db()
    assert (large.status, large.approvals.count()) == (Status.PENDING_REVIEW, 1)

    # The same person cannot give the second approval: the page says so.
    _press(page, "Claim")
    _press(page, "Approve")
    assert "another person must give the second approval" in page.locator(".messagelist").inner_text().lower()
    large.refresh_from_db()
    assert large.approvals.count() == 1
    _press(page, "Put back in the queue")

    # A second person (holding the large-withdrawal permission) approves it.
    page.context.clear_cookies()
    admin_login(officer)
    _open(page, live_server, large)
    _press(page, "Claim")
    _press(page, "Approve", reason="second pair of eyes")
    reauth_in_browser(officer)
    _press(page, "Approve", reason="second pair of eyes")

    large.refresh_from_db()
    wallet = Wallet.objects.get(pk=queued["wallet"].pk)
    assert large.status == Status.APPROVED
    assert sorted(large.approvals.values_list("staff__username", flat=True)) == sorted(
        [reviewer.username, officer.username]
    )
    assert wallet.reserved == 155_000  # both still reserved until paid out


def test_a_rejection_needs_a_reason_and_releases_the_money(
    live_server, page, admin_login, make_staff, brand, queued
):
    reviewer = make_staff("Payments reviewer", brands=[brand])
    small = queued["small"]
    admin_login(reviewer)
    _open(page, live_server, small)
    _press(page, "Claim")

    # The browser will not submit the form with the required reason empty.
    page.locator("#review-steps input[type=submit][value='Reject']").click()
    small.refresh_from_db()
    assert small.status == Status.IN_REVIEW

    _press(page, "Reject", reason="account holder mismatch")

    small.refresh_from_db()
    wallet = Wallet.objects.get(pk=queued["wallet"].pk)
    assert (small.status, small.decision_reason) == (Status.REJECTED, "account holder mismatch")
    assert wallet.reserved == 150_000
    assert Payment.objects.filter(status=Status.REJECTED).count() == 1
