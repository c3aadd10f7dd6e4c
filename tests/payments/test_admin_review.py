"""The review queue in the admin: what each person sees, in which order, and what each
action and button does (through the services), including every refusal."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from apps.payments import services
from apps.payments.models import Payment, PaymentApproval, Queue, ReviewAction, ReviewPolicy, Status
from apps.players.masking import MASK
from apps.wallet.models import Wallet
from apps.wallet.services import deposit_credit
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login
from tests.payments.conftest import PROVIDER, STARTING_CASH

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
QUEUE_URL = "/admin/payments/payment/"


def _client(user, *, reauthenticated: bool = False) -> Client:
    client = Client()
    staff_login(client, user, reauthenticated=reauthenticated)
    return client


def _messages(response) -> list[str]:
    """The messages shown on the page (after a redirect, on the page it led to)."""
    if response.context is not None and "messages" in response.context:
        return [str(m) for m in response.context["messages"]]
    return [str(m) for m in get_messages(response.wsgi_request)]


def _ids(response) -> list[int]:
    return [p.pk for p in response.context["cl"].result_list]


def _offered(response) -> set[str]:
    form = response.context["action_form"]
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def _act(client, action: str, ids, url=QUEUE_URL, **extra):
    """Run an action from the changelist (its "Go" button), following the redirect."""
    data = {"action": action, "_selected_action": [str(pk) for pk in ids], "index": "0", **extra}
    return client.post(url, data, follow=True)


def _step(client, payment_id, step: str, follow=True, **data):
    """Press a button of the payment page."""
    return client.post(f"{QUEUE_URL}{payment_id}/step/{step}/", data, follow=follow)


def _state(payment_id: int) -> tuple:
    p = Payment.objects.get(pk=payment_id)
    return (p.status, p.claimed_by_id, p.queue, p.approvals.count(), p.review_actions.count())


@pytest.fixture
def review_policy(brand):
    """Amounts from 500.00 GBP are reviewed; withdrawals above 1,000.00 need four eyes; a
    first withdrawal is flagged (low risk); no method-mismatch or velocity flags."""
    return ReviewPolicy.objects.create(
        brand=brand,
        amount_thresholds={"GBP": "500.00"},
        four_eyes_above={"GBP": "1000.00"},
        review_method_mismatch=False,
        velocity_count=100,
    )


@pytest.fixture
def theirs(other_brand):
    """A flagged deposit of another operator's brand."""
    ReviewPolicy.objects.create(brand=other_brand, amount_thresholds={"SEK": "100.00"})
    player = PlayerFactory(brand=other_brand, kyc_status="verified")
    return services.deposit_initiate(
        player=player,
        amount=20_000,
        currency="SEK",
        method="card",
        card_type="debit",
        provider="paymentiq",
        actor=PROVIDER,
    )


@pytest.fixture
def other_reviewer(make_staff, other_brand):
    return make_staff("Payments reviewer", brands=[other_brand])


@pytest.fixture
def support_agent(make_staff, brand):
    """Sees payments of brand A; holds no review permission."""
    return make_staff("Support agent", brands=[brand])


# --- the queue ------------------------------------------------------------------------------


def test_queue_lists_items_under_review_most_urgent_first(reviewer, review_policy, withdrawal, deposit):
    later, overdue, soon = withdrawal(amount=5_000), withdrawal(amount=6_000), deposit(amount=60_000)
    clean = deposit(amount=1_000)
    now = timezone.now()
    for payment, due in (
        (later, now + timedelta(hours=3)),
        (overdue, now - timedelta(minutes=90)),
        (soon, now),
    ):
        Payment.objects.filter(pk=payment.pk).update(sla_due_at=due)

    response = _client(reviewer).get(QUEUE_URL)

    assert response.status_code == 200
    assert _ids(response) == [overdue.pk, soon.pk, later.pk]  # the pending clean deposit is not queued
    assert clean.status == Status.PENDING
    page = response.content.decode()
    assert "overdue 1h 30m" in page
    assert "600.00 GBP" in page and "50.00 GBP" in page


