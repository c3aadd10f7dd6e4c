"""Whatever PaymentIQ (or anyone holding its credentials) sends, the answer is HTTP 200 with
success false and a clear errCode, and nothing changes: no payment, no ledger row, no
call record, no incident."""

import pytest

from tests.payments.paymentiq.conftest import deposit_body, state, withdrawal_body


def _refused(reply, err_code: str, user_id: str = "") -> None:
    assert reply.status == 200
    assert reply.body["success"] is False
    assert reply.body["errCode"] == err_code, reply.body
    assert reply.body["userId"] == user_id
    assert reply.body["errMsg"]


@pytest.mark.parametrize(
    ("raw", "err_code"),
    [
        (b"", "invalid_request"),
        (b"{not json", "invalid_request"),
        (b"\xff\xfe\x00garbage", "invalid_request"),
        (b"[1, 2, 3]", "invalid_request"),
        (b'"a string"', "invalid_request"),
        (b"null", "invalid_request"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_request"),
        (b"{}", "missing_field"),
    ],
    ids=["empty", "not-json", "not-utf8", "array", "string", "null", "deeply-nested", "empty-object"],
)
@pytest.mark.parametrize("action", ["verifyuser", "authorize", "transfer", "cancel"])
def test_a_body_that_is_not_a_call_is_refused(piq, player, funded_wallet, open_policy, raw, err_code, action):
    before = state(funded_wallet)

    _refused(piq(action, raw), err_code)

    assert state(funded_wallet) == before


def test_notification_still_needs_a_json_object(piq, funded_wallet):
    before = state(funded_wallet)

    _refused(piq("notification", b"[]"), "invalid_request")

    assert state(funded_wallet) == before


@pytest.mark.parametrize(
    "missing", ["userId", "txAmount", "txAmountCy", "txId", "txTypeId", "txName", "provider"]
)
def test_an_authorize_without_a_required_field_is_refused(piq, player, funded_wallet, open_policy, missing):
    body = deposit_body(player)
    del body[missing]
    before = state(funded_wallet)

    reply = piq("authorize", body)

    _refused(reply, "missing_field", "" if missing == "userId" else str(player.pk))
    assert reply.body["errMsg"] == f"Missing {missing}."
    assert state(funded_wallet) == before


@pytest.mark.parametrize(
    ("field", "value", "err_code"),
    [
        ("userId", 12, "invalid_field"),
        ("userId", "abc", "user_not_found"),
        ("userId", "0", "user_not_found"),
        ("userId", "99999999999999999", "user_not_found"),
        ("txAmount", 25.5, "invalid_field"),
        ("txAmount", 2550, "invalid_field"),
        ("txAmount", True, "invalid_field"),
        ("txAmount", "", "invalid_field"),
        ("txAmount", "25.505", "amount_not_exact"),
        ("txAmount", "1.00000000000000000000000000001", "amount_not_exact"),
        ("txAmount", "0.00", "invalid_amount"),
        ("txAmount", "-0", "invalid_amount"),
        ("txAmount", "1e3", "invalid_amount"),
        ("txAmount", "NaN", "invalid_amount"),
        ("txAmount", "Infinity", "invalid_amount"),
        ("txAmount", "12,50", "invalid_amount"),
        ("txAmount", " 12.50", "invalid_amount"),
        ("txAmount", "92233720368547758.08", "invalid_amount"),
        ("txAmount", "-92233720368547758.08", "invalid_amount"),
        ("txAmount", "9" * 40, "invalid_amount"),
        ("txAmount", "9" * 41, "invalid_field"),
        ("txAmountCy", "gbp", "currency_not_offered"),
        ("txAmountCy", "EUR", "currency_not_offered"),
        ("txAmountCy", "XXX", "currency_not_offered"),
        ("txAmountCy", "GBPX", "invalid_field"),
        ("txAmountCy", ["GBP"], "invalid_field"),
        ("txId", "", "invalid_field"),
        ("txId", "x" * 129, "invalid_field"),
        ("txId", "tx\x00id", "invalid_field"),
        ("txId", 123, "invalid_field"),
        ("txTypeId", True, "invalid_field"),
        ("txTypeId", -1, "invalid_field"),
        ("txTypeId", {"id": 1}, "invalid_field"),
        ("txName", "PigeonPostDeposit", "unknown_payment_method"),
        ("txName", "CreditcardWithdrawal", "invalid_amount"),
        ("attributes", "cardType=DEBIT", "invalid_field"),
        ("attributes", {}, "card_type_unknown"),
        ("attributes", {"cardType": "GOLD"}, "card_type_unknown"),
        ("accountId", 4111, "invalid_field"),
        ("maskedAccount", "x" * 65, "invalid_field"),
    ],
)
def test_an_authorize_with_a_wrong_value_is_refused(
    piq, player, funded_wallet, open_policy, field, value, err_code
):
    body = deposit_body(player, **{field: value})
    before = state(funded_wallet)

    reply = piq("authorize", body)

    _refused(
        reply,
        err_code,
        str(player.pk) if field != "userId" else str(value) if isinstance(value, str) else "12",
    )
    assert state(funded_wallet) == before


def test_a_huge_withdrawal_is_refused_without_reserving_anything(piq, player, funded_wallet, open_policy):
    before = state(funded_wallet)

    reply = piq("authorize", withdrawal_body(player, amount="-9999999999.99"))

    _refused(reply, "insufficient_funds", str(player.pk))
    after = state(funded_wallet)
    assert after["wallet"] == before["wallet"]
    assert (after["payments"], after["ledger"]) == (before["payments"], before["ledger"])


@pytest.mark.parametrize(
    ("field", "value", "err_code"),
    [
        ("txAmount", "25.501", "amount_not_exact"),
        ("txAmount", 25.5, "invalid_field"),
        ("txAmountCy", "SEK", "currency_not_offered"),
        ("txId", None, "missing_field"),
        ("authCode", 7, "invalid_field"),
    ],
)
def test_a_transfer_with_a_wrong_value_is_refused(
    piq, player, funded_wallet, open_policy, field, value, err_code
):
    answer = piq("authorize", deposit_body(player)).body
    body = {
        "userId": str(player.pk),
        "authCode": answer["authCode"],
        "txAmount": "25.50",
        "txAmountCy": "GBP",
        "txId": "piq-dep-1",
        field: value,
    }
    before = state(funded_wallet)

    _refused(piq("transfer", body), err_code, str(player.pk))

    assert state(funded_wallet) == before


def test_an_oversized_body_is_refused_cleanly(piq, player, funded_wallet, open_policy, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = deposit_body(player, attributes={"cardType": "DEBIT", "padding": "x" * 2048})
    before = state(funded_wallet)

    reply = piq("authorize", body)

    _refused(reply, "request_too_large")
    assert state(funded_wallet) == before


def test_unknown_fields_are_ignored(piq, player, funded_wallet, open_policy):
    reply = piq("authorize", deposit_body(player, somethingNew={"nested": [1, 2]}, txRefId="r-1"))

    assert (reply.status, reply.body["success"]) == (200, True)


def test_an_unexpected_error_answers_internal_error_and_keeps_nothing(
    piq, player, funded_wallet, open_policy, monkeypatch
):
    # Given the core fails in a way nobody planned for (a bug, a lost connection)
    from apps.payments import services

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "deposit_initiate", broken)
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player))

    # Then PaymentIQ gets an answer (not a 500), and the claim is gone: its retry is a first call
    assert reply.status == 200
    assert reply.body == {
        "userId": "",
        "success": False,
        "errCode": "internal_error",
        "errMsg": "The call could not be processed; retry it.",
    }
    assert state(funded_wallet) == before
    monkeypatch.undo()
    assert piq("authorize", deposit_body(player)).body["success"] is True
