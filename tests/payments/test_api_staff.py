"""The staff payments API: lists scoped to the person's brands, the review queue by deadline,
and each review decision through its service; permission matrix, denied calls change nothing."""

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from apps.payments import services
from apps.payments.models import Payment, PaymentApproval, ReviewAction, Status
from apps.wallet.models import Wallet
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login
from tests.payments.conftest import PROVIDER, STARTING_CASH

pytestmark = pytest.mark.django_db

BASE = "/api/v1/staff/payments/"
QUEUE = f"{BASE}review-queue/"


def as_staff(user, *, reauthenticated: bool = False) -> APIClient:
    client = APIClient()
    staff_login(client, user, reauthenticated=reauthenticated)
    return client


def when(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def state(payment) -> dict:
    """Everything a decision could change: the row, its review history, its approvals."""
    return {
        "row": Payment.objects.values().get(pk=payment.pk),
        "actions": list(ReviewAction.objects.filter(payment=payment).values_list("action", "actor")),
        "approvals": list(PaymentApproval.objects.filter(payment=payment).values_list("staff_id", flat=True)),
    }


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def queued(withdrawal, policy):
    """A 50.00 GBP withdrawal waiting in the standard queue (the player's first)."""
    return withdrawal(amount=5_000)


@pytest.fixture
def other_brand_payment(other_brand):
    """A flagged deposit of brand B (SE, SEK): a player there without KYC."""
    swede = PlayerFactory(brand=other_brand, kyc_status="verified")
    from apps.responsible_gaming import services as rg

    for period in ("day", "week", "month"):
        rg.limit_set(actor=swede, player=swede, kind="deposit", period=period, amount=30_000_000)
    return services.deposit_initiate(
        player=swede,
        amount=20_000_000,
        currency="SEK",
        method="bank_transfer",
        provider="manual_bank",
        actor=PROVIDER,
    )


# --- reading ---------------------------------------------------------------------------------


def test_a_reviewer_lists_the_payments_of_their_brand_with_review_details(
    reviewer, queued, player, other_brand_payment
):
    # when
    response = as_staff(reviewer).get(BASE)

    # then
    assert response.status_code == 200
    queued.refresh_from_db()
    assert response.json()["results"] == [
        {
            "id": queued.pk,
            "reference": str(queued.reference),
            "brand": "brand-a",
            "player": {"id": player.pk, "username": player.username},
            "kind": "withdrawal",
            "method": "card",
            "card_type": "",
            "provider": "paymentiq",
            "provider_reference": "",
            "amount": "50.00",
            "currency": "GBP",
            "status": "pending_review",
            "risk_flags": [
                {"code": "first_withdrawal", "detail": "The player's first withdrawal."},
                {"code": "method_mismatch", "detail": "No completed deposit was made by card."},
            ],
            "funds_received": False,
            "account": None,
            "queue": "standard",
            "sla_due_at": when(queued.sla_due_at),
            "escalated_at": None,
            "claimed_by": None,
            "claimed_at": None,
            "approvals_required": 1,
            "approvals_given": 0,
            "decided_at": None,
            "decision_reason": "",
            "created_at": when(queued.created_at),
            "updated_at": when(queued.updated_at),
        }
    ]


def test_staff_never_see_the_players_personal_data(reviewer, queued):
    row = as_staff(reviewer).get(f"{BASE}{queued.pk}/").json()

    assert row["player"] == {"id": queued.player_id, "username": queued.player.username}
    text = repr(row)
    for personal in (
        queued.player.email,
        queued.player.first_name,
        queued.player.last_name,
        queued.player.mobile,
    ):
        assert personal not in text


@pytest.mark.parametrize(
    "json_containment",
    [
        # JSON containment is PostgreSQL's (jsonb @>): skipped with the other PostgreSQL tests.
        pytest.param(True, id="jsonb", marks=pytest.mark.postgres),
        pytest.param(False, id="text-match (SQLite)"),
    ],
)
def test_the_list_filters(reviewer, deposit, withdrawal, policy, json_containment, monkeypatch):
    # given: the flag filter's two ways, JSON containment and SQLite's text match
    from django.db import connection

    monkeypatch.setattr(connection.features, "supports_json_field_contains", json_containment)
    clean = deposit(amount=1_000)
    flagged = deposit(amount=170_000)  # AML threshold
    asked = withdrawal(amount=2_000)
    client = as_staff(reviewer)

    # then
    assert ids(client.get(BASE, {"kind": "deposit"})) == [flagged.pk, clean.pk]
    assert ids(client.get(BASE, {"status": "flagged"})) == [flagged.pk]
    assert ids(client.get(BASE, {"queue": "standard"})) == [asked.pk, flagged.pk]
    assert ids(client.get(BASE, {"flag": "aml_threshold"})) == [flagged.pk]
    assert ids(client.get(BASE, {"flag": "first_withdrawal"})) == [asked.pk]
    assert ids(client.get(BASE, {"flag": "First_Withdrawal"})) == [asked.pk]
    assert ids(client.get(BASE, {"flag": "first"})) == []
    assert ids(client.get(BASE, {"flag": 'aml_threshold", "x'})) == []
    assert ids(client.get(BASE, {"brand": "brand-a", "kind": "withdrawal"})) == [asked.pk]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"brand": "brand-b"}, "brand"),  # another operator's brand: as unknown as a made-up one
        ({"brand": "nope"}, "brand"),
        ({"kind": "refund"}, "kind"),
        ({"status": "lost"}, "status"),
        ({"queue": "vip"}, "queue"),
    ],
)
def test_a_bad_filter_is_a_400(reviewer, queued, other_brand_payment, params, field):
    response = as_staff(reviewer).get(BASE, params)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {field}