def test_all_payments_view_lists_everything_of_the_brand(reviewer, review_policy, withdrawal, deposit):
    queued, clean = withdrawal(amount=5_000), deposit(amount=1_000)

    response = _client(reviewer).get(QUEUE_URL, {"view": "all"})

    assert set(_ids(response)) == {queued.pk, clean.pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"flag": "large_amount"}, {"big_deposit", "big_withdrawal"}),
        ({"flag": "first_withdrawal"}, {"small_withdrawal", "big_withdrawal"}),
        ({"kind": "deposit"}, {"big_deposit"}),
        ({"amount": "lt100"}, {"small_withdrawal"}),
        ({"amount": "100-1k"}, {"big_deposit", "big_withdrawal"}),
        ({"amount": "10k+"}, set()),
        ({"queue": "senior"}, {"small_withdrawal"}),
        ({"status": "pending_review"}, {"small_withdrawal", "big_withdrawal"}),
        ({"age": "lt1h"}, {"big_deposit", "small_withdrawal"}),
        ({"age": "1-4h"}, {"big_withdrawal"}),
    ],
)
def test_queue_filters(reviewer, review_policy, withdrawal, deposit, query, expected):
    items = {
        "big_deposit": deposit(amount=60_000),
        "small_withdrawal": withdrawal(amount=5_000),
        "big_withdrawal": withdrawal(amount=70_000),
    }
    services.review_escalate(actor=reviewer, payment_id=items["small_withdrawal"].pk, reason="look")
    Payment.objects.filter(pk=items["big_withdrawal"].pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )

    response = _client(reviewer).get(QUEUE_URL, query)

    assert response.status_code == 200
    assert set(_ids(response)) == {items[name].pk for name in expected}


def test_another_brands_item_is_not_listed_not_shown_and_not_actionable(
    reviewer, review_policy, withdrawal, theirs
):
    mine = withdrawal(amount=5_000)
    client = _client(reviewer)
    before = _state(theirs.pk)

    listed = client.get(QUEUE_URL, {"view": "all"})
    filtered = client.get(QUEUE_URL, {"brand__id__exact": theirs.brand_id})
    searched = client.get(QUEUE_URL, {"q": theirs.player.username})
    acted = _act(client, "claim", [theirs.pk])
    detail = client.get(f"{QUEUE_URL}{theirs.pk}/change/")
    missing = client.get(f"{QUEUE_URL}999999/change/")
    stepped = _step(client, theirs.pk, "claim", follow=False)
    stepped_missing = _step(client, 999999, "claim", follow=False)

    assert _ids(listed) == [mine.pk]
    assert _ids(filtered) == [] and _ids(searched) == []
    assert (
        (detail.status_code, detail["Location"])
        == (missing.status_code, missing["Location"])
        == (302, "/admin/")
    )
    assert _messages(acted) == ["None of the selected payments is in your list; nothing was changed."]
    assert (stepped.status_code, stepped["Location"]) == (
        stepped_missing.status_code,
        stepped_missing["Location"],
    )
    assert _state(theirs.pk) == before


# --- permission matrix ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "offered"),
    [
        (
            "reviewer",
            {
                "claim",
                "unclaim",
                "approve",
                "reject",
                "escalate",
                "bulk_approve_low_risk",
                "mark_payout_sent",
                "mark_paid",
                "mark_failed",
            },
        ),
        ("support_agent", set()),
        (
            "other_reviewer",
            {
                "claim",
                "unclaim",
                "approve",
                "reject",
                "escalate",
                "bulk_approve_low_risk",
                "mark_payout_sent",
                "mark_paid",
                "mark_failed",
            },
        ),
    ],
)
def test_actions_are_offered_only_with_their_permission(request, who, offered):
    response = _client(request.getfixturevalue(who)).get(QUEUE_URL)

    assert response.status_code == 200
    assert _offered(response) == offered


@pytest.mark.parametrize(
    ("who", "claimed"),
    [("reviewer", True), ("support_agent", False), ("other_reviewer", False)],
)
def test_claim_action_matrix(request, review_policy, withdrawal, who, claimed):
    payment = withdrawal(amount=5_000)
    user = request.getfixturevalue(who)
    before = _state(payment.pk)

    _act(_client(user), "claim", [payment.pk])

    payment.refresh_from_db()
    if claimed:
        assert (payment.status, payment.claimed_by_id) == (Status.IN_REVIEW, user.pk)
        assert list(payment.review_actions.values_list("action", "staff_id"))[-1] == ("claimed", user.pk)
    else:
        assert _state(payment.pk) == before


@pytest.mark.parametrize(
    ("who", "status_code", "claimed"),
    [("reviewer", 302, True), ("support_agent", 403, False), ("other_reviewer", 302, False)],
)
def test_claim_button_matrix(request, review_policy, withdrawal, who, status_code, claimed):
    payment = withdrawal(amount=5_000)
    user = request.getfixturevalue(who)
    before = _state(payment.pk)

    response = _step(_client(user), payment.pk, "claim", follow=False)

    assert response.status_code == status_code
    if claimed:
        assert response["Location"] == f"{QUEUE_URL}{payment.pk}/change/"
        assert Payment.objects.get(pk=payment.pk).claimed_by_id == user.pk
    else:
        assert _state(payment.pk) == before


def test_a_step_is_post_only(reviewer, review_policy, withdrawal):
    payment = withdrawal(amount=5_000)

    response = _client(reviewer).get(f"{QUEUE_URL}{payment.pk}/step/claim/")

    assert response.status_code == 405
    assert Payment.objects.get(pk=payment.pk).status == Status.PENDING_REVIEW


