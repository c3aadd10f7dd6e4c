"""txId is the idempotency key: a different call under a used txId is refused and changes
nothing; a transfer after a cancel and a cancel after a transfer are refused and recorded
for a person (once, however often PaymentIQ repeats them)."""

from apps.payments.models import Payment, PaymentIncident, ProviderCall, Status
from apps.wallet.models import Wallet
from tests.payments.conftest import STARTING_CASH
from tests.payments.paymentiq.conftest import (
    cancel_body,
    deposit_body,
    state,
    transfer_body,
    withdrawal_body,
)


def _duplicate(player, action: str) -> dict:
    return {
        "userId": str(player.pk),
        "success": False,
        "errCode": "duplicate_transaction",
        "errMsg": f"This txId was used for a different {action} request.",
    }


def test_an_authorize_reusing_a_txid_with_another_amount_is_refused(piq, player, funded_wallet, open_policy):
    first = piq("authorize", deposit_body(player, amount="25.50"))
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player, amount="99.00"))

    assert reply.status == 200
    assert reply.body == _duplicate(player, "authorize")
    assert state(funded_wallet) == before
    # and the original answer is still the original
    assert piq("authorize", deposit_body(player, amount="25.50")).body == first.body


def test_an_authorize_reusing_a_txid_for_a_withdrawal_is_refused(piq, player, funded_wallet, open_policy):
    piq("authorize", deposit_body(player, tx_id="tx-1"))
    before = state(funded_wallet)

    reply = piq("authorize", withdrawal_body(player, tx_id="tx-1"))

    assert reply.body == _duplicate(player, "authorize")
    assert state(funded_wallet) == before


def test_a_transfer_reusing_its_txid_with_another_amount_is_refused(piq, player, funded_wallet, open_policy):
    authorized = deposit_body(player)
    answer = piq("authorize", authorized).body
    piq("transfer", transfer_body(player, authorized, answer))
    before = state(funded_wallet)

    reply = piq("transfer", transfer_body(player, authorized, answer, txAmount="30.00"))

    assert reply.body == _duplicate(player, "transfer")
    assert state(funded_wallet) == before
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH + 2_550


def test_a_transfer_after_a_cancel_is_refused_and_recorded_once(piq, player, funded_wallet, open_policy):
    # Given a withdrawal PaymentIQ authorized and then cancelled (the reserve came back)
    authorized = withdrawal_body(player)
    answer = piq("authorize", authorized).body
    piq("cancel", cancel_body(player, authorized, answer))
    payment = Payment.objects.get(provider_reference="piq-wd-1")
    before = state(funded_wallet)

    # When PaymentIQ reports a transfer for it anyway (twice)
    reply = piq("transfer", transfer_body(player, authorized, answer))
    again = piq("transfer", transfer_body(player, authorized, answer))

    # Then it is refused, the wallet is untouched, and one incident waits for a person
    assert reply.body == {
        "userId": str(player.pk),
        "success": False,
        "errCode": "transfer_after_cancel",
        "errMsg": "The payment was cancelled before this transfer.",
    }
    assert again.body == reply.body
    incident = PaymentIncident.objects.get()
    assert (incident.payment, incident.brand_id, incident.provider, incident.code) == (
        payment,
        player.brand_id,
        "paymentiq",
        "transfer_after_cancel",
    )
    assert incident.detail == {
        "action": "transfer",
        "txId": "piq-wd-1",
        "status": "cancelled",
        "txAmount": "-40.00",
    }
    after = state(funded_wallet)
    assert (
        after["wallet"] == before["wallet"] == {"cash": STARTING_CASH, "bonus": 0, "reserved": 0, "debt": 0}
    )
    assert (after["ledger"], after["payments"]) == (before["ledger"], before["payments"])
    assert Payment.objects.get(pk=payment.pk).status == Status.CANCELLED