def test_the_review_queue_is_ordered_by_deadline(reviewer, compliance_officer, deposit, withdrawal, policy):
    # given: the older item is escalated (the senior deadline is later), one is not queued
    older = withdrawal(amount=2_000)
    newer = deposit(amount=170_000)
    deposit(amount=1_000)  # clean: not in the queue
    services.review_escalate(actor=reviewer, payment_id=older.pk, reason="unusual pattern")

    # when
    response = as_staff(compliance_officer).get(QUEUE)

    # then
    assert response.status_code == 200
    assert ids(response) == [newer.pk, older.pk]
    assert [row["queue"] for row in response.json()["results"]] == ["standard", "senior"]
    assert ids(as_staff(compliance_officer).get(QUEUE, {"queue": "senior"})) == [older.pk]


def test_the_review_queue_pages_by_cursor(reviewer, withdrawal, policy):
    first, second, third = withdrawal(amount=100), withdrawal(amount=200), withdrawal(amount=300)

    page_one = as_staff(reviewer).get(QUEUE, {"page_size": 2}).json()
    page_two = as_staff(reviewer).get(page_one["next"]).json()

    assert [row["id"] for row in page_one["results"]] == [first.pk, second.pk]
    assert [row["id"] for row in page_two["results"]] == [third.pk]


def test_another_brands_staff_see_nothing(outsider, queued):
    client = as_staff(outsider)

    assert ids(client.get(BASE)) == []
    assert ids(client.get(QUEUE)) == []
    assert client.get(f"{BASE}{queued.pk}/").status_code == 404


# --- decisions -------------------------------------------------------------------------------


def test_claim_then_approve_a_withdrawal(reviewer, queued, funded_wallet):
    client = as_staff(reviewer)

    claimed = client.post(f"{BASE}{queued.pk}/claim/")

    assert claimed.status_code == 200
    assert (claimed.json()["status"], claimed.json()["claimed_by"]) == (
        "in_review",
        {"id": reviewer.pk, "username": reviewer.username},
    )

    approved = client.post(f"{BASE}{queued.pk}/approve/", {"reason": "documents fine"}, format="json")

    assert approved.status_code == 200
    body = approved.json()
    assert (body["status"], body["queue"], body["claimed_by"], body["approvals_given"]) == (
        "approved",
        "",
        None,
        1,
    )
    assert body["decision_reason"] == "documents fine"
    assert list(ReviewAction.objects.filter(payment=queued).values_list("action", "actor", "reason")) == [
        ("flagged", "system:test-provider", "first_withdrawal, method_mismatch"),
        ("claimed", f"staff:{reviewer.pk}", ""),
        ("approved", f"staff:{reviewer.pk}", "documents fine"),
    ]
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == 5_000


def test_unclaim_puts_the_item_back(reviewer, queued):
    client = as_staff(reviewer)
    client.post(f"{BASE}{queued.pk}/claim/")

    response = client.post(f"{BASE}{queued.pk}/unclaim/", {"reason": "end of shift"}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["claimed_by"]) == ("pending_review", None)
    assert ReviewAction.objects.filter(payment=queued).last().reason == "end of shift"


def test_reject_releases_the_reserved_money(reviewer, queued, funded_wallet):
    client = as_staff(reviewer)
    client.post(f"{BASE}{queued.pk}/claim/")

    response = client.post(f"{BASE}{queued.pk}/reject/", {"reason": "third-party account"}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decision_reason"]) == (
        "rejected",
        "third-party account",
    )
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH, 0)


def test_escalate_sends_the_item_to_the_senior_queue(reviewer, queued):
    response = as_staff(reviewer).post(
        f"{BASE}{queued.pk}/escalate/", {"reason": "source of funds"}, format="json"
    )

    assert response.status_code == 200
    queued.refresh_from_db()
    assert (response.json()["queue"], response.json()["escalated_at"]) == (
        "senior",
        when(queued.escalated_at),
    )
    assert queued.escalated_at is not None
    assert ReviewAction.objects.filter(payment=queued).last().reason == "source of funds"


