"""The PaymentIQ door under concurrency: real threads, real PostgreSQL transactions.

PaymentIQ retries on timeouts, so the same call can arrive several times at once. The
first claims the txId; the others wait for its commit and answer what it answered.
"""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from apps.core.actors import system_actor
from apps.payments.models import Payment, ProviderCall, ReviewPolicy
from apps.payments.providers.paymentiq.services import paymentiq_integration_configure
from apps.wallet.models import LedgerTransaction, Wallet
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import BrandFactory, OperatorFactory, PlayerFactory
from tests.payments.paymentiq.conftest import BASE, PIQ_IP, basic, deposit_body, withdrawal_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
USERNAME, PASSWORD = "piq-race", "a-long-race-password"


@pytest.fixture
def race(db):
    """A GB brand with an integration, an open review policy, and a player with 100.00 GBP."""
    brand = BrandFactory(operator=OperatorFactory(code="race-ops"), code="race-gb", jurisdiction="GB")
    ReviewPolicy.objects.create(
        brand=brand, review_first_withdrawal=False, review_method_mismatch=False, new_account_days=0
    )
    paymentiq_integration_configure(
        brand=brand,
        actor=system_actor("test"),
        auth_scheme="basic",
        basic_username=USERNAME,
        basic_password=PASSWORD,
        ip_allowlist=[PIQ_IP],
        active=True,
    )
    player = PlayerFactory(brand=brand, kyc_status="verified")
    wallet = wallet_get_or_create(player=player, currency_code="GBP")
    deposit_credit(
        wallet=wallet, amount=10_000, source="test", external_id="race-fund", actor=system_actor("t")
    )
    return player, wallet


def _all_at_once(action: str, bodies: list[dict]) -> list[dict]:
    barrier = threading.Barrier(len(bodies))
    replies: list = [None] * len(bodies)

    def send(i: int, body: dict) -> None:
        try:
            barrier.wait(timeout=10)
            response = Client().post(
                BASE + action,
                data=json.dumps(body),
                content_type="application/json",
                headers={"Authorization": basic(USERNAME, PASSWORD)},
                REMOTE_ADDR=PIQ_IP,
            )
            replies[i] = (response.status_code, json.loads(response.content))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            replies[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, body)) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(reply, tuple) for reply in replies), replies
    return replies


def test_the_same_withdrawal_authorize_sent_by_eight_threads_reserves_once(race):
    player, wallet = race
    body = withdrawal_body(player, tx_id="race-wd", amount="-30.00")

    replies = _all_at_once("authorize", [body] * THREADS)

    payment = Payment.objects.get(provider_reference="race-wd")
    expected = {
        "userId": str(player.pk),
        "success": True,
        "merchantTxId": str(payment.reference),
        "authCode": str(payment.reference),
    }
    assert replies == [(200, expected)] * THREADS
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(wallet=wallet, kind="withdrawal_reserve").count() == 1
    assert ProviderCall.objects.filter(tx_id="race-wd").count() == 1
    wallet.refresh_from_db()
    assert (wallet.cash, wallet.reserved) == (7_000, 3_000)


def test_the_same_deposit_authorize_sent_by_eight_threads_starts_one_payment(race):
    player, wallet = race

    replies = _all_at_once("authorize", [deposit_body(player, tx_id="race-dep")] * THREADS)

    assert Payment.objects.count() == 1
    reference = str(Payment.objects.get().reference)
    assert {json.dumps(body, sort_keys=True) for _status, body in replies} == {
        json.dumps(
            {"userId": str(player.pk), "success": True, "merchantTxId": reference, "authCode": reference},
            sort_keys=True,
        )
    }
    assert Wallet.objects.get(pk=wallet.pk).cash == 10_000


def test_eight_different_withdrawals_at_once_never_reserve_more_than_the_balance(race):
    player, wallet = race
    # Eight withdrawals of 30.00 GBP against 100.00: three fit
    bodies = [withdrawal_body(player, tx_id=f"race-wd-{i}", amount="-30.00") for i in range(THREADS)]

    replies = _all_at_once("authorize", bodies)

    codes = sorted("ok" if body["success"] else body["errCode"] for _status, body in replies)
    assert codes == ["insufficient_funds"] * 5 + ["ok"] * 3
    wallet.refresh_from_db()
    assert (wallet.cash, wallet.reserved) == (1_000, 9_000)
    assert Payment.objects.count() == 3
