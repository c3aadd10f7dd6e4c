"""PaymentIQ's whole flows through HTTP: verifyuser, authorize, transfer, cancel, notification,
and replays of every call answering the same and moving nothing."""

from apps.payments.models import Payment, PaymentAccount, PaymentIncident, ProviderCall, ReviewPolicy, Status
from apps.payments.selectors import review_queue_for
from apps.wallet.models import LedgerTransaction, Wallet
from tests.payments.conftest import STARTING_CASH
from tests.payments.paymentiq.conftest import (
    cancel_body,
    deposit_body,
    state,
    transfer_body,
    withdrawal_body,
)


def test_verifyuser_answers_the_balance_and_profile_of_the_sessions_player(
    piq, player, funded_wallet, session_token
):
    reply = piq("verifyuser", {"sessionId": session_token, "userId": str(player.pk)})

    assert reply.status == 200
    assert reply.body == {
        "userId": str(player.pk),
        "success": True,
        "balance": "1000.00",
        "balanceCy": "GBP",
        "firstName": player.first_name,
        "lastName": player.last_name,
        "street": "1 High Street",
        "city": "London",
        "zip": "SW1A 2AA",
        "country": "GBR",
        "email": player.email,
        "dob": "1990-05-17",
        "mobile": player.mobile,
        "kycStatus": "verified",
    }


def test_lookupuser_is_verifyuser(piq, player, funded_wallet, session_token):
    body = {"sessionId": session_token, "userId": str(player.pk)}
    assert piq("lookupuser", body).body == piq("verifyuser", body).body


def test_verifyuser_counts_bonus_and_shows_zero_before_the_first_wallet(piq, player, session_token):
    reply = piq("verifyuser", {"sessionId": session_token, "userId": str(player.pk)})
    assert (reply.body["success"], reply.body["balance"]) == (True, "0.00")

    wallet = Wallet.objects.create(player=player, brand=player.brand, currency_id="GBP", cash=1_050, bonus=7)
    reply = piq("verifyuser", {"sessionId": session_token, "userId": str(player.pk)})
    assert reply.body["balance"] == "10.57"
    assert wallet.pk


def test_verifyuser_refuses_a_session_of_another_player_or_an_unknown_one(piq, player, brand, session_token):
    from tests.factories import PlayerFactory

    someone_else = PlayerFactory(brand=brand)

    wrong_user = piq("verifyuser", {"sessionId": session_token, "userId": str(someone_else.pk)})
    unknown = piq("verifyuser", {"sessionId": "not-a-session", "userId": str(player.pk)})

    for reply, user_id in ((wrong_user, someone_else.pk), (unknown, player.pk)):
        assert reply.status == 200
        assert reply.body == {
            "userId": str(user_id),
            "success": False,
            "errCode": "session_invalid",
            "errMsg": "The session is not valid for this user.",
        }


def test_deposit_authorize_then_transfer_credits_exactly_the_amount(piq, player, funded_wallet, open_policy):
    # Given PaymentIQ authorizes a 25.50 GBP debit-card deposit
    authorized = deposit_body(player, amount="25.50")
    answer = piq("authorize", authorized)

    payment = Payment.objects.get(provider="paymentiq", provider_reference="piq-dep-1")
    assert answer.status == 200
    assert answer.body == {
        "userId": str(player.pk),
        "success": True,
        "merchantTxId": str(payment.reference),
        "authCode": str(payment.reference),
    }
    assert (payment.kind, payment.status, payment.amount, payment.currency_id) == (
        "deposit",
        "pending",
        2_550,
        "GBP",
    )
    assert (payment.method, payment.card_type) == ("card", "debit")
    assert payment.account == PaymentAccount.objects.get(player=player, account_ref="acc-4111")
    assert payment.account.masked == "411111******1111"
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH  # nothing credited yet

    # When the money arrives and PaymentIQ transfers
    reply = piq("transfer", transfer_body(player, authorized, answer.body))

    # Then the wallet is credited exactly 25.50
    payment.refresh_from_db()
    assert reply.body == {
        "userId": str(player.pk),
        "success": True,
        "txId": "piq-dep-1",
        "merchantTxId": str(payment.reference),
    }
    assert payment.status == Status.COMPLETED
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH + 2_550
    assert LedgerTransaction.objects.filter(payment_ref=str(payment.reference)).count() == 1


