"""Authorize is where the operator refuses: exclusion, limits, KYC, banned methods, money.
Each refusal answers success false with our stable code, moves nothing, and is kept as
the answer to that txId (a replay gets the same refusal)."""

from apps.payments.models import Payment, ProviderCall
from apps.responsible_gaming import services as rg
from tests.payments.conftest import STARTING_CASH
from tests.payments.paymentiq.conftest import deposit_body, state, withdrawal_body


def _refusal(player, err_code: str, err_msg: str) -> dict:
    return {"userId": str(player.pk), "success": False, "errCode": err_code, "errMsg": err_msg}


def test_a_self_excluded_player_cannot_deposit(piq, player, funded_wallet, open_policy):
    rg.self_exclusion_start(actor=player, player=player, months=6)
    player.refresh_from_db()
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player))

    assert reply.status == 200
    assert reply.body == _refusal(player, "self_excluded", "The player is self-excluded.")
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert (after["payments"], after["ledger"]) == (before["payments"], before["ledger"])
    # the refusal is the answer to this txId from now on
    assert ProviderCall.objects.get(tx_id="piq-dep-1").response == reply.body
    assert piq("authorize", deposit_body(player)).body == reply.body


def test_a_self_excluded_player_may_still_withdraw(piq, player, funded_wallet, open_policy):
    rg.self_exclusion_start(actor=player, player=player, months=6)

    reply = piq("authorize", withdrawal_body(player))

    assert reply.body["success"] is True
    assert Payment.objects.get(provider_reference="piq-wd-1").amount == 4_000


def test_a_deposit_above_the_players_deposit_limit_is_refused(piq, player, funded_wallet, open_policy):
    # Given a daily deposit limit of 1,020.00 GBP, 1,000.00 of it deposited today (funded_wallet)
    rg.limit_set(actor=player, player=player, kind="deposit", period="day", amount=STARTING_CASH + 2_000)
    before = state(funded_wallet)

    # When PaymentIQ authorizes 25.50
    reply = piq("authorize", deposit_body(player, amount="25.50"))

    # Then it is refused with the limit's code, and nothing is written but the answer
    assert reply.body["success"] is False
    assert reply.body["errCode"] == "deposit_limit"
    assert reply.body["errMsg"].startswith("This would exceed the deposit limit per day")
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert (after["payments"], after["ledger"]) == (before["payments"], before["ledger"])
    # while one within the limit goes through
    assert piq("authorize", deposit_body(player, tx_id="small", amount="19.99")).body["success"] is True


def test_a_gb_credit_card_deposit_is_refused_as_a_banned_method(piq, player, funded_wallet, open_policy):
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player, attributes={"cardType": "CREDIT"}))

    assert reply.body == _refusal(player, "payment_method_banned", "credit_card cannot be used here.")
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert after["payments"] == before["payments"] == []


def test_a_debit_card_deposit_in_gb_is_accepted(piq, player, funded_wallet, open_policy):
    reply = piq("authorize", deposit_body(player, attributes={"cardType": "debit"}))

    assert reply.body["success"] is True
    assert Payment.objects.get().card_type == "debit"


def test_a_player_without_kyc_cannot_deposit_or_withdraw(piq, player, funded_wallet, open_policy):
    player.kyc_status = "pending"
    player.save()
    before = state(funded_wallet)

    deposit = piq("authorize", deposit_body(player))
    withdrawal = piq("authorize", withdrawal_body(player))

    message = "Identity verification is required first."
    assert deposit.body == _refusal(player, "kyc_required", message)
    assert withdrawal.body == _refusal(player, "kyc_required", message)
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert after["payments"] == before["payments"]


def test_a_withdrawal_above_the_balance_is_refused_and_reserves_nothing(
    piq, player, funded_wallet, open_policy
):
    before = state(funded_wallet)

    reply = piq("authorize", withdrawal_body(player, amount="-1000.01"))

    assert reply.body["success"] is False
    assert reply.body["errCode"] == "insufficient_funds"
    after = state(funded_wallet)
    assert (
        after["wallet"] == before["wallet"] == {"cash": STARTING_CASH, "bonus": 0, "reserved": 0, "debt": 0}
    )
    assert (after["payments"], after["ledger"]) == (before["payments"], before["ledger"])
    # and the whole balance can be withdrawn
    assert piq("authorize", withdrawal_body(player, tx_id="all", amount="-1000.00")).body["success"] is True


def test_a_withdrawal_in_a_currency_the_player_has_no_wallet_in_is_refused(
    piq, player, funded_wallet, open_policy, brand
):
    from tests.factories import currency_get

    brand.currencies.add(currency_get("EUR"))
    before = state(funded_wallet)

    reply = piq("authorize", withdrawal_body(player, txAmountCy="EUR"))

    assert reply.body == _refusal(player, "no_wallet", "The player has no EUR wallet.")
    after = state(funded_wallet)
    assert after["payments"] == before["payments"]
