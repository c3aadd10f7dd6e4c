"""The Hub88 door under concurrency: real threads, real PostgreSQL transactions."""

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from apps.core.actors import system_actor
from apps.games.models import Game
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration
from apps.games.services import game_session_open
from apps.wallet.models import LedgerTransaction, Wallet
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import BrandFactory, OperatorFactory, PlayerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture
def table(keys):
    """A player with 10.00 EUR, a live session, and a way to send signed calls from threads."""
    brand = BrandFactory(
        operator=OperatorFactory(code="race-ops"), code="race-mt", jurisdiction="MT", currencies=["EUR"]
    )
    Hub88Integration.objects.create(
        brand=brand,
        hub88_public_key=keys.hub88_public,
        operator_private_key=keys.operator_private,
        active=True,
    )
    game = Game.objects.create(provider="hub88", code="race_slot", name="Race", product="casino")
    player = PlayerFactory(brand=brand)
    wallet = wallet_get_or_create(player=player, currency_code="EUR")
    deposit_credit(
        wallet=wallet, amount=1_000, source="test", external_id="race-dep", actor=system_actor("t")
    )
    _session, token = game_session_open(
        player=player, game=game, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )

    def bet(transaction_uuid: str, amount: int) -> dict:
        return {
            "user": str(player.pk),
            "transaction_uuid": transaction_uuid,
            "token": token,
            "round": f"round-{transaction_uuid}",
            "round_closed": False,
            "request_uuid": str(uuid.uuid4()),
            "game_code": "race_slot",
            "currency": "EUR",
            "amount": amount,
        }

    return wallet, bet


def _all_at_once(bodies: list[dict], keys, endpoints: list[str] | None = None) -> list[dict]:
    barrier = threading.Barrier(len(bodies))
    replies: list[dict | BaseException] = [None] * len(bodies)
    endpoints = endpoints or ["bet"] * len(bodies)

    def send(i: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        client = Client()
        try:
            barrier.wait(timeout=10)
            response = client.post(
                f"/integrations/hub88/transaction/{endpoints[i]}",
                data=raw,
                content_type="application/json",
                headers={"X-Hub88-Signature": signing.sign(raw, keys.hub88_private)},
            )
            replies[i] = json.loads(response.content)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            replies[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, body)) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(reply, dict) for reply in replies), replies
    return replies


def test_the_same_bet_sent_many_times_at_once_is_taken_once(table, keys):
    wallet, bet = table
    body = bet("same-bet", 100_000)  # 1.00 EUR
    replies = _all_at_once([{**body, "request_uuid": str(i)} for i in range(THREADS)], keys)
    assert [reply["status"] for reply in replies] == ["RS_OK"] * THREADS
    assert {reply["balance"] for reply in replies} == {900_000}
    assert LedgerTransaction.objects.filter(external_id="same-bet").count() == 1
    assert Wallet.objects.get(pk=wallet.pk).cash == 900


def test_concurrent_bets_never_spend_more_than_the_balance(table, keys):
    wallet, bet = table
    # Eight bets of 2.50 EUR against 10.00 EUR: four fit
    replies = _all_at_once([bet(f"bet-{i}", 250_000) for i in range(THREADS)], keys)
    statuses = sorted(reply["status"] for reply in replies)
    assert statuses == ["RS_ERROR_NOT_ENOUGH_MONEY"] * 4 + ["RS_OK"] * 4
    assert Wallet.objects.get(pk=wallet.pk).cash == 0
    assert LedgerTransaction.objects.filter(wallet=wallet, kind="bet").count() == 4


def test_a_win_racing_the_rollback_of_its_bet_settles_one_consistent_way(table, keys):
    wallet, bet = table
    for attempt in range(3):
        body = bet(f"raced-bet-{attempt}", 100_000)  # 1.00 EUR
        _all_at_once([body], keys)
        cash_before = Wallet.objects.get(pk=wallet.pk).cash + 100
        common = {k: body[k] for k in ("user", "token", "round", "game_code", "currency")}
        win = {
            **common,
            "transaction_uuid": f"win-{attempt}",
            "reference_transaction_uuid": body["transaction_uuid"],
            "request_uuid": "w",
            "amount": 300_000,
        }
        rollback = {
            **common,
            "transaction_uuid": f"rollback-{attempt}",
            "reference_transaction_uuid": body["transaction_uuid"],
            "request_uuid": "r",
        }
        win_reply, rollback_reply = _all_at_once([win, rollback], keys, ["win", "rollback"])
        assert rollback_reply["status"] == "RS_OK"
        cash = Wallet.objects.get(pk=wallet.pk).cash
        if win_reply["status"] == "RS_OK":  # the win came first: it stays, the stake comes back
            assert cash == cash_before + 300
        else:  # the rollback came first: the win is refused
            assert win_reply["status"] == "RS_ERROR_TRANSACTION_ROLLED_BACK"
            assert cash == cash_before