def test_a_cancel_after_a_transfer_is_refused_and_recorded(piq, player, funded_wallet, open_policy):
    # Given a deposit that was transferred (credited)
    authorized = deposit_body(player)
    answer = piq("authorize", authorized).body
    piq("transfer", transfer_body(player, authorized, answer))
    before = state(funded_wallet)

    # When PaymentIQ cancels it
    reply = piq("cancel", cancel_body(player, authorized, answer))
    again = piq("cancel", cancel_body(player, authorized, answer))

    # Then the cancel is refused, the credit stays, and an incident is recorded once
    assert reply.body == {
        "userId": str(player.pk),
        "success": False,
        "errCode": "cancel_after_transfer",
        "errMsg": "The payment's money has already moved.",
    }
    assert again.body == reply.body
    payment = Payment.objects.get(provider_reference="piq-dep-1")
    assert payment.status == Status.COMPLETED
    assert list(PaymentIncident.objects.values_list("payment_id", "code")) == [
        (payment.pk, "cancel_after_transfer")
    ]
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert after["wallet"]["cash"] == STARTING_CASH + 2_550
    assert after["ledger"] == before["ledger"]


def test_a_cancel_after_a_withdrawal_was_paid_is_refused(piq, player, funded_wallet, open_policy):
    authorized = withdrawal_body(player)
    answer = piq("authorize", authorized).body
    piq("transfer", transfer_body(player, authorized, answer))
    before = state(funded_wallet)

    reply = piq("cancel", cancel_body(player, authorized, answer))

    assert reply.body["errCode"] == "cancel_after_transfer"
    assert Payment.objects.get(provider_reference="piq-wd-1").status == Status.PAID
    after = state(funded_wallet)
    assert (
        after["wallet"]
        == before["wallet"]
        == {"cash": STARTING_CASH - 4_000, "bonus": 0, "reserved": 0, "debt": 0}
    )
    assert after["incidents"] == before["incidents"] + 1


def test_a_transfer_of_a_txid_never_authorized_is_refused_with_an_incident(piq, player, funded_wallet):
    body = {"userId": str(player.pk), "txId": "never-seen", "txAmount": "10.00", "txAmountCy": "GBP"}
    before = state(funded_wallet)

    reply = piq("transfer", body)

    assert reply.body == {
        "userId": str(player.pk),
        "success": False,
        "errCode": "transaction_not_found",
        "errMsg": "No payment was authorized with this txId.",
    }
    incident = PaymentIncident.objects.get()
    assert (incident.payment, incident.code, incident.brand_id) == (None, "transfer_refused", player.brand_id)
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert after["ledger"] == before["ledger"]


def test_a_transfer_with_another_auth_code_is_refused(piq, player, funded_wallet, open_policy):
    authorized = deposit_body(player)
    answer = piq("authorize", authorized).body
    before = state(funded_wallet)

    reply = piq("transfer", transfer_body(player, authorized, {"authCode": "not-ours"}))

    assert reply.body["errCode"] == "auth_code_mismatch"
    assert Payment.objects.get(provider_reference="piq-dep-1").status == Status.PENDING
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert after["ledger"] == before["ledger"]
    assert answer["success"] is True


def test_the_same_txid_may_be_authorized_transferred_and_cancelled_as_separate_calls(
    piq, player, funded_wallet, open_policy
):
    # PaymentIQ keeps one txId for a payment's authorize, transfer and cancel: each is its own call
    authorized = deposit_body(player)
    answer = piq("authorize", authorized).body
    piq("transfer", transfer_body(player, authorized, answer))

    assert sorted(ProviderCall.objects.filter(tx_id="piq-dep-1").values_list("action", flat=True)) == [
        "authorize",
        "transfer",
    ]
    assert set(ProviderCall.objects.values_list("payment__provider_reference", flat=True)) == {"piq-dep-1"}


def test_an_authorize_reusing_a_txid_with_another_card_type_is_refused(
    piq, player, funded_wallet, open_policy
):
    piq("authorize", deposit_body(player, attributes={"cardType": "DEBIT"}))
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player, attributes={"cardType": "CREDIT"}))

    assert reply.body == _duplicate(player, "authorize")
    assert state(funded_wallet) == before
