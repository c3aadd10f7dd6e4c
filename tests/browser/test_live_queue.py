"""The review queue, live, in a real browser served by a real ASGI server (Daphne, Redis
channel layer): a withdrawal flagged by another process appears on the reviewer's open
queue page within 2 seconds, without a reload; a colleague's claim shows who claimed it;
a decided item leaves; after a dropped connection the page catches up without duplicates."""

import time

import pytest
from django.test import Client

from apps.core.actors import system_actor
from apps.payments import services
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.browser.asgi_server import asgi_server, run_script
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PROVIDER = system_actor("browser-test")
ROWS = "#result_list tbody tr"


def _funded_player(brand):
    player = PlayerFactory(brand=brand, kyc_status="verified")
    wallet = wallet_get_or_create(player=player, currency_code="GBP")
    deposit_credit(
        wallet=wallet, amount=100_000, source="test", external_id=f"fund-{player.pk}", actor=PROVIDER
    )
    return player


def _sign_in(page, base_url: str, user) -> None:
    client = Client()
    staff_login(client, user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )


def _row(payment_id: int) -> str:
    return f'#result_list tbody tr:has(input.action-select[value="{payment_id}"])'


def test_a_withdrawal_flagged_by_another_process_appears_on_the_open_queue_within_2_seconds(
    page, make_staff, brand
):
    reviewer = make_staff("Payments reviewer", brands=[brand])
    colleague = make_staff("Payments reviewer", brands=[brand])
    waiting = services.withdrawal_request(
        player=_funded_player(brand),
        amount=2_000,
        currency="GBP",
        method="card",
        provider="paymentiq",
        actor=PROVIDER,
    )
    newcomer = _funded_player(brand)

    with asgi_server() as base_url:
        _sign_in(page, base_url, reviewer)
        page.goto(f"{base_url}/admin/payments/payment/")
        page.wait_for_selector("#pam-live-status.pam-live-live")
        assert page.locator(ROWS).count() == 1
        page.evaluate("window.__pamSameDocument = true")

        # Another process asks for a withdrawal the review rules hold.
        process = run_script("tests.browser.flag_withdrawal", str(newcomer.pk), "7500")
        page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 2", timeout=20_000)
        appeared = time.time()
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()
        payment_id, status, started = out.decode().split()
        assert status == "pending_review"
        assert page.locator(_row(int(payment_id))).count() == 1
        assert appeared - float(started) < 2.0, f"took {appeared - float(started):.2f} s"
        assert page.evaluate("window.__pamSameDocument") is True  # no reload

        # A colleague claims it: the row says who.
        services.review_claim(actor=colleague, payment_id=int(payment_id))
        claimed_by = page.locator(f"{_row(int(payment_id))} td.field-claimed_by")
        page.wait_for_function(
            "([sel, name]) => (document.querySelector(sel) || {}).textContent === name",
            arg=[f"{_row(int(payment_id))} td.field-claimed_by", colleague.username],
            timeout=5_000,
        )
        assert claimed_by.inner_text() == colleague.username

        # Decided, it leaves the queue.
        services.review_approve(actor=colleague, payment_id=int(payment_id), reason="checked")
        page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 1", timeout=5_000)
        assert page.locator(_row(waiting.pk)).count() == 1
        time.sleep(1.0)  # the page's refetch after the approval is over

        # The connection drops; meanwhile another item is flagged; the page reconnects,
        # catches up (the socket did not deliver it) and shows it once.
        page.evaluate("window.pamLiveQueue.drop(1500)")
        page.wait_for_selector("#pam-live-status.pam-live-reconnecting")
        late = services.withdrawal_request(
            player=_funded_player(brand),
            amount=3_000,
            currency="GBP",
            method="card",
            provider="paymentiq",
            actor=PROVIDER,
        )
        assert page.locator(_row(late.pk)).count() == 0  # not pushed to a closed socket
        page.wait_for_selector(_row(late.pk), timeout=15_000)
        assert page.locator("#pam-live-status").inner_text() == "live"
        time.sleep(1.0)
        assert page.locator(ROWS).count() == 2
        assert page.locator(_row(late.pk)).count() == 1
        assert page.evaluate("window.__pamSameDocument") is True
