"""The Hub88 seamless-wallet API through HTTP: statuses, idempotency, rollbacks, signatures.

Every answer is HTTP 200 JSON {user, status, request_uuid, currency, balance}, signed with
the brand's operator key (the `hub88` fixture checks the shape; tests check `signed`).
Balances are Hub88 units (1/100000 EUR); the player starts with 100.00 EUR.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.guards import GuardRefusal, register_wallet_guard, unregister_wallet_guard
from apps.games.models import Game, GameSession
from apps.games.providers.hub88 import signing
from apps.games.services import game_session_open, game_sessions_close_for_player
from apps.players.models import Player
from apps.wallet.models import LedgerTransaction
from apps.wallet.services import wallet_get_or_create
from tests.factories import PlayerFactory
from tests.games.conftest import GAME_CODE, cash_of, money_state

pytestmark = pytest.mark.django_db

START_UNITS = 10_000_000  # 100.00 EUR


def _ok(reply, *, balance: int, user: str, request_uuid: str, currency: str = "EUR") -> None:
    assert reply.body == {
        "user": user,
        "status": "RS_OK",
        "request_uuid": request_uuid,
        "currency": currency,
        "balance": balance,
    }
    assert reply.signed


# --- user/info, user/balance ---------------------------------------------------------------


def test_info_answers_the_players_currency_and_balance(hub88, player, token):
    # When Hub88 asks about the player
    reply = hub88("info", {"user": str(player.pk), "request_uuid": "req-1"})
    # Then it gets the EUR balance, signed
    _ok(reply, balance=START_UNITS, user=str(player.pk), request_uuid="req-1")


def test_info_of_a_disabled_player_is_user_disabled(hub88, player, token):
    Player.objects.filter(pk=player.pk).update(status=Player.Status.SUSPENDED)
    reply = hub88("info", {"user": str(player.pk), "request_uuid": "req-1"})
    assert reply.status == "RS_ERROR_USER_DISABLED"
    assert reply.signed


def test_balance_answers_the_sessions_wallet(hub88, player, token):
    reply = hub88("balance", {"token": token, "request_uuid": "req-2", "game_code": GAME_CODE})
    _ok(reply, balance=START_UNITS, user=str(player.pk), request_uuid="req-2")


def test_balance_with_an_expired_token_is_token_expired(hub88, player, token):
    GameSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    reply = hub88("balance", {"token": token, "request_uuid": "req-2", "game_code": GAME_CODE})
    assert reply.body == {
        "user": str(player.pk),
        "status": "RS_ERROR_TOKEN_EXPIRED",
        "request_uuid": "req-2",
        "currency": "EUR",
        "balance": START_UNITS,
    }
    assert reply.signed


def test_balance_with_an_unknown_token_but_known_user_is_invalid_token(hub88, player, token):
    reply = hub88(
        "balance",
        {"token": "not-a-token-we-issued", "user": str(player.pk), "request_uuid": "r", "game_code": None},
    )
    assert reply.status == "RS_ERROR_INVALID_TOKEN"
    assert reply.body["balance"] == 0
    assert reply.signed  # the user named the brand, so the answer is signed with its key


def test_unknown_token_and_unknown_user_is_invalid_token_unsigned(hub88, token):
    # Nothing names a brand, so there is no key to verify or sign with.
    reply = hub88("balance", {"token": "nobody-issued-this", "request_uuid": "r", "game_code": None})
    assert reply.status == "RS_ERROR_INVALID_TOKEN"
    assert reply.signature is None


# --- bets ----------------------------------------------------------------------------------


def test_bet_takes_the_stake_and_answers_the_new_balance(hub88, movement, player, wallet):
    body = movement("bet", amount=356_000)  # 3.56 EUR
    reply = hub88("bet", body)
    _ok(reply, balance=START_UNITS - 356_000, user=str(player.pk), request_uuid=body["request_uuid"])
    assert cash_of(wallet) == 10_000 - 356
    bet = LedgerTransaction.objects.get(source="hub88", external_id=body["transaction_uuid"])
    assert (bet.kind, bet.amount, bet.round_ref, bet.game_ref, bet.actor) == (
        "bet",
        356,
        "round-1",
        GAME_CODE,
        "provider:hub88",
    )
    assert bet.metadata == {"provider": "hub88", "round_closed": False, "request_uuid": body["request_uuid"]}


def test_identical_bet_replay_is_ok_with_one_ledger_transaction(hub88, movement, player, wallet):
    body = movement("bet")
    first = hub88("bet", body)
    # When Hub88 sends the very same bet again (another request_uuid, same transaction)
    replay = hub88("bet", {**body, "request_uuid": "retry"})
    # Then RS_OK with the current balance, and the stake was taken once
    assert first.status == replay.status == "RS_OK"
    assert replay.body["balance"] == START_UNITS - 100_000
    assert replay.body["request_uuid"] == "retry"
    assert LedgerTransaction.objects.filter(source="hub88", external_id=body["transaction_uuid"]).count() == 1
    assert cash_of(wallet) == 10_000 - 100


def test_same_transaction_uuid_with_another_amount_is_duplicate(hub88, movement, wallet):
    body = movement("bet")
    hub88("bet", body)
    before = money_state(wallet)
    reply = hub88("bet", {**body, "amount": 200_000})
    assert reply.status == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert reply.body["balance"] == START_UNITS - 100_000
    assert reply.signed
    assert money_state(wallet) == before


def test_same_transaction_uuid_in_another_round_is_duplicate(hub88, movement, wallet):
    body = movement("bet")
    hub88("bet", body)
    before = money_state(wallet)
    reply = hub88("bet", {**body, "round": "round-2"})
    assert reply.status == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert money_state(wallet) == before


def test_same_transaction_uuid_from_another_user_is_duplicate(hub88, movement, wallet, game, player):
    other = PlayerFactory(brand=player.brand)
    other_wallet = wallet_get_or_create(player=other, currency_code="EUR")
    _session, other_token = game_session_open(
        player=other, game=game, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    body = movement("bet", amount=0)
    hub88("bet", body)
    before = money_state(wallet), money_state(other_wallet)
    reply = hub88("bet", {**body, "user": str(other.pk), "token": other_token})
    assert reply.status == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert (money_state(wallet), money_state(other_wallet)) == before


def test_bet_beyond_the_balance_is_not_enough_money_with_the_actual_balance(hub88, movement, wallet):
    before = money_state(wallet)
    reply = hub88("bet", movement("bet", amount=START_UNITS + 1_000))
    assert reply.status == "RS_ERROR_NOT_ENOUGH_MONEY"
    assert reply.body["balance"] == START_UNITS
    assert reply.signed
    assert money_state(wallet) == before


def test_bet_stopped_by_a_limit_is_limit_reached(hub88, movement, wallet):
    def loss_limit(operation):
        if operation.kind == "bet":
            raise GuardRefusal("Loss limit reached.", code="loss_limit")

    register_wallet_guard(loss_limit)
    try:
        before = money_state(wallet)
        reply = hub88("bet", movement("bet"))
    finally:
        unregister_wallet_guard(loss_limit)
    assert reply.status == "RS_ERROR_LIMIT_REACHED"
    assert reply.body["balance"] == START_UNITS
    assert money_state(wallet) == before


def test_bet_with_an_expired_token_is_token_expired(hub88, movement, wallet):
    GameSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"))
    assert reply.status == "RS_ERROR_TOKEN_EXPIRED"
    assert reply.body["balance"] == START_UNITS
    assert money_state(wallet) == before


def test_bet_on_a_closed_session_is_token_expired(hub88, movement, player, wallet):
    assert game_sessions_close_for_player(player.pk) == 1
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"))
    assert reply.status == "RS_ERROR_TOKEN_EXPIRED"
    assert money_state(wallet) == before


@pytest.mark.parametrize("status", ["suspended", "self_excluded", "closed"])
def test_bet_of_a_disabled_player_is_user_disabled(hub88, movement, player, wallet, status):
    Player.objects.filter(pk=player.pk).update(status=status)
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"))
    assert reply.status == "RS_ERROR_USER_DISABLED"
    assert reply.signed
    assert money_state(wallet) == before


def test_bet_in_another_currency_is_wrong_currency(hub88, movement, wallet):
    before = money_state(wallet)
    reply = hub88("bet", movement("bet", currency="GBP"))
    assert reply.status == "RS_ERROR_WRONG_CURRENCY"
    assert reply.body["currency"] == "EUR"
    assert reply.body["balance"] == START_UNITS
    assert money_state(wallet) == before


def test_bet_for_an_unknown_game_is_invalid_game(hub88, movement, wallet):
    before = money_state(wallet)
    reply = hub88("bet", movement("bet", game_code="no_such_game"))
    assert reply.status == "RS_ERROR_INVALID_GAME"
    assert money_state(wallet) == before


def test_bet_for_an_inactive_game_is_invalid_game(hub88, movement, wallet, game):
    Game.objects.filter(pk=game.pk).update(active=False)
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"))
    assert reply.status == "RS_ERROR_INVALID_GAME"
    assert money_state(wallet) == before


def test_bet_for_another_game_than_the_sessions_is_invalid_game(hub88, movement, wallet):
    Game.objects.create(provider="hub88", code="clt_other", name="Other", product="casino")
    before = money_state(wallet)
    reply = hub88("bet", movement("bet", game_code="clt_other"))
    assert reply.status == "RS_ERROR_INVALID_GAME"
    assert money_state(wallet) == before


def test_bet_with_another_users_token_is_invalid_token(hub88, movement, wallet, hub88_brand):
    other = PlayerFactory(brand=hub88_brand)
    before = money_state(wallet)
    reply = hub88("bet", movement("bet", user=str(other.pk)))
    assert reply.status == "RS_ERROR_INVALID_TOKEN"
    assert reply.body["balance"] == 0  # nothing about the session's player is told
    assert money_state(wallet) == before


def test_free_bet_is_recorded_and_takes_nothing(hub88, movement, wallet):
    body = movement("bet", is_free=True)
    reply = hub88("bet", body)
    assert reply.status == "RS_OK"
    assert reply.body["balance"] == START_UNITS
    bet = LedgerTransaction.objects.get(source="hub88", external_id=body["transaction_uuid"])
    assert (bet.amount, bet.metadata["is_free"], bet.metadata["nominal_amount"]) == (0, True, 100)
    assert bet.entries.count() == 0


# --- wins ----------------------------------------------------------------------------------


def test_win_pays_against_its_bet(hub88, movement, player, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    win = movement("win", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True)
    reply = hub88("win", win)
    _ok(reply, balance=START_UNITS - 100_000 + 250_000, user=str(player.pk), request_uuid=win["request_uuid"])
    assert cash_of(wallet) == 10_000 - 100 + 250


def test_identical_win_replays_pay_once(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    win = movement("win", reference_transaction_uuid=bet["transaction_uuid"])
    replies = [hub88("win", win) for _ in range(3)]
    assert [r.status for r in replies] == ["RS_OK"] * 3
    assert {r.body["balance"] for r in replies} == {START_UNITS + 150_000}
    assert LedgerTransaction.objects.filter(kind="win", wallet=wallet).count() == 1


def test_win_for_an_unknown_bet_is_transaction_does_not_exist(hub88, movement, wallet):
    before = money_state(wallet)
    reply = hub88("win", movement("win", reference_transaction_uuid="never-sent"))
    assert reply.status == "RS_ERROR_TRANSACTION_DOES_NOT_EXIST"
    assert reply.body["balance"] == START_UNITS
    assert reply.signed
    assert money_state(wallet) == before


def test_win_against_a_rolled_back_bet_is_transaction_rolled_back(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    assert hub88(
        "rollback", movement("rollback", reference_transaction_uuid=bet["transaction_uuid"])
    ).status == ("RS_OK")
    before = money_state(wallet)
    reply = hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"]))
    assert reply.status == "RS_ERROR_TRANSACTION_ROLLED_BACK"
    assert reply.body["balance"] == START_UNITS
    assert money_state(wallet) == before


def test_win_with_an_expired_token_is_still_paid(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    GameSession.objects.update(expires_at=timezone.now() - timedelta(days=30))
    reply = hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"]))
    assert reply.status == "RS_OK"
    assert cash_of(wallet) == 10_000 - 100 + 250


def test_win_for_a_player_suspended_mid_round_is_still_paid(hub88, movement, player, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    Player.objects.filter(pk=player.pk).update(status=Player.Status.SUSPENDED)
    reply = hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"]))
    assert reply.status == "RS_OK"
    assert cash_of(wallet) == 10_000 + 150


def test_win_with_the_same_uuid_and_another_amount_is_duplicate(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    win = movement("win", reference_transaction_uuid=bet["transaction_uuid"])
    hub88("win", win)
    before = money_state(wallet)
    reply = hub88("win", {**win, "amount": 999_000})
    assert reply.status == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert money_state(wallet) == before


# --- rollbacks -----------------------------------------------------------------------------


def test_rollback_refunds_the_bet(hub88, movement, player, wallet):
    bet = movement("bet", amount=500_000)
    hub88("bet", bet)
    rollback = movement("rollback", reference_transaction_uuid=bet["transaction_uuid"])
    reply = hub88("rollback", rollback)
    _ok(reply, balance=START_UNITS, user=str(player.pk), request_uuid=rollback["request_uuid"])
    assert cash_of(wallet) == 10_000


def test_rollback_repeated_n_times_is_applied_once(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    rollback = movement("rollback", reference_transaction_uuid=bet["transaction_uuid"])
    # the same rollback five times, and two more rollbacks of the same bet under new ids
    replies = [hub88("rollback", rollback) for _ in range(5)]
    replies += [hub88("rollback", {**rollback, "transaction_uuid": str(uuid.uuid4())}) for _ in range(2)]
    assert [r.status for r in replies] == ["RS_OK"] * 7
    assert {r.body["balance"] for r in replies} == {START_UNITS}
    # one rollback undid the bet; the two other ids are recorded (spent) and move nothing
    undoing = LedgerTransaction.objects.filter(kind="rollback", reverses__external_id=bet["transaction_uuid"])
    assert undoing.count() == 1
    others = LedgerTransaction.objects.filter(kind="rollback", wallet=wallet).exclude(pk=undoing.get().pk)
    assert [(t.reverses_id, t.entries.count()) for t in others] == [(None, 0), (None, 0)]
    assert cash_of(wallet) == 10_000


def test_rollback_of_a_win_takes_it_back(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    win = movement("win", reference_transaction_uuid=bet["transaction_uuid"])
    hub88("win", win)
    reply = hub88("rollback", movement("rollback", reference_transaction_uuid=win["transaction_uuid"]))
    assert reply.status == "RS_OK"
    assert reply.body["balance"] == START_UNITS - 100_000


def test_rollback_before_its_bet_then_the_late_bet_is_refused(hub88, movement, wallet):
    bet = movement("bet")
    # Given the rollback of a bet that has not arrived (yet)
    reply = hub88("rollback", movement("rollback", reference_transaction_uuid=bet["transaction_uuid"]))
    assert reply.status == "RS_OK"
    assert reply.body["balance"] == START_UNITS
    tombstone = LedgerTransaction.objects.get(source="hub88", external_id=bet["transaction_uuid"])
    assert (tombstone.kind, tombstone.amount, tombstone.entries.count()) == ("tombstone", 0, 0)
    before = money_state(wallet)
    # When the bet arrives after all
    late = hub88("bet", bet)
    # Then it is refused and no money moves
    assert late.status == "RS_ERROR_TRANSACTION_ROLLED_BACK"
    assert late.body["balance"] == START_UNITS
    assert late.signed
    assert money_state(wallet) == before


def test_rollback_with_an_expired_token_is_applied(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    GameSession.objects.update(expires_at=timezone.now() - timedelta(days=30))
    reply = hub88("rollback", movement("rollback", reference_transaction_uuid=bet["transaction_uuid"]))
    assert reply.status == "RS_OK"
    assert cash_of(wallet) == 10_000


def test_rollback_of_another_players_bet_is_transaction_does_not_exist(hub88, movement, wallet, game, player):
    other = PlayerFactory(brand=player.brand)
    _session, other_token = game_session_open(
        player=other, game=game, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    bet = movement("bet")
    hub88("bet", bet)
    before = money_state(wallet)
    reply = hub88(
        "rollback",
        movement(
            "rollback",
            user=str(other.pk),
            token=other_token,
            reference_transaction_uuid=bet["transaction_uuid"],
        ),
    )
    assert reply.status == "RS_ERROR_TRANSACTION_DOES_NOT_EXIST"
    assert money_state(wallet) == before


# --- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        {"sign_with": None},
        {"sign_with": "stranger"},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
        {"signature": "%%% not base64 %%%"},
    ],
    ids=["missing", "another-key", "garbage", "not-base64"],
)
def test_bet_without_a_valid_signature_is_invalid_signature(hub88, movement, wallet, how):
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"), **how)
    assert reply.status == "RS_ERROR_INVALID_SIGNATURE"
    assert reply.body["balance"] == 0  # an unverified caller learns nothing
    assert reply.signed
    assert money_state(wallet) == before


def test_signature_of_another_body_is_invalid_signature(hub88, movement, keys, wallet):
    body = movement("bet")
    signed_small = signing.sign(json.dumps(body).encode(), keys.hub88_private)
    before = money_state(wallet)
    # The same signature on a body whose amount was changed on the way
    tampered = json.dumps({**body, "amount": 9_000_000}).encode()
    reply = hub88("bet", raw=tampered, signature=signed_small)
    assert reply.status == "RS_ERROR_INVALID_SIGNATURE"
    assert money_state(wallet) == before


def test_the_signature_covers_the_raw_bytes_not_the_parsed_json(hub88, movement, wallet):
    # Whitespace Hub88 put in is part of what it signed; we verify exactly those bytes.
    raw = json.dumps(movement("bet"), indent=2).encode()
    reply = hub88("bet", raw=raw)
    assert reply.status == "RS_OK"
    assert cash_of(wallet) == 10_000 - 100


def test_win_and_rollback_need_a_signature_too(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    before = money_state(wallet)
    win = hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"]), sign_with=None)
    rollback = hub88(
        "rollback",
        movement("rollback", reference_transaction_uuid=bet["transaction_uuid"]),
        sign_with="stranger",
    )
    assert win.status == rollback.status == "RS_ERROR_INVALID_SIGNATURE"
    assert money_state(wallet) == before


def test_a_switched_off_integration_is_invalid_partner(hub88, movement, wallet, integration):
    integration.active = False
    integration.save()
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"))
    assert reply.status == "RS_ERROR_INVALID_PARTNER"
    assert reply.signed
    assert money_state(wallet) == before


# --- malformed requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[1, 2]", b'"a string"', b"\xff\xfe\x00garbage", b"[" * 100_000]
)
def test_a_body_that_is_not_a_json_object_is_wrong_syntax(hub88, wallet, token, raw):
    before = money_state(wallet)
    reply = hub88("bet", raw=raw)
    assert reply.body == {
        "user": "",
        "status": "RS_ERROR_WRONG_SYNTAX",
        "request_uuid": "",
        "currency": "",
        "balance": 0,
    }
    assert money_state(wallet) == before


def test_a_missing_field_is_wrong_syntax(hub88, movement, wallet):
    body = movement("bet")
    del body["amount"]
    before = money_state(wallet)
    reply = hub88("bet", body)
    assert reply.status == "RS_ERROR_WRONG_SYNTAX"
    assert reply.signed
    assert money_state(wallet) == before


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "100000"},
        {"amount": -100_000},
        {"amount": 100_000.0},
        {"amount": 1e5},
        {"amount": True},
        {"amount": None},
        {"amount": 2**63},
        {"amount": 100_001},  # finer than a cent: 1.00001 EUR
        {"amount": 999},  # less than a cent
        {"transaction_uuid": 12345},
        {"transaction_uuid": ""},
        {"transaction_uuid": "x" * 129},
        {"round": ["r"]},
        {"round_closed": "yes"},
        {"is_free": 1},
        {"currency": 978},
        {"transaction_uuid": "nul\x00byte"},
    ],
    ids=lambda change: f"{next(iter(change))}={next(iter(change.values()))!r}"[:40],
)
def test_wrong_field_types_and_inexact_amounts_are_wrong_types(hub88, movement, wallet, change):
    before = money_state(wallet)
    reply = hub88("bet", movement("bet", **change))
    assert reply.status == "RS_ERROR_WRONG_TYPES"
    assert reply.signed
    assert money_state(wallet) == before


def test_win_amount_finer_than_the_currency_is_wrong_types(hub88, movement, wallet):
    bet = movement("bet")
    hub88("bet", bet)
    before = money_state(wallet)
    reply = hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"], amount=250_500))
    assert reply.status == "RS_ERROR_WRONG_TYPES"
    assert money_state(wallet) == before


def test_unknown_fields_are_ignored(hub88, movement, wallet):
    reply = hub88("bet", movement("bet", is_billable=True, meta={"anything": [1, 2]}))
    assert reply.status == "RS_OK"


def test_anything_unexpected_is_unknown_not_a_500(hub88, movement, wallet, monkeypatch, caplog):
    from apps.wallet import services as wallet_services

    def broken(**kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(wallet_services, "bet_place", broken)
    before = money_state(wallet)
    reply = hub88("bet", movement("bet"))
    assert reply.status == "RS_ERROR_UNKNOWN"
    assert reply.signed
    assert reply.body["balance"] == START_UNITS
    assert "unexpected error" in caplog.text
    assert money_state(wallet) == before


def test_only_post_is_allowed(client, token):
    assert client.get("/integrations/hub88/user/info").status_code == 405


# --- live lobbies, currencies finer than Hub88's unit -------------------------------------


def test_a_live_lobby_session_takes_bets_on_other_live_tables_only(hub88, movement, player, wallet):
    roulette = Game.objects.create(provider="hub88", code="live_roulette", name="Roulette", product="live")
    Game.objects.create(provider="hub88", code="live_blackjack", name="Blackjack", product="live")
    Game.objects.create(provider="hub88", code="clt_slot", name="Slot", product="casino")
    _session, lobby_token = game_session_open(
        player=player, game=roulette, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    # The player moved to the blackjack table within the lobby
    moved = hub88("bet", movement("bet", token=lobby_token, game_code="live_blackjack"))
    assert moved.status == "RS_OK"
    # but a slot is not a table of the lobby
    before = money_state(wallet)
    slot = hub88("bet", movement("bet", token=lobby_token, game_code="clt_slot"))
    assert slot.status == "RS_ERROR_INVALID_GAME"
    assert money_state(wallet) == before


def test_same_transaction_uuid_at_another_live_table_is_duplicate(hub88, movement, player, wallet):
    roulette = Game.objects.create(provider="hub88", code="live_roulette", name="Roulette", product="live")
    Game.objects.create(provider="hub88", code="live_blackjack", name="Blackjack", product="live")
    _session, lobby_token = game_session_open(
        player=player, game=roulette, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    body = movement("bet", token=lobby_token, game_code="live_roulette")
    assert hub88("bet", body).status == "RS_OK"
    before = money_state(wallet)
    reply = hub88("bet", {**body, "game_code": "live_blackjack"})
    assert reply.status == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert money_state(wallet) == before


def test_a_btc_balance_is_reported_rounded_down_to_hub88_units(hub88, player, game, integration):
    from apps.wallet.services import deposit_credit

    _session, btc_token = game_session_open(
        player=player, game=game, currency_code="BTC", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    btc = wallet_get_or_create(player=player, currency_code="BTC")
    deposit_credit(
        wallet=btc, amount=123_456_789, source="test", external_id="btc-1", actor=system_actor("t")
    )
    balance = hub88("balance", {"token": btc_token, "request_uuid": "r", "game_code": GAME_CODE})
    assert (balance.status, balance.body["currency"], balance.body["balance"]) == ("RS_OK", "BTC", 123_456)
    # 0.00001 BTC is 1000 satoshi: exact
    bet = {
        "user": str(player.pk),
        "transaction_uuid": "btc-bet",
        "token": btc_token,
        "round": "r",
        "round_closed": True,
        "request_uuid": "r2",
        "game_code": GAME_CODE,
        "currency": "BTC",
        "amount": 1,
        "is_free": False,
    }
    reply = hub88("bet", bet)
    assert (reply.status, reply.body["balance"]) == ("RS_OK", 123_455)
    assert LedgerTransaction.objects.get(external_id="btc-bet").amount == 1_000


def test_a_closed_brand_takes_no_bets_but_still_settles_them(hub88, movement, wallet, hub88_brand):
    bet = movement("bet")
    hub88("bet", bet)
    hub88_brand.active = False
    hub88_brand.save()
    before = money_state(wallet)
    refused = hub88("bet", movement("bet"))
    assert refused.status == "RS_ERROR_INVALID_PARTNER"
    assert money_state(wallet) == before
    win = hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"]))
    assert win.status == "RS_OK"
    assert cash_of(wallet) == 10_000 - 100 + 250
