"""The player's payments API: their own list, withdrawals by bank transfer (and taking them
back), deposits by bank transfer; clear 4xx answers that change nothing."""

import hashlib

import pytest
from auditlog.models import LogEntry
from rest_framework import serializers
from rest_framework.test import APIClient

from apps.core.models import Event
from apps.payments import services
from apps.payments.models import Payment, PaymentAccount, ReviewAction, Status
from apps.players import services as player_services
from apps.responsible_gaming import services as rg_services
from apps.wallet.models import Wallet
from tests.factories import PLAYER_PASSWORD, PlayerFactory
from tests.payments.conftest import PROVIDER, STARTING_CASH

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/player/payments"
WITHDRAW_URL = "/api/v1/player/payments/withdrawals"
DEPOSIT_URL = "/api/v1/player/payments/deposits"
IBAN = "GB29 NWBK 6016 1331 9268 19"
IBAN_COMPACT = "GB29NWBK60161331926819"
PLAYER_FIELDS = {
    "id",
    "reference",
    "kind",
    "method",
    "amount",
    "currency",
    "status",
    "cancellable",
    "account",
    "created_at",
    "updated_at",
}


def client_of(player) -> APIClient:
    _, key, _ = player_services.player_login(
        brand_code=player.brand.code, login=player.username, password=PLAYER_PASSWORD
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def when(value) -> str:
    return serializers.DateTimeField().to_representation(value)


def withdraw_body(**changes) -> dict:
    return {
        "amount": "12.50",
        "currency": "GBP",
        "method": "bank_transfer",
        "account": {"iban": IBAN},
        **changes,
    }


def cash_and_reserved(wallet) -> tuple[int, int]:
    wallet = Wallet.objects.get(pk=wallet.pk)
    return wallet.cash, wallet.reserved


@pytest.fixture
def api(player):
    return client_of(player)


@pytest.fixture
def bob(brand):
    """Another verified player of the same brand, with money."""
    from apps.wallet.services import deposit_credit, wallet_get_or_create

    other = PlayerFactory(brand=brand, kyc_status="verified", username="bob")
    wallet = wallet_get_or_create(player=other, currency_code="GBP")
    deposit_credit(wallet=wallet, amount=50_000, source="test", external_id="fund-bob", actor=PROVIDER)
    return other


# --- the list --------------------------------------------------------------------------------


def test_the_player_lists_their_own_payments_newest_first(api, player, bob, deposit, withdrawal, policy):
    # given: a completed deposit and a later withdrawal of the player, and Bob's withdrawal
    paid_in = deposit(amount=2_500)
    services.deposit_confirm(payment_id=paid_in.pk, actor=PROVIDER)
    taken_out = withdrawal(amount=1_234)
    services.withdrawal_request(
        player=bob, amount=700, currency="GBP", method="card", provider="paymentiq", actor=PROVIDER
    )
    paid_in.refresh_from_db()

    # when
    response = api.get(LIST_URL)

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert body["results"] == [
        {
            "id": taken_out.pk,
            "reference": str(taken_out.reference),
            "kind": "withdrawal",
            "method": "card",
            "amount": "12.34",
            "currency": "GBP",
            "status": "pending",  # in the review queue: the player is not told why
            "cancellable": True,
            "account": None,
            "created_at": when(taken_out.created_at),
            "updated_at": when(taken_out.updated_at),
        },
        {
            "id": paid_in.pk,
            "reference": str(paid_in.reference),
            "kind": "deposit",
            "method": "card",
            "amount": "25.00",
            "currency": "GBP",
            "status": "completed",
            "cancellable": False,
            "account": None,
            "created_at": when(paid_in.created_at),
            "updated_at": when(paid_in.updated_at),
        },
    ]
    assert taken_out.status == Status.PENDING_REVIEW and taken_out.risk_flags


def test_the_list_is_paged_by_cursor(api, deposit, policy):
    # given
    first, second, third = deposit(amount=100), deposit(amount=200), deposit(amount=300)

    # when
    page_one = api.get(LIST_URL, {"page_size": 2}).json()
    page_two = api.get(page_one["next"]).json()

    # then
    assert [row["id"] for row in page_one["results"]] == [third.pk, second.pk]
    assert [row["id"] for row in page_two["results"]] == [first.pk]
    assert page_two["next"] is None


def test_a_player_with_no_payments_gets_an_empty_list(api):
    response = api.get(LIST_URL)

    assert (response.status_code, response.json()) == (200, {"next": None, "previous": None, "results": []})


@pytest.mark.parametrize("url", [LIST_URL, WITHDRAW_URL, DEPOSIT_URL, f"{WITHDRAW_URL}/1/cancel"])
def test_the_player_api_needs_a_player_token(player, reviewer, url):
    anonymous = APIClient()
    staff = APIClient()
    # A staff identity forced onto the request: IsPlayer refuses it (a real staff session
    # is not even read by the player API's token authentication).
    staff.force_authenticate(user=reviewer)
    method = "get" if url == LIST_URL else "post"

    unauthenticated = getattr(anonymous, method)(url, {}, format="json")
    as_staff = getattr(staff, method)(url, {}, format="json")

    assert (unauthenticated.status_code, unauthenticated.json()["error"]["code"]) == (
        401,
        "not_authenticated",
    )
    assert (as_staff.status_code, as_staff.json()["error"]["code"]) == (403, "permission_denied")
    assert not Payment.objects.exists()


# --- withdrawals -----------------------------------------------------------------------------


def test_the_player_asks_for_a_bank_withdrawal(api, player, funded_wallet, policy):
    # when
    response = api.post(WITHDRAW_URL, withdraw_body(), format="json")

    # then
    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    assert response.json() == {
        "id": payment.pk,
        "reference": str(payment.reference),
        "kind": "withdrawal",
        "method": "bank_transfer",
        "amount": "12.50",
        "currency": "GBP",
        "status": "pending",
        "cancellable": True,
        "account": "GB** **** **** 6819",
        "created_at": when(payment.created_at),
        "updated_at": when(payment.updated_at),
    }
    assert (payment.player_id, payment.amount, payment.provider, payment.method) == (
        player.pk,
        1_250,
        "manual_bank",
        "bank_transfer",
    )
    assert payment.status == Status.PENDING_REVIEW
    assert "new_payment_account" in payment.flag_codes
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH - 1_250, 1_250)
    account = PaymentAccount.objects.get()
    assert (account.player_id, account.method, account.account_ref, account.masked) == (
        player.pk,
        "bank_transfer",
        "iban-sha256:" + hashlib.sha256(IBAN_COMPACT.encode()).hexdigest(),
        "GB** **** **** 6819",
    )