def test_withdrawal_authorize_reserves_and_transfer_settles(piq, player, funded_wallet, open_policy):
    # Given PaymentIQ authorizes a 40.00 GBP bank withdrawal
    authorized = withdrawal_body(player, amount="-40.00")
    answer = piq("authorize", authorized)

    payment = Payment.objects.get(provider="paymentiq", provider_reference="piq-wd-1")
    assert answer.body["success"] is True
    assert answer.body["authCode"] == str(payment.reference)
    assert (payment.kind, payment.status, payment.amount, payment.method) == (
        "withdrawal",
        "auto_approved",
        4_000,
        "bank_transfer",
    )
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - 4_000, 4_000)

    # When the payout is made and PaymentIQ transfers
    reply = piq("transfer", transfer_body(player, authorized, answer.body))

    # Then the reserve leaves the wallet
    payment.refresh_from_db()
    wallet.refresh_from_db()
    assert reply.body == {
        "userId": str(player.pk),
        "success": True,
        "txId": "piq-wd-1",
        "merchantTxId": str(payment.reference),
    }
    assert payment.status == Status.PAID
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - 4_000, 0)


def test_failed_withdrawal_is_cancelled_and_its_reserve_released(piq, player, funded_wallet, open_policy):
    authorized = withdrawal_body(player, amount="-40.00")
    answer = piq("authorize", authorized)
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == 4_000

    reply = piq("cancel", cancel_body(player, authorized, answer.body))

    payment = Payment.objects.get(provider_reference="piq-wd-1")
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert reply.body == {"userId": str(player.pk), "success": True}
    assert payment.status == Status.CANCELLED
    assert (
        payment.decision_reason == "Cancelled by PaymentIQ (statusCode=ERR_DECLINED_BANK, pspStatusCode=05)."
    )
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH, 0)


def test_failed_deposit_is_cancelled_and_nothing_is_credited(piq, player, funded_wallet, open_policy):
    authorized = deposit_body(player)
    answer = piq("authorize", authorized)

    reply = piq("cancel", cancel_body(player, authorized, answer.body))

    assert reply.body == {"userId": str(player.pk), "success": True}
    assert Payment.objects.get(provider_reference="piq-dep-1").status == Status.CANCELLED
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH


def test_replays_of_every_call_answer_the_same_and_move_nothing(piq, player, funded_wallet, open_policy):
    # A deposit and a withdrawal, each authorized and transferred; and a cancelled withdrawal
    dep = deposit_body(player, tx_id="dep-r")
    wd = withdrawal_body(player, tx_id="wd-r")
    failed = withdrawal_body(player, tx_id="wd-failed", amount="-5.00")
    calls = []
    for authorized in (dep, wd, failed):
        answer = piq("authorize", authorized)
        calls.append(("authorize", authorized, answer.body))
        follow = "cancel" if authorized is failed else "transfer"
        body = (cancel_body if follow == "cancel" else transfer_body)(player, authorized, answer.body)
        calls.append((follow, body, piq(follow, body).body))
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH + 2_550 - 4_000, 0)
    before = state(funded_wallet)
    assert before["calls"] == 6

    # When PaymentIQ repeats every call (twice)
    for _ in range(2):
        for action, body, first in calls:
            again = piq(action, body)
            # Then each answer is the original, and nothing moves
            assert (again.status, again.body) == (200, first)

    assert state(funded_wallet) == before


def test_a_replay_with_the_amount_written_differently_is_the_same_call(
    piq, player, funded_wallet, open_policy
):
    first = piq("authorize", deposit_body(player, amount="25.50"))
    before = state(funded_wallet)

    again = piq("authorize", deposit_body(player, amount="25.5"))

    assert again.body == first.body
    assert state(funded_wallet) == before


def test_a_deposit_held_for_review_answers_success_and_waits_in_the_queue(
    piq, player, funded_wallet, brand, make_staff
):
    # Given the brand reviews deposits of 100.00 GBP and more
    ReviewPolicy.objects.create(brand=brand, amount_thresholds={"GBP": "100.00"}, new_account_days=0)
    reviewer = make_staff("Payments reviewer", brands=[brand])
    authorized = deposit_body(player, amount="150.00")

    answer = piq("authorize", authorized)

    payment = Payment.objects.get(provider_reference="piq-dep-1")
    assert answer.body == {
        "userId": str(player.pk),
        "success": True,
        "merchantTxId": str(payment.reference),
        "authCode": str(payment.reference),
    }
    assert payment.status == Status.FLAGGED
    assert payment.flag_codes == ["large_amount"]
    assert list(review_queue_for(reviewer)) == [payment]

    # When the money arrives anyway, the transfer is accepted; the credit waits for the review
    reply = piq("transfer", transfer_body(player, authorized, answer.body))

    payment.refresh_from_db()
    assert reply.body["success"] is True
    assert (payment.status, payment.funds_received) == (Status.FLAGGED, True)
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH


def test_a_withdrawal_held_for_review_answers_success_with_the_money_reserved(
    piq, player, funded_wallet, policy
):
    # The default policy reviews a player's first withdrawal
    answer = piq("authorize", withdrawal_body(player))

    payment = Payment.objects.get(provider_reference="piq-wd-1")
    assert answer.body["success"] is True
    assert answer.body["merchantTxId"] == str(payment.reference)
    assert payment.status == Status.PENDING_REVIEW
    assert "first_withdrawal" in payment.flag_codes
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == 4_000


