"""The issue's payload-shape test: PaymentIQ changes its format, only the adapter notices."""

import pytest

from apps.payments import services
from tests.payments.paymentiq.conftest import deposit_body, state, transfer_body, withdrawal_body


@pytest.fixture
def core_calls(monkeypatch):
    """Every call the adapter makes into the payments core, recorded (and still carried out)."""
    calls = []
    for name in (
        "deposit_initiate",
        "deposit_confirm",
        "withdrawal_request",
        "withdrawal_paid",
        "payment_cancel",
        "payment_fail",
        "incident_record",
    ):
        real = getattr(services, name)

        def spy(*args, _name=name, _real=real, **kwargs):
            calls.append((_name, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, spy)
    return calls


def test_a_renamed_provider_field_is_refused_by_the_adapter_alone(
    piq, player, funded_wallet, open_policy, core_calls
):
    """PaymentIQ renames txAmount to amount: the adapter's parsing refuses the call.

    The core never sees the provider's format. apps.payments.services takes keyword
    arguments in its own terms (player, amount in minor units, currency code, Method, card
    type, provider reference, AccountInfo); only apps/payments/providers/paymentiq/protocol.py
    knows PaymentIQ's field names. So when PaymentIQ's payload changes shape, the refusal
    comes from the adapter's parsing (success false, errCode missing_field, naming the
    field), before any service is called: no payment, no ledger row, no call record, no
    incident, the wallet untouched. Adapting to the new name is a change to protocol.py
    and nothing else; the same services then serve the new shape unchanged.
    """
    # Given PaymentIQ's new payload, with txAmount renamed to amount
    renamed = deposit_body(player)
    renamed["amount"] = renamed.pop("txAmount")
    renamed_withdrawal = withdrawal_body(player)
    renamed_withdrawal["amount"] = renamed_withdrawal.pop("txAmount")
    before = state(funded_wallet)

    # When it calls authorize with it
    replies = [piq("authorize", renamed), piq("authorize", renamed_withdrawal)]

    # Then only the adapter answered: a clear refusal naming the missing field ...
    for reply in replies:
        assert reply.status == 200
        assert reply.body == {
            "userId": str(player.pk),
            "success": False,
            "errCode": "missing_field",
            "errMsg": "Missing txAmount.",
        }
    # ... the core was never called, and nothing changed
    assert core_calls == []
    assert state(funded_wallet) == before

    # And with the field under the name the adapter knows, the same core serves the call
    authorized = deposit_body(player)
    answer = piq("authorize", authorized)
    transferred = piq("transfer", transfer_body(player, authorized, answer.body))
    assert (answer.body["success"], transferred.body["success"]) == (True, True)
    assert [name for name, _kwargs in core_calls] == ["deposit_initiate", "deposit_confirm"]
    initiate = core_calls[0][1]
    # the core got its own terms, not PaymentIQ's: minor units, our method names, our ids
    assert {key: initiate[key] for key in ("amount", "currency", "method", "card_type", "provider")} == {
        "amount": 2_550,
        "currency": "GBP",
        "method": "card",
        "card_type": "debit",
        "provider": "paymentiq",
    }
    assert initiate["player"] == player
    assert initiate["provider_reference"] == "piq-dep-1"
    assert (initiate["account"].ref, initiate["account"].masked) == ("acc-4111", "411111******1111")
    assert not any(key.startswith("tx") for key in initiate)


@pytest.mark.parametrize(
    ("rename", "to"),
    [("userId", "user_id"), ("txAmountCy", "currency"), ("txId", "transactionId"), ("txName", "name")],
)
def test_any_renamed_required_field_is_refused_before_the_core(
    piq, player, funded_wallet, open_policy, core_calls, rename, to
):
    body = deposit_body(player)
    body[to] = body.pop(rename)
    before = state(funded_wallet)

    reply = piq("authorize", body)

    assert reply.body["success"] is False
    assert (reply.body["errCode"], reply.body["errMsg"]) == ("missing_field", f"Missing {rename}.")
    assert core_calls == []
    assert state(funded_wallet) == before