def test_the_iban_is_stored_only_hashed_and_masked(api, funded_wallet, policy):
    # when
    api.post(WITHDRAW_URL, withdraw_body(), format="json")

    # then: neither the IBAN nor its account number is in any row written
    written = [
        *PaymentAccount.objects.values_list(),
        *Payment.objects.values_list(),
        *Event.objects.values_list(),
        *LogEntry.objects.values_list(),
        *ReviewAction.objects.values_list(),
    ]
    assert written
    assert "31926819" not in repr(written)
    assert "NWBK" not in repr(written)


def test_the_same_iban_however_spelt_is_one_account(api, funded_wallet, policy):
    # when
    first = api.post(WITHDRAW_URL, withdraw_body(), format="json")
    second = api.post(WITHDRAW_URL, withdraw_body(account={"iban": "gb29nwbk60161331926819"}), format="json")

    # then
    assert (first.status_code, second.status_code) == (201, 201)
    assert PaymentAccount.objects.count() == 1
    assert set(Payment.objects.values_list("account_id", flat=True)) == {PaymentAccount.objects.get().pk}


def test_a_withdrawal_above_the_balance_is_refused_and_changes_nothing(api, funded_wallet, policy):
    # when
    response = api.post(WITHDRAW_URL, withdraw_body(amount="1000.01"), format="json")

    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert not Payment.objects.exists() and not PaymentAccount.objects.exists()
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH, 0)


def test_a_player_without_kyc_cannot_withdraw(brand, policy):
    # given: GB requires a verified identity before a withdrawal
    from apps.wallet.services import deposit_credit, wallet_get_or_create

    unverified = PlayerFactory(brand=brand, kyc_status="pending")
    wallet = wallet_get_or_create(player=unverified, currency_code="GBP")
    deposit_credit(wallet=wallet, amount=10_000, source="test", external_id="fund-kyc", actor=PROVIDER)

    # when
    response = client_of(unverified).post(WITHDRAW_URL, withdraw_body(), format="json")

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "kyc_required"
    assert not Payment.objects.exists()
    assert cash_and_reserved(wallet) == (10_000, 0)


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"amount": "12.345"}, "amount", "GBP amounts have at most 2 decimals."),
        ({"amount": "1.00000000000000000000000000001"}, "amount", "GBP amounts have at most 2 decimals."),
        ({"amount": "0.00"}, "amount", "The amount must be more than zero."),
        ({"amount": "0"}, "amount", "The amount must be more than zero."),
        ({"amount": "-5.00"}, "amount", 'Enter a decimal amount such as "12.50".'),
        ({"amount": "1e3"}, "amount", 'Enter a decimal amount such as "12.50".'),
        ({"amount": "NaN"}, "amount", 'Enter a decimal amount such as "12.50".'),
        ({"amount": "12,50"}, "amount", 'Enter a decimal amount such as "12.50".'),
        ({"amount": "99999999999999999999"}, "amount", "The amount is too large."),
        ({"amount": "92233720368547758.08"}, "amount", "The amount is too large."),
        ({"amount": 12.5}, "amount", 'Send the amount as a decimal string such as "12.50".'),
        ({"amount": 1250}, "amount", 'Send the amount as a decimal string such as "12.50".'),
        ({"amount": None}, "amount", "This field may not be null."),
        ({"currency": "XYZ"}, "currency", "Unknown currency."),
        ({"currency": "gbp"}, "currency", "This value does not match the required pattern."),
        ({"method": "card"}, "method", "Only bank_transfer is offered here."),
        ({"method": "cheque"}, "method", '"cheque" is not a valid choice.'),
    ],
)
def test_bad_withdrawal_input_is_a_400_naming_the_field(api, funded_wallet, policy, changes, field, message):
    # when
    response = api.post(WITHDRAW_URL, withdraw_body(**changes), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid", "message": "The request is not valid.", "fields": {field: [message]}}
    }
    assert not Payment.objects.exists()
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH, 0)


