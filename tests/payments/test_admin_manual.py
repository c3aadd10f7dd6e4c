"""The manual bank transfer adapter's staff doors: record a bank deposit, and mark a manual
payout sent, paid or failed. The money must move exactly, and only for manual payments."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from apps.payments import services
from apps.payments.models import Payment, ReviewPolicy, Status
from apps.wallet.models import LedgerTransaction, Wallet
from tests.factories import BrandFactory, PlayerFactory
from tests.helpers.staff import staff_login
from tests.payments.conftest import STARTING_CASH

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
QUEUE_URL = "/admin/payments/payment/"
RECORD_URL = f"{QUEUE_URL}record-bank-deposit/"


def _client(user) -> Client:
    client = Client()
    staff_login(client, user)
    return client


def _messages(response) -> list[str]:
    if response.context is not None and "messages" in response.context:
        return [str(m) for m in response.context["messages"]]
    return [str(m) for m in get_messages(response.wsgi_request)]


def _act(client, action: str, ids, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in ids], "index": "0", **extra}
    return client.post(f"{QUEUE_URL}?view=all", data, follow=True)


def _balances(wallet) -> tuple[int, int]:
    wallet = Wallet.objects.get(pk=wallet.pk)
    return wallet.cash, wallet.reserved


@pytest.fixture
def review_policy(brand):
    """From 500.00 GBP a payment is reviewed; a first withdrawal is not."""
    return ReviewPolicy.objects.create(
        brand=brand,
        amount_thresholds={"GBP": "500.00"},
        review_first_withdrawal=False,
        review_method_mismatch=False,
        velocity_count=100,
    )


@pytest.fixture
def manual_payout(withdrawal, review_policy):
    """An auto-approved withdrawal of 50.00 GBP to be paid by bank transfer."""

    def make(amount=5_000):
        payment = withdrawal(amount=amount, provider="manual_bank", method="bank_transfer")
        assert payment.status == Status.AUTO_APPROVED
        return payment

    return make


# --- record a bank deposit ------------------------------------------------------------------


def _deposit_form(player, **overrides):
    return {
        "player": str(player.pk),
        "amount": "123.45",
        "currency": "GBP",
        "bank_reference": "BANK-001",
    } | overrides


def test_recorded_bank_deposit_is_credited_exactly(reviewer, player, funded_wallet, review_policy):
    client = _client(reviewer)
    assert client.get(RECORD_URL).status_code == 200

    response = client.post(RECORD_URL, _deposit_form(player), follow=True)

    payment = Payment.objects.get(provider="manual_bank", provider_reference="BANK-001")
    assert _messages(response) == [f"Deposit #{payment.pk} of 123.45 GBP credited to {player}."]
    assert response.redirect_chain[-1][0] == f"{QUEUE_URL}{payment.pk}/change/"
    assert (payment.kind, payment.method, payment.status, payment.amount) == (
        "deposit",
        "bank_transfer",
        Status.COMPLETED,
        12_345,
    )
    assert _balances(funded_wallet) == (STARTING_CASH + 12_345, 0)
    assert LedgerTransaction.objects.filter(payment_ref=str(payment.reference)).count() == 1


def test_flagged_bank_deposit_waits_funded_in_the_queue(reviewer, player, funded_wallet, review_policy):
    client = _client(reviewer)

    response = client.post(RECORD_URL, _deposit_form(player, amount="600.00"), follow=True)

    payment = Payment.objects.get(provider_reference="BANK-001")
    assert (payment.status, payment.funds_received, payment.flag_codes) == (
        Status.FLAGGED,
        True,
        ["large_amount"],
    )
    assert _messages(response) == [
        f"Deposit #{payment.pk} of 600.00 GBP is held for review (large_amount);"
        " it is credited once approved."
    ]
    assert _balances(funded_wallet) == (STARTING_CASH, 0)
    client.post(f"{QUEUE_URL}{payment.pk}/step/claim/")
    client.post(f"{QUEUE_URL}{payment.pk}/step/approve/", {"reason": "statement checked"})
    assert Payment.objects.get(pk=payment.pk).status == Status.COMPLETED
    assert _balances(funded_wallet) == (STARTING_CASH + 60_000, 0)


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"amount": "1.234"}, "amount", "1.234 has more than 2 decimals."),
        ({"amount": "abc"}, "amount", "'abc' is not a decimal amount."),
        ({"amount": "0.00"}, "amount", "The amount must be positive."),
        ({"amount": "-5"}, "amount", "The amount must be positive."),
        ({"amount": "NaN"}, "amount", "'NaN' is not a decimal amount."),
        (
            {"currency": "SEK"},
            "currency",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
        ({"bank_reference": "  "}, "bank_reference", "This field is required."),
    ],
)
def test_bad_deposit_input_is_refused_and_changes_nothing(
    reviewer, player, funded_wallet, review_policy, other_brand, overrides, field, error
):
    # other_brand: SEK exists as a currency, but not in the reviewer's brands.
    response = _client(reviewer).post(RECORD_URL, _deposit_form(player, **overrides))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    assert Payment.objects.count() == 0
    assert _balances(funded_wallet) == (STARTING_CASH, 0)


def test_a_currency_of_another_of_ones_brands_is_refused(
    make_staff, brand, player, funded_wallet, review_policy
):
    sister = BrandFactory(operator=brand.operator, code="brand-a2", jurisdiction="MT", currencies=["EUR"])
    client = _client(make_staff("Payments reviewer", brands=[brand, sister]))

    response = client.post(RECORD_URL, _deposit_form(player, currency="EUR"))

    assert response.context["form"].errors["currency"] == ["EUR is not offered by the player's brand."]
    assert Payment.objects.count() == 0


def test_a_bank_reference_is_recorded_once(reviewer, player, funded_wallet, review_policy):
    client = _client(reviewer)
    client.post(RECORD_URL, _deposit_form(player))

    again = client.post(RECORD_URL, _deposit_form(player, amount="10.00"))

    assert again.context["form"].errors["bank_reference"] == ["This bank reference was recorded already."]
    assert Payment.objects.count() == 1
    assert _balances(funded_wallet) == (STARTING_CASH + 12_345, 0)


def test_another_brands_player_cannot_be_credited(reviewer, other_brand, review_policy):
    stranger = PlayerFactory(brand=other_brand, kyc_status="verified")

    response = _client(reviewer).post(RECORD_URL, _deposit_form(stranger, currency="SEK"))

    assert response.context["form"].errors["player"] == ["No such player in your brands."]
    assert Payment.objects.count() == 0
    assert not Wallet.objects.filter(player=stranger).exists()


@pytest.mark.parametrize("role", ["Support agent", "Auditor", "Compliance officer"])
def test_recording_a_deposit_needs_the_permission(
    make_staff, brand, player, funded_wallet, review_policy, role
):
    client = _client(make_staff(role, brands=[brand]))

    shown = client.get(RECORD_URL)
    posted = client.post(RECORD_URL, _deposit_form(player))
    listed = client.get(QUEUE_URL)

    assert (shown.status_code, posted.status_code) == (403, 403)
    assert "record-bank-deposit" not in listed.content.decode()
    assert Payment.objects.count() == 0
    assert _balances(funded_wallet) == (STARTING_CASH, 0)


def test_a_refused_deposit_leaves_nothing(reviewer, player, funded_wallet, review_policy):
    """Compliance refuses (a closed player): no payment, no wallet movement."""
    type(player).objects.filter(pk=player.pk).update(status="closed")

    response = _client(reviewer).post(RECORD_URL, _deposit_form(player))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The account is closed."]
    assert Payment.objects.count() == 0
    assert _balances(funded_wallet) == (STARTING_CASH, 0)


# --- manual payouts ---------------------------------------------------------------------------


def test_manual_payout_sent_then_paid_settles_the_reserve_exactly(reviewer, manual_payout, funded_wallet):
    payment = manual_payout(amount=5_000)
    client = _client(reviewer)
    assert _balances(funded_wallet) == (STARTING_CASH - 5_000, 5_000)
    page = client.get(f"{QUEUE_URL}{payment.pk}/change/")
    assert [s["name"] for s in page.context["review_steps"]] == ["payout_sent", "payout_failed"]

    sent = _act(client, "mark_payout_sent", [payment.pk])
    paid = _act(client, "mark_paid", [payment.pk])

    assert _messages(sent) == [f"Marked sent: #{payment.pk}."]
    assert _messages(paid) == [f"Marked paid: #{payment.pk}."]
    assert Payment.objects.get(pk=payment.pk).status == Status.PAID
    assert _balances(funded_wallet) == (STARTING_CASH - 5_000, 0)


def test_manual_payout_marked_failed_with_a_reason_releases_the_reserve(
    reviewer, manual_payout, funded_wallet
):
    payment = manual_payout(amount=5_000)
    client = _client(reviewer)
    client.post(f"{QUEUE_URL}{payment.pk}/step/payout_sent/")
    before = Payment.objects.get(pk=payment.pk).status

    asked = _act(client, "mark_failed", [payment.pk])
    by_button = client.post(f"{QUEUE_URL}{payment.pk}/step/payout_failed/", {"reason": ""}, follow=True)
    assert asked.templates[0].name == "admin/payments/payment/action_reason.html"
    assert _messages(by_button) == ["Mark failed: A reason is required to mark a payout failed."]
    assert (before, Payment.objects.get(pk=payment.pk).status) == (Status.PROCESSING, Status.PROCESSING)
    assert _balances(funded_wallet) == (STARTING_CASH - 5_000, 5_000)

    failed = client.post(
        f"{QUEUE_URL}?view=all",
        {"action": "mark_failed", "_selected_action": [payment.pk], "post": "yes", "reason": "IBAN closed"},
        follow=True,
    )

    payment.refresh_from_db()
    assert _messages(failed) == [f"Marked failed: #{payment.pk}."]
    assert (payment.status, payment.decision_reason) == (Status.FAILED, "IBAN closed")
    assert _balances(funded_wallet) == (STARTING_CASH, 0)


def test_paid_before_sent_is_refused(reviewer, manual_payout, funded_wallet):
    payment = manual_payout(amount=5_000)

    response = _act(_client(reviewer), "mark_paid", [payment.pk])

    assert _messages(response) == [f"#{payment.pk}: Mark the payout sent before marking it paid."]
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTO_APPROVED
    assert _balances(funded_wallet) == (STARTING_CASH - 5_000, 5_000)


def test_a_provider_payout_cannot_be_marked_by_staff(reviewer, withdrawal, review_policy, funded_wallet):
    payment = withdrawal(amount=5_000)  # PaymentIQ: the provider reports it
    assert payment.status == Status.AUTO_APPROVED
    client = _client(reviewer)
    page = client.get(f"{QUEUE_URL}{payment.pk}/change/")

    sent = _act(client, "mark_payout_sent", [payment.pk])
    button = client.post(f"{QUEUE_URL}{payment.pk}/step/payout_sent/", follow=True)

    refusal = "Only a payout by manual bank transfer is recorded by staff; the provider reports the others."
    assert page.context["review_steps"] == []
    assert _messages(sent) == [f"#{payment.pk}: {refusal}"]
    assert _messages(button) == [f"Mark payout sent: {refusal}"]
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTO_APPROVED
    assert _balances(funded_wallet) == (STARTING_CASH - 5_000, 5_000)


@pytest.mark.parametrize(
    ("role", "where", "status_code"),
    [("Payments reviewer", "A", 302), ("Support agent", "A", 403), ("Payments reviewer", "B", 302)],
)
def test_mark_paid_matrix(
    make_staff, brand, other_brand, manual_payout, funded_wallet, role, where, status_code
):
    payment = manual_payout(amount=5_000)
    services.withdrawal_process(payment_id=payment.pk, actor=make_staff("Payments reviewer", brands=[brand]))
    user = make_staff(role, brands=[brand if where == "A" else other_brand])
    client = _client(user)

    button = client.post(f"{QUEUE_URL}{payment.pk}/step/payout_paid/")
    paid = Payment.objects.get(pk=payment.pk).status == Status.PAID

    assert button.status_code == status_code
    if (role, where) == ("Payments reviewer", "A"):
        assert paid and _balances(funded_wallet) == (STARTING_CASH - 5_000, 0)
        assert button["Location"] == f"{QUEUE_URL}{payment.pk}/change/"
    else:
        assert not paid and _balances(funded_wallet) == (STARTING_CASH - 5_000, 5_000)
        action = _act(client, "mark_paid", [payment.pk])
        assert Payment.objects.get(pk=payment.pk).status == Status.PROCESSING
        assert action.status_code == 200
