"""A player's retried deposit or withdrawal (the same Idempotency-Key) makes one payment and
reserves the money once; the same key with other details is refused and changes nothing."""

import threading

import pytest
from django.db import connection

from apps.payments.models import Payment
from apps.wallet.models import LedgerTransaction
from tests.factories import PlayerFactory
from tests.payments.conftest import STARTING_CASH
from tests.payments.test_api_player import (
    DEPOSIT_URL,
    WITHDRAW_URL,
    cash_and_reserved,
    client_of,
    withdraw_body,
)


@pytest.mark.django_db
def test_a_retried_withdrawal_returns_the_first_and_reserves_once(player, funded_wallet, policy):
    api = client_of(player)

    first = api.post(WITHDRAW_URL, withdraw_body(), format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    again = api.post(WITHDRAW_URL, withdraw_body(), format="json", HTTP_IDEMPOTENCY_KEY="w-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert Payment.objects.filter(player=player, kind="withdrawal").count() == 1
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH - 1_250, 1_250)


@pytest.mark.django_db
def test_the_same_key_with_another_amount_is_refused_and_changes_nothing(player, funded_wallet, policy):
    api = client_of(player)
    api.post(WITHDRAW_URL, withdraw_body(), format="json", HTTP_IDEMPOTENCY_KEY="w-2")
    ledger_rows = LedgerTransaction.objects.count()

    reused = api.post(WITHDRAW_URL, withdraw_body(amount="13.00"), format="json", HTTP_IDEMPOTENCY_KEY="w-2")

    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "duplicate_payment")
    assert Payment.objects.filter(player=player).count() == 1
    assert LedgerTransaction.objects.count() == ledger_rows
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH - 1_250, 1_250)


@pytest.mark.django_db
def test_keys_are_per_player_and_without_a_key_every_request_is_new(player, funded_wallet, policy, brand):
    bob = PlayerFactory(brand=brand, kyc_status="verified", username="bob")
    api = client_of(player)
    body = {"amount": "20.00", "currency": "GBP", "method": "bank_transfer"}

    mine = api.post(DEPOSIT_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    theirs = client_of(bob).post(DEPOSIT_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    api.post(DEPOSIT_URL, body, format="json")
    api.post(DEPOSIT_URL, body, format="json")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert Payment.objects.filter(player=player, kind="deposit").count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["has space", "x" * 65, "ünïcode", "a/b"])
def test_a_malformed_key_is_a_clear_400(player, funded_wallet, policy, key):
    response = client_of(player).post(WITHDRAW_URL, withdraw_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert not Payment.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_racing_retries_make_one_withdrawal(player, funded_wallet, policy):
    clients = [client_of(player) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    answers = []

    def send(api):
        try:
            barrier.wait()
            answers.append(
                api.post(WITHDRAW_URL, withdraw_body(), format="json", HTTP_IDEMPOTENCY_KEY="race")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [201] * 8
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert Payment.objects.filter(player=player).count() == 1
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH - 1_250, 1_250)