@pytest.mark.parametrize(
    "account, fields",
    [
        ({"iban": "GB28 NWBK 6016 1331 9268 19"}, {"account": {"iban": ["Enter a valid IBAN."]}}),
        ({"iban": "GB29NWBK"}, {"account": {"iban": ["Enter a valid IBAN."]}}),
        ({"iban": "ǅǅǅǅǅǅǅǅǅǅǅǅǅǅǅ"}, {"account": {"iban": ["Enter a valid IBAN."]}}),
        ({"iban": ""}, {"account": {"iban": ["This field may not be blank."]}}),
        ({}, {"account": {"iban": ["This field is required."]}}),
        (
            "GB29NWBK60161331926819",
            {"account": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}},
        ),
        (None, {"account": ["This field may not be null."]}),
    ],
)
def test_a_bad_bank_account_is_a_400(api, funded_wallet, policy, account, fields):
    # when
    response = api.post(WITHDRAW_URL, withdraw_body(account=account), format="json")

    # then
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == fields
    assert not Payment.objects.exists() and not PaymentAccount.objects.exists()


def test_a_withdrawal_needs_a_bank_account(api, funded_wallet, policy):
    body = withdraw_body()
    del body["account"]

    response = api.post(WITHDRAW_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"account": ["This field is required."]}
    assert not Payment.objects.exists()


def test_a_withdrawal_in_a_currency_without_a_wallet_is_refused(api, funded_wallet, policy):
    response = api.post(WITHDRAW_URL, withdraw_body(currency="EUR"), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "no_wallet", "message": "The player has no EUR wallet."}
    assert not Payment.objects.exists()


# --- taking a withdrawal back ----------------------------------------------------------------


def test_the_player_cancels_their_withdrawal_and_gets_the_money_back(api, funded_wallet, policy):
    # given
    created = api.post(WITHDRAW_URL, withdraw_body(), format="json").json()

    # when
    response = api.post(f"{WITHDRAW_URL}/{created['id']}/cancel")

    # then
    assert response.status_code == 200
    payment = Payment.objects.get()
    assert response.json() == {
        **created,
        "status": "cancelled",
        "cancellable": False,
        "updated_at": when(payment.updated_at),
    }
    assert payment.status == Status.CANCELLED
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH, 0)


def test_cancelling_twice_answers_the_cancelled_withdrawal(api, funded_wallet, policy):
    created = api.post(WITHDRAW_URL, withdraw_body(), format="json").json()

    first = api.post(f"{WITHDRAW_URL}/{created['id']}/cancel")
    second = api.post(f"{WITHDRAW_URL}/{created['id']}/cancel")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "cancelled"
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH, 0)


def test_another_players_withdrawal_is_not_found_like_a_missing_one(api, bob, funded_wallet, policy):
    # given
    bobs = services.withdrawal_request(
        player=bob, amount=700, currency="GBP", method="card", provider="paymentiq", actor=PROVIDER
    )
    before = Payment.objects.values().get(pk=bobs.pk)

    # when
    theirs = api.post(f"{WITHDRAW_URL}/{bobs.pk}/cancel")
    missing = api.post(f"{WITHDRAW_URL}/{bobs.pk + 1000}/cancel")

    # then
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert (
        theirs.json()
        == missing.json()
        == {"error": {"code": "payment_not_found", "message": "No such payment."}}
    )
    assert Payment.objects.values().get(pk=bobs.pk) == before