@pytest.mark.parametrize("object_id", ["²", "１２", "12x", "%00"])
def test_a_step_on_a_malformed_id_is_a_missing_payment_not_an_error(reviewer, review_policy, object_id):
    response = _client(reviewer).post(f"{QUEUE_URL}{object_id}/step/approve/")

    # The admin's answer for an id that names nothing: back to the list with a message.
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/")


# --- claim, approve, reject, escalate ----------------------------------------------------------


def test_claimed_item_cannot_be_approved_by_another_reviewer(
    reviewer, second_reviewer, review_policy, withdrawal
):
    payment = withdrawal(amount=5_000)
    _act(_client(reviewer), "claim", [payment.pk])
    before = _state(payment.pk)

    by_action = _act(_client(second_reviewer), "approve", [payment.pk])
    by_button = _step(_client(second_reviewer), payment.pk, "approve", reason="fine")

    assert _messages(by_action) == [f"#{payment.pk}: {reviewer} is reviewing this item."]
    assert _messages(by_button) == [f"Approve: {reviewer} is reviewing this item."]
    assert _state(payment.pk) == before


def test_holder_approves_with_a_note_from_the_payment_page(
    reviewer, review_policy, withdrawal, funded_wallet
):
    payment = withdrawal(amount=5_000)
    client = _client(reviewer)
    _step(client, payment.pk, "claim")

    response = _step(client, payment.pk, "approve", reason="documents checked")

    payment.refresh_from_db()
    assert _messages(response) == ["Approve: done; the payment is now approved."]
    assert payment.status == Status.APPROVED
    assert list(PaymentApproval.objects.filter(payment=payment).values_list("staff_id", "note")) == [
        (reviewer.pk, "documents checked")
    ]
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == 5_000


def test_four_eyes_second_approval_from_another_person(
    reviewer, compliance_officer, review_policy, withdrawal, funded_wallet
):
    deposit_credit(wallet=funded_wallet, amount=200_000, source="test", external_id="more", actor=PROVIDER)
    at_threshold, big = withdrawal(amount=100_000), withdrawal(amount=100_001)  # 1,000.00 and 1,000.01
    assert (at_threshold.approvals_required, big.approvals_required) == (1, 2)
    client = _client(reviewer, reauthenticated=True)
    _act(client, "claim", [big.pk])
    _act(client, "approve", [big.pk])
    after_first = _client(reviewer, reauthenticated=True).get(f"{QUEUE_URL}{big.pk}/change/")

    _step(client, big.pk, "claim")
    again = _step(client, big.pk, "approve")
    _step(client, big.pk, "unclaim")
    officer = _client(compliance_officer, reauthenticated=True)
    _step(officer, big.pk, "claim")
    final = _step(officer, big.pk, "approve")

    assert "1/2" in after_first.content.decode()
    assert (
        _messages(again)[-1]
        == "Approve: You approved this payment already; another person must give the second approval."
    )
    assert _messages(final)[-1] == "Approve: done; the payment is now approved."
    assert Payment.objects.get(pk=big.pk).status == Status.APPROVED


def test_reject_without_reason_is_refused_and_asks_for_one(
    reviewer, review_policy, withdrawal, funded_wallet
):
    payment = withdrawal(amount=5_000)
    client = _client(reviewer)
    _act(client, "claim", [payment.pk])
    before = _state(payment.pk)

    asked = _act(client, "reject", [payment.pk])
    confirmed_empty = client.post(
        QUEUE_URL, {"action": "reject", "_selected_action": [payment.pk], "post": "yes", "reason": "  "}
    )
    by_button = _step(client, payment.pk, "reject", reason="")

    assert asked.status_code == 200
    assert asked.templates[0].name == "admin/payments/payment/action_reason.html"
    assert confirmed_empty.status_code == 200 and "A reason is required." in _messages(confirmed_empty)
    assert _messages(by_button) == ["Reject: A reason is required."]
    assert _state(payment.pk) == before
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == 5_000


def test_reject_with_reason_from_the_confirmation_page_releases_the_reserve(
    reviewer, review_policy, withdrawal, funded_wallet
):
    payment = withdrawal(amount=5_000)
    client = _client(reviewer)
    _act(client, "claim", [payment.pk])

    response = client.post(
        QUEUE_URL,
        {"action": "reject", "_selected_action": [payment.pk], "post": "yes", "reason": "stolen card"},
    )

    payment.refresh_from_db()
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert _messages(response) == [f"Rejected: #{payment.pk}."]
    assert (payment.status, payment.decision_reason) == (Status.REJECTED, "stolen card")
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH, 0)