def test_notification_is_acknowledged_and_recorded_once(piq, player, funded_wallet):
    body = {"userId": str(player.pk), "txId": "piq-dep-9", "txState": "SUCCESSFUL", "statusCode": "OK"}
    before = state(funded_wallet)

    first = piq("notification", body)
    again = piq("notification", body)
    other = piq("notification", {**body, "txState": "CANCELLED"})

    assert first.body == again.body == other.body == {"userId": str(player.pk), "success": True}
    after = state(funded_wallet)
    assert after["calls"] == before["calls"] + 2
    assert {k: v for k, v in after.items() if k != "calls"} == {
        k: v for k, v in before.items() if k != "calls"
    }
    assert ProviderCall.objects.filter(action="notification", tx_id__startswith="piq-dep-9:").count() == 2


def test_a_deposit_transferred_with_another_amount_is_credited_as_authorized_and_reported(
    piq, player, funded_wallet, open_policy
):
    authorized = deposit_body(player, amount="25.50")
    answer = piq("authorize", authorized).body

    reply = piq("transfer", transfer_body(player, authorized, answer, txAmount="30.00"))

    payment = Payment.objects.get(provider_reference="piq-dep-1")
    assert reply.body["success"] is True
    assert payment.status == Status.COMPLETED
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH + 2_550
    incident = PaymentIncident.objects.get()
    assert (incident.payment, incident.code) == (payment, "transfer_amount_mismatch")
    assert incident.detail["authorized"] == 2_550
    assert incident.detail["txAmount"] == "30.00"


def test_a_withdrawal_paid_for_less_releases_the_rest(piq, player, funded_wallet, open_policy):
    authorized = withdrawal_body(player, amount="-40.00")
    answer = piq("authorize", authorized).body

    reply = piq("transfer", transfer_body(player, authorized, answer, txAmount="-35.00"))

    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert reply.body["success"] is True
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - 3_500, 0)


def test_a_withdrawal_paid_for_more_is_accepted_even_into_debt(piq, player, funded_wallet, open_policy):
    # Given the player withdraws everything they have
    authorized = withdrawal_body(player, amount="-1000.00")
    answer = piq("authorize", authorized).body

    # When PaymentIQ reports paying out 10.00 more than reserved (the money has gone)
    reply = piq("transfer", transfer_body(player, authorized, answer, txAmount="-1010.00"))

    # Then the transfer is accepted, the difference is owed, and the payment is flagged
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    payment = Payment.objects.get(provider_reference="piq-wd-1")
    assert reply.body["success"] is True
    assert (wallet.cash, wallet.reserved, wallet.debt) == (0, 0, 1_000)
    assert payment.status == Status.PAID
    assert "paid_more_than_reserved" in payment.flag_codes


def test_a_withdrawal_transferred_while_held_for_review_is_believed_and_flagged(
    piq, player, funded_wallet, policy
):
    # The default policy holds a first withdrawal for review
    authorized = withdrawal_body(player)
    answer = piq("authorize", authorized).body
    assert Payment.objects.get(provider_reference="piq-wd-1").status == Status.PENDING_REVIEW

    reply = piq("transfer", transfer_body(player, authorized, answer))

    payment = Payment.objects.get(provider_reference="piq-wd-1")
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert reply.body["success"] is True
    assert payment.status == Status.PAID
    assert "paid_before_approval" in payment.flag_codes
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - 4_000, 0)
    assert list(PaymentIncident.objects.values_list("code", flat=True)) == ["paid_before_approval"]


def test_a_transfer_with_the_wrong_sign_is_refused_and_reported(piq, player, funded_wallet, open_policy):
    authorized = deposit_body(player)
    answer = piq("authorize", authorized).body
    before = state(funded_wallet)

    reply = piq("transfer", transfer_body(player, authorized, answer, txAmount="-25.50"))

    assert reply.body == {
        "userId": str(player.pk),
        "success": False,
        "errCode": "invalid_amount",
        "errMsg": "A deposit transfer cannot be -25.50.",
    }
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert after["ledger"] == before["ledger"]
    assert list(PaymentIncident.objects.values_list("code", "detail__errCode")) == [
        ("transfer_refused", "invalid_amount")
    ]


def test_a_cancel_of_a_withdrawal_sent_for_payout_fails_it_and_releases_the_reserve(
    piq, player, funded_wallet, open_policy
):
    from apps.core.actors import system_actor
    from apps.payments import services

    authorized = withdrawal_body(player)
    answer = piq("authorize", authorized).body
    payment = Payment.objects.get(provider_reference="piq-wd-1")
    services.withdrawal_process(payment_id=payment.pk, actor=system_actor("test"))

    reply = piq("cancel", cancel_body(player, authorized, answer))

    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert reply.body == {"userId": str(player.pk), "success": True}
    assert Payment.objects.get(pk=payment.pk).status == Status.FAILED
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH, 0)