@pytest.mark.parametrize("decision", ["reject", "escalate"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_reject_and_escalate_need_a_reason(reviewer, queued, decision, body):
    client = as_staff(reviewer)
    client.post(f"{BASE}{queued.pk}/claim/")
    before = state(queued)

    response = client.post(f"{BASE}{queued.pk}/{decision}/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": {"code": "reason_required", "message": "A reason is required."}}
    assert state(queued) == before


def test_a_reason_longer_than_500_characters_is_refused(reviewer, queued):
    before = state(queued)

    response = as_staff(reviewer).post(f"{BASE}{queued.pk}/escalate/", {"reason": "x" * 501}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"reason"}
    assert state(queued) == before


def test_an_item_held_by_someone_else_cannot_be_taken_or_decided(reviewer, second_reviewer, queued):
    as_staff(reviewer).post(f"{BASE}{queued.pk}/claim/")
    before = state(queued)
    client = as_staff(second_reviewer)

    for decision, body in (("claim", {}), ("approve", {}), ("reject", {"reason": "no"}), ("unclaim", {})):
        response = client.post(f"{BASE}{queued.pk}/{decision}/", body, format="json")
        assert response.status_code == 409, decision
        assert response.json()["error"]["code"] == "claimed_by_other", decision
    assert state(queued) == before


def test_deciding_without_claiming_is_a_conflict(reviewer, queued):
    before = state(queued)

    response = as_staff(reviewer).post(f"{BASE}{queued.pk}/approve/")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "not_claimed",
        "message": "Claim the item before deciding it.",
    }
    assert state(queued) == before


def test_four_eyes_needs_a_second_senior_person(
    reviewer, second_reviewer, compliance_officer, withdrawal, policy, funded_wallet
):
    # given: above the brand's four-eyes threshold (1,000.00 GBP), with the money for it;
    # approving it needs a recent re-authentication (tests/security/test_staff_sessions.py)
    from apps.wallet.services import deposit_credit

    deposit_credit(wallet=funded_wallet, amount=100_000, source="test", external_id="more", actor=PROVIDER)
    large = withdrawal(amount=150_000)
    first = as_staff(reviewer, reauthenticated=True)
    first.post(f"{BASE}{large.pk}/claim/")

    # when: the first approval
    one = first.post(f"{BASE}{large.pk}/approve/", {"reason": "ok by me"}, format="json")

    # then: it goes back to the queue with one of two approvals
    assert one.status_code == 200
    assert (one.json()["status"], one.json()["approvals_required"], one.json()["approvals_given"]) == (
        "pending_review",
        2,
        1,
    )

    # the same person cannot give the second
    first.post(f"{BASE}{large.pk}/claim/")
    again = first.post(f"{BASE}{large.pk}/approve/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "four_eyes")
    first.post(f"{BASE}{large.pk}/unclaim/")

    # nor a reviewer without approve_large_withdrawal
    other = as_staff(second_reviewer, reauthenticated=True)
    other.post(f"{BASE}{large.pk}/claim/")
    before = state(large)
    junior = other.post(f"{BASE}{large.pk}/approve/")
    assert (junior.status_code, junior.json()["error"]["code"]) == (403, "permission_denied")
    assert state(large) == before
    other.post(f"{BASE}{large.pk}/unclaim/")

    # a compliance officer gives the final approval
    senior = as_staff(compliance_officer, reauthenticated=True)
    senior.post(f"{BASE}{large.pk}/claim/")
    final = senior.post(f"{BASE}{large.pk}/approve/")
    assert (final.status_code, final.json()["status"], final.json()["approvals_given"]) == (
        200,
        "approved",
        2,
    )


def test_a_senior_queue_item_needs_a_senior_reviewer(reviewer, compliance_officer, queued):
    as_staff(compliance_officer).post(f"{BASE}{queued.pk}/escalate/", {"reason": "pattern"}, format="json")
    before = state(queued)

    junior = as_staff(reviewer).post(f"{BASE}{queued.pk}/claim/")
    senior = as_staff(compliance_officer).post(f"{BASE}{queued.pk}/claim/")

    assert (junior.status_code, junior.json()["error"]["code"]) == (403, "senior_queue")
    assert before["row"]["status"] == Status.PENDING_REVIEW
    assert (senior.status_code, senior.json()["status"]) == (200, "in_review")


def test_a_missing_and_another_brands_payment_answer_alike(reviewer, other_brand_payment):
    before = state(other_brand_payment)
    client = as_staff(reviewer)

    for decision in ("claim", "unclaim", "approve", "reject", "escalate"):
        theirs = client.post(f"{BASE}{other_brand_payment.pk}/{decision}/", {"reason": "r"}, format="json")
        missing = client.post(
            f"{BASE}{other_brand_payment.pk + 1000}/{decision}/", {"reason": "r"}, format="json"
        )
        assert theirs.status_code == missing.status_code == 404, decision
        assert theirs.json() == missing.json(), decision
    assert state(other_brand_payment) == before


@pytest.mark.parametrize("pk", ["abc", "0x10", "9" * 19, "9" * 40])
def test_a_malformed_id_is_a_json_404(reviewer, pk):
    response = as_staff(reviewer).post(f"{BASE}{pk}/claim/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- permission matrix -----------------------------------------------------------------------

ROLE_REVIEWER, ROLE_SUPPORT, ROLE_BRAND_ADMIN, ROLE_OPERATOR_ADMIN, ROLE_OUTSIDER = (
    "reviewer",
    "support",
    "brand_admin",
    "operator_admin",
    "outsider",
)


@pytest.fixture
def people(make_staff, brand, other_brand, operator, reviewer):
    return {
        ROLE_REVIEWER: reviewer,
        ROLE_SUPPORT: make_staff("Support agent", brands=[brand]),
        ROLE_BRAND_ADMIN: make_staff("Brand admin", brands=[brand]),
        ROLE_OPERATOR_ADMIN: make_staff("Operator admin", operator=operator),
        ROLE_OUTSIDER: make_staff("Payments reviewer", brands=[other_brand]),
    }


@pytest.mark.parametrize(
    "who, expected",
    [
        (ROLE_REVIEWER, 200),
        (ROLE_SUPPORT, 200),  # reads payments, decides nothing
        (ROLE_OPERATOR_ADMIN, 200),
        (ROLE_BRAND_ADMIN, 403),  # configures the review policy, does not see payments
        (ROLE_OUTSIDER, 200),  # an empty list: nothing of brand A
    ],
)
@pytest.mark.parametrize("url", [BASE, QUEUE])
def test_who_may_read(people, queued, who, expected, url):
    response = as_staff(people[who]).get(url)

    assert response.status_code == expected
    if expected == 200:
        assert ids(response) == ([] if who == ROLE_OUTSIDER else [queued.pk])


@pytest.mark.parametrize("decision", ["claim", "escalate", "approve", "reject", "unclaim"])
@pytest.mark.parametrize(
    "who, expected",
    [
        (ROLE_SUPPORT, 403),
        (ROLE_BRAND_ADMIN, 403),
        (ROLE_OPERATOR_ADMIN, 403),
        (ROLE_OUTSIDER, 404),
    ],
)
def test_who_may_not_decide_changes_nothing(people, queued, decision, who, expected):
    # given: for the decisions on a claimed item, the reviewer holds it
    if decision in ("approve", "reject", "unclaim"):
        services.review_claim(actor=people[ROLE_REVIEWER], payment_id=queued.pk)
    before = state(queued)

    # when
    response = as_staff(people[who]).post(
        f"{BASE}{queued.pk}/{decision}/", {"reason": "because"}, format="json"
    )

    # then
    assert response.status_code == expected
    assert response.json()["error"]["code"] == ("permission_denied" if expected == 403 else "not_found")
    assert state(queued) == before


@pytest.mark.parametrize(
    "decision, body, status",
    [
        ("claim", {}, "in_review"),
        ("escalate", {"reason": "because"}, "pending_review"),
    ],
)
def test_the_reviewer_may_decide(people, queued, decision, body, status):
    response = as_staff(people[ROLE_REVIEWER]).post(f"{BASE}{queued.pk}/{decision}/", body, format="json")

    assert (response.status_code, response.json()["status"]) == (200, status)


def test_anonymous_and_players_cannot_use_the_staff_api(queued, player):
    from apps.players import services as player_services
    from tests.factories import PLAYER_PASSWORD

    _, key, _ = player_services.player_login(
        brand_code="brand-a", login=player.username, password=PLAYER_PASSWORD
    )
    as_player = APIClient()
    as_player.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    before = state(queued)

    for client in (APIClient(), as_player):
        assert client.get(BASE).status_code == 403
        response = client.post(f"{BASE}{queued.pk}/claim/")
        assert (response.status_code, response.json()["error"]["code"]) == (403, "not_authenticated")
    assert state(queued) == before


def test_a_paid_withdrawal_is_no_longer_reviewable(reviewer, queued):
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    services.review_approve(actor=reviewer, payment_id=queued.pk)
    services.withdrawal_paid(payment_id=queued.pk, actor=PROVIDER)
    before = state(queued)

    response = as_staff(reviewer).post(f"{BASE}{queued.pk}/claim/")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_in_queue")
    assert state(queued) == before