def test_a_deposit_cannot_be_cancelled_as_a_withdrawal(api, deposit, policy):
    payment = deposit(amount=1_000)

    response = api.post(f"{WITHDRAW_URL}/{payment.pk}/cancel")

    assert response.status_code == 404
    assert Payment.objects.get(pk=payment.pk).status == Status.PENDING


def test_a_withdrawal_sent_for_payout_cannot_be_cancelled(api, withdrawal, reviewer, policy, funded_wallet):
    # given: approved and handed to the provider
    payment = withdrawal(amount=2_000)
    services.review_claim(actor=reviewer, payment_id=payment.pk)
    services.review_approve(actor=reviewer, payment_id=payment.pk)
    services.withdrawal_process(payment_id=payment.pk, actor=PROVIDER)

    # when
    response = api.post(f"{WITHDRAW_URL}/{payment.pk}/cancel")

    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    assert Payment.objects.get(pk=payment.pk).status == Status.PROCESSING
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH - 2_000, 2_000)


@pytest.mark.parametrize("payment_id", ["abc", "-1", "1.5", "9" * 19, "9" * 40])
def test_a_malformed_payment_id_is_a_json_404(api, payment_id):
    response = api.post(f"{WITHDRAW_URL}/{payment_id}/cancel")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- deposits --------------------------------------------------------------------------------


def test_the_player_announces_a_bank_deposit_and_gets_the_reference(api, player, funded_wallet, policy):
    # when
    response = api.post(
        DEPOSIT_URL, {"amount": "25", "currency": "GBP", "method": "bank_transfer"}, format="json"
    )

    # then
    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    assert response.json() == {
        "id": payment.pk,
        "reference": str(payment.reference),
        "bank_reference": str(payment.reference),
        "kind": "deposit",
        "method": "bank_transfer",
        "amount": "25.00",
        "currency": "GBP",
        "status": "pending",
        "cancellable": False,
        "account": None,
        "created_at": when(payment.created_at),
        "updated_at": when(payment.updated_at),
    }
    assert (payment.player_id, payment.amount, payment.provider, payment.status) == (
        player.pk,
        2_500,
        "manual_bank",
        Status.PENDING,
    )
    assert cash_and_reserved(funded_wallet) == (STARTING_CASH, 0)  # credited when the money arrives


def test_a_large_deposit_waits_for_review_without_telling_the_player_why(api, funded_wallet, policy):
    # when: at the GB pack's AML review threshold (1,700.00 GBP)
    response = api.post(DEPOSIT_URL, {"amount": "1700.00", "currency": "GBP"}, format="json")

    # then
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    assert "risk_flags" not in response.json() and "queue" not in response.json()
    payment = Payment.objects.get()
    assert (payment.status, payment.flag_codes) == (Status.FLAGGED, ["aml_threshold"])


def test_a_deposit_over_the_players_deposit_limit_is_refused_with_403(api, player, policy):
    # given
    rg_services.limit_set(actor=player, player=player, kind="deposit", period="day", amount=1_000)

    # when
    response = api.post(DEPOSIT_URL, {"amount": "10.01", "currency": "GBP"}, format="json")

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "deposit_limit"
    assert not Payment.objects.exists()


def test_a_player_on_a_time_out_cannot_deposit(api, player, policy):
    # given
    rg_services.timeout_start(actor=player, player=player, hours=24)

    # when
    response = api.post(DEPOSIT_URL, {"amount": "10.00", "currency": "GBP"}, format="json")

    # then: compliance.check inside deposit_initiate refuses
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "timed_out",
        "message": "The player is on a time-out.",
        "details": {"rule": "responsible_gaming.exclusion"},
    }
    assert not Payment.objects.exists()


def test_a_player_without_kyc_cannot_deposit(brand, policy):
    unverified = PlayerFactory(brand=brand, kyc_status="not_started")

    response = client_of(unverified).post(DEPOSIT_URL, {"amount": "10.00", "currency": "GBP"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "kyc_required"
    assert not Payment.objects.exists()


def test_a_deposit_in_a_currency_the_brand_does_not_offer_is_refused(api, policy):
    response = api.post(DEPOSIT_URL, {"amount": "10.00", "currency": "SEK"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "currency_not_offered",
        "message": "SEK is not offered by this brand.",
    }
    assert not Payment.objects.exists()


def test_a_player_who_self_excludes_cannot_deposit_with_the_token_they_hold(api, player, policy):
    # given: a signed-in player self-excludes (6 months, this brand)
    rg_services.self_exclusion_start(actor=player, player=player, months=6)

    # when: the same session tries to deposit
    response = api.post(DEPOSIT_URL, {"amount": "10.00", "currency": "GBP"}, format="json")

    # then: compliance.check inside deposit_initiate refuses, and nothing was written
    assert (response.status_code, response.json()["error"]["code"]) == (403, "self_excluded")
    assert not Payment.objects.exists()