def test_escalate_needs_a_reason_then_goes_to_the_senior_queue(
    reviewer, second_reviewer, compliance_officer, review_policy, withdrawal
):
    payment = withdrawal(amount=5_000)
    client = _client(reviewer)
    before = _state(payment.pk)

    asked = _act(client, "escalate", [payment.pk])
    assert asked.status_code == 200 and _state(payment.pk) == before

    response = _act(client, "escalate", [payment.pk], reason="name matches a PEP list")
    payment.refresh_from_db()
    standard_claim = _step(_client(second_reviewer), payment.pk, "claim")
    senior_claim = _step(_client(compliance_officer), payment.pk, "claim")

    assert _messages(response) == [f"Escalated: #{payment.pk}."]
    assert (payment.queue, payment.status) == (Queue.SENIOR, Status.PENDING_REVIEW)
    assert (
        ReviewAction.objects.filter(payment=payment, action="escalated").get().reason
        == "name matches a PEP list"
    )
    assert _messages(standard_claim) == ["Claim: Only the senior queue's reviewers can take this item."]
    assert _messages(senior_claim) == ["Claim: done; the payment is now in review."]


def test_bulk_approve_approves_low_risk_and_reports_the_skipped(reviewer, review_policy, withdrawal):
    low1, low2, large = withdrawal(amount=5_000), withdrawal(amount=6_000), withdrawal(amount=60_000)
    assert (low1.flag_codes, large.flag_codes) == (["first_withdrawal"], ["large_amount", "first_withdrawal"])

    response = _act(_client(reviewer), "bulk_approve_low_risk", [low1.pk, low2.pk, large.pk])

    assert _messages(response) == [
        f"Approved 2: #{low1.pk}, #{low2.pk}.",
        f"Skipped #{large.pk}: Not low risk: review it on its own.",
    ]
    statuses = dict(Payment.objects.filter(pk__in=[low1.pk, low2.pk, large.pk]).values_list("pk", "status"))
    assert statuses == {low1.pk: Status.APPROVED, low2.pk: Status.APPROVED, large.pk: Status.PENDING_REVIEW}


# --- the payment page -------------------------------------------------------------------------


def test_payment_page_shows_buttons_side_panel_and_masks_personal_data(
    reviewer, compliance_officer, review_policy, withdrawal, player
):
    payment = withdrawal(amount=5_000)

    as_reviewer = _client(reviewer).get(f"{QUEUE_URL}{payment.pk}/change/")
    as_officer = _client(compliance_officer).get(f"{QUEUE_URL}{payment.pk}/change/")

    page = as_reviewer.content.decode()
    assert as_reviewer.status_code == 200
    assert [s["name"] for s in as_reviewer.context["review_steps"]] == ["claim", "escalate"]
    assert "first_withdrawal" in page and "The player&#x27;s first withdrawal." in page
    assert player.email not in page and player.last_name not in page and MASK in page
    assert "50.00 GBP" in page and "Personal data hidden" in page
    assert player.email in as_officer.content.decode()


def test_the_payment_page_records_the_personal_data_it_showed_unmasked(
    reviewer, compliance_officer, review_policy, withdrawal, player
):
    from apps.players.models import PERSONAL_DATA_FIELDS
    from apps.security.models import AuditRecord

    payment = withdrawal(amount=5_000)

    _client(reviewer).get(f"{QUEUE_URL}{payment.pk}/change/", HTTP_X_CORRELATION_ID="review-masked")
    _client(compliance_officer).get(f"{QUEUE_URL}{payment.pk}/change/", HTTP_X_CORRELATION_ID="review-1")

    # The reviewer saw it masked: only the officer's page is a read of personal data.
    [record] = AuditRecord.objects.filter(kind="personal_data_read")
    assert (record.actor_id, record.player_id, record.brand_id) == (
        compliance_officer.pk,
        player.pk,
        player.brand_id,
    )
    assert (record.correlation_id, record.ip) == ("review-1", "127.0.0.1")
    assert record.detail == {
        "source": "payments.admin.payment_review",
        "fields": sorted(PERSONAL_DATA_FIELDS),
        "players": 1,
    }


def test_review_history_and_approvals_are_shown_on_the_payment_page(reviewer, review_policy, withdrawal):
    payment = withdrawal(amount=5_000)
    client = _client(reviewer)
    _step(client, payment.pk, "claim")
    _step(client, payment.pk, "approve", reason="all good here")

    response = client.get(f"{QUEUE_URL}{payment.pk}/change/")

    inlines = {f.opts.verbose_name_plural: f for f in response.context["inline_admin_formsets"]}
    assert [form.original.action for form in inlines["review history"]] == ["flagged", "claimed", "approved"]
    assert [form.original.note for form in inlines["approvals"]] == ["all good here"]
    assert response.context["review_steps"] == []
