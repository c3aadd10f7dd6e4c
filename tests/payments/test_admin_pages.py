"""Every payments admin page renders for every role (or is refused with 403 without the
permission); review policies are validated; incidents are resolved only with permission."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from apps.payments import services
from apps.payments.exceptions import PaymentNotFound
from apps.payments.models import PaymentIncident, ReviewPolicy, Status
from tests.helpers.staff import staff_login
from tests.payments.conftest import PROVIDER

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ROLES = [
    "Compliance officer",
    "Support agent",
    "Payments reviewer",
    "Brand admin",
    "Operator admin",
    "Auditor",
]


def _client(user) -> Client:
    client = Client()
    staff_login(client, user)
    return client


def _messages(response) -> list[str]:
    if response.context is not None and "messages" in response.context:
        return [str(m) for m in response.context["messages"]]
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def pages(brand, player, funded_wallet, withdrawal, deposit, make_staff):
    """One of everything in brand A: a flagged withdrawal with a review history and an
    approval, a manual payout, a completed deposit, a policy and an incident."""
    ReviewPolicy.objects.create(
        brand=brand,
        amount_thresholds={"GBP": "500.00"},
        four_eyes_above={"GBP": "100.00"},
        velocity_count=100,
    )
    flagged = withdrawal(amount=20_000)  # four eyes: the first approval sends it back to the queue
    first = make_staff("Payments reviewer", brands=[brand])
    services.review_claim(actor=first, payment_id=flagged.pk)
    services.review_approve(actor=first, payment_id=flagged.pk, reason="one of two")
    manual = withdrawal(amount=1_000, provider="manual_bank", method="bank_transfer")
    completed = deposit(amount=2_000)
    services.deposit_confirm(payment_id=completed.pk, actor=PROVIDER)
    services.incident_record(
        payment_id=flagged.pk,
        brand_id=brand.pk,
        provider="paymentiq",
        code="transfer_after_cancel",
        detail={"txId": "T-1"},
        actor=PROVIDER,
    )
    return {
        "flagged": flagged,
        "manual": manual,
        "completed": completed,
        "policy": ReviewPolicy.objects.get(brand=brand),
        "incident": PaymentIncident.objects.get(),
    }


def _urls(pages) -> dict[str, str]:
    base = "/admin/payments/"
    return {
        "index": "/admin/",
        "app": base,
        "queue": f"{base}payment/",
        "all filtered": f"{base}payment/?view=all&flag=first_withdrawal&amount=100-1k&age=lt1h&q=x",
        "all by age": f"{base}payment/?view=all&age=7d%2B&amount=10k%2B&queue=senior&o=2",
        "flagged detail": f"{base}payment/{pages['flagged'].pk}/change/",
        "manual detail": f"{base}payment/{pages['manual'].pk}/change/",
        "completed detail": f"{base}payment/{pages['completed'].pk}/change/",
        "history": f"{base}payment/{pages['flagged'].pk}/history/",
        "record deposit": f"{base}payment/record-bank-deposit/",
        "policies": f"{base}reviewpolicy/",
        "policy add": f"{base}reviewpolicy/add/",
        "policy": f"{base}reviewpolicy/{pages['policy'].pk}/change/",
        "incidents": f"{base}paymentincident/?resolved=no",
        "incident": f"{base}paymentincident/{pages['incident'].pk}/change/",
    }


PAYMENT_PAGES = {
    "queue",
    "all filtered",
    "all by age",
    "flagged detail",
    "manual detail",
    "completed detail",
    "history",
}
POLICY_VIEW = {"policies", "policy"}
INCIDENTS = {"incidents", "incident"}
# The pages each role may not open (403); every other page renders (200).
REFUSED = {
    "Compliance officer": {"record deposit", "policy add"},
    "Support agent": {"record deposit", "policy add", *POLICY_VIEW},
    "Payments reviewer": {"policy add"},
    "Brand admin": {"record deposit", *PAYMENT_PAGES, *INCIDENTS},
    "Operator admin": {"record deposit", *INCIDENTS},
    "Auditor": {"record deposit", "policy add"},
    "superuser": set(),
}


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
def test_every_page_renders_for_each_role(make_staff, superuser, brand, pages, role):
    if role == "superuser":
        user = superuser
    elif role == "Operator admin":
        user = make_staff(role, operator=brand.operator)
    else:
        user = make_staff(role, brands=[brand])
    client = _client(user)

    statuses = {name: client.get(url).status_code for name, url in _urls(pages).items()}

    assert statuses == {name: 403 if name in REFUSED[role] else 200 for name in statuses}


def test_a_manual_payout_under_review_is_reviewed_before_it_is_paid(reviewer, pages):
    response = _client(reviewer).get(f"/admin/payments/payment/{pages['manual'].pk}/change/")

    page = response.content.decode()
    assert pages["manual"].status == Status.PENDING_REVIEW  # first withdrawal: reviewed first
    assert [s["name"] for s in response.context["review_steps"]] == ["claim", "escalate"]
    assert "Manual bank transfer" in page


# --- review policies ----------------------------------------------------------------------------


POLICY_ADD = "/admin/payments/reviewpolicy/add/"


def _policy_form(brand, **overrides) -> dict:
    data = {
        "brand": str(brand.pk),
        "amount_thresholds": '{"GBP": "100.00"}',
        "four_eyes_above": '{"GBP": "1000.00"}',
        "review_first_withdrawal": "on",
        "review_kyc_not_verified": "on",
        "no_play_window_hours": "24",
        "min_play_ratio": "1.00",
        "new_account_days": "7",
        "velocity_count": "5",
        "velocity_minutes": "60",
        "low_risk_flags": '["first_withdrawal"]',
        "sla_minutes": "120",
        "senior_sla_minutes": "480",
    }
    return data | overrides


@pytest.fixture
def brand_admin(make_staff, brand):
    return make_staff("Brand admin", brands=[brand])


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("amount_thresholds", '{"GBP": "12.3.4"}', "GBP: '12.3.4' is not a decimal amount."),
        (
            "amount_thresholds",
            '{"GBP": 1000}',
            'GBP: write the amount as a decimal string, e.g. "1700.00" (got 1000).',
        ),
        ("amount_thresholds", '{"GBP": "1.234"}', "GBP: 1.234 has more than 2 decimals."),
        ("amount_thresholds", '{"GBP": "-5.00"}', "GBP: the amount must be positive."),
        ("amount_thresholds", '{"XXX": "5.00"}', "XXX: not a known currency code."),
        ("amount_thresholds", '["GBP"]', 'Give a mapping of currency to amount, e.g. {"GBP": "1700.00"}.'),
        ("amount_thresholds", "{", "Enter a valid JSON."),
        ("four_eyes_above", '{"GBP": "NaN"}', "GBP: 'NaN' is not a decimal amount."),
        ("low_risk_flags", '["first_withdrawal", "nope"]', "Unknown flag code(s): nope."),
        ("low_risk_flags", '{"a": 1}', 'Give a list of flag codes, e.g. ["first_withdrawal"].'),
    ],
)
def test_policy_form_refuses_a_bad_value(brand_admin, brand, field, value, error):
    response = _client(brand_admin).post(POLICY_ADD, _policy_form(brand, **{field: value}))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [error]
    assert not ReviewPolicy.objects.exists()


def test_brand_admin_sets_a_policy_that_the_review_rules_use(brand_admin, brand, deposit):
    response = _client(brand_admin).post(POLICY_ADD, _policy_form(brand))

    policy = ReviewPolicy.objects.get(brand=brand)
    assert response.status_code == 302
    assert (policy.amount_thresholds, policy.low_risk_flags, policy.sla_minutes) == (
        {"GBP": "100.00"},
        ["first_withdrawal"],
        120,
    )
    assert (deposit(amount=9_999).status, deposit(amount=10_000).flag_codes) == (
        Status.PENDING,
        ["large_amount"],
    )


def test_brand_admin_changes_a_policy_but_not_its_brand(brand_admin, brand, other_brand):
    policy = ReviewPolicy.objects.create(brand=brand)
    client = _client(brand_admin)

    client.post(
        f"/admin/payments/reviewpolicy/{policy.pk}/change/",
        _policy_form(other_brand, amount_thresholds='{"GBP": "250.50"}'),
    )

    policy.refresh_from_db()
    assert (policy.brand_id, policy.amount_thresholds) == (brand.pk, {"GBP": "250.50"})


def test_policies_of_another_brand_are_out_of_reach(make_staff, brand, other_brand):
    theirs = ReviewPolicy.objects.create(brand=other_brand, amount_thresholds={"SEK": "10.00"})
    client = _client(make_staff("Brand admin", brands=[brand]))

    listed = client.get("/admin/payments/reviewpolicy/")
    changed = client.post(
        f"/admin/payments/reviewpolicy/{theirs.pk}/change/", _policy_form(other_brand, amount_thresholds="{}")
    )
    added = client.post(POLICY_ADD, _policy_form(other_brand))

    assert list(listed.context["cl"].result_list) == []
    assert (changed.status_code, changed["Location"]) == (302, "/admin/")
    assert added.context["adminform"].form.errors["brand"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert list(ReviewPolicy.objects.values_list("brand_id", "amount_thresholds")) == [
        (other_brand.pk, {"SEK": "10.00"})
    ]


def test_a_reviewer_sees_but_cannot_change_the_policy(reviewer, brand):
    policy = ReviewPolicy.objects.create(brand=brand, amount_thresholds={"GBP": "500.00"})

    response = _client(reviewer).post(
        f"/admin/payments/reviewpolicy/{policy.pk}/change/", _policy_form(brand, amount_thresholds="{}")
    )

    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.amount_thresholds == {"GBP": "500.00"}


# --- incidents ----------------------------------------------------------------------------------


@pytest.fixture
def incidents(brand, other_brand):
    for target, code in ((brand, "paid_before_approval"), (other_brand, "transfer_after_cancel")):
        services.incident_record(
            payment_id=None, brand_id=target.pk, provider="paymentiq", code=code, detail={}, actor=PROVIDER
        )
    return PaymentIncident.objects.get(brand=brand), PaymentIncident.objects.get(brand=other_brand)


def _resolve(client, ids):
    return client.post(
        "/admin/payments/paymentincident/",
        {"action": "mark_resolved", "_selected_action": [str(pk) for pk in ids], "index": "0"},
        follow=True,
    )


def test_officer_resolves_incidents_of_their_brand_only(compliance_officer, incidents):
    mine, theirs = incidents
    client = _client(compliance_officer)

    listed = client.get("/admin/payments/paymentincident/")
    response = _resolve(client, [mine.pk, theirs.pk])

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert list(listed.context["cl"].result_list) == [mine]
    assert _messages(response) == ["1 incident(s) resolved."]
    assert (mine.resolved_by_id, mine.resolved_at is not None) == (compliance_officer.pk, True)
    assert (theirs.resolved_by_id, theirs.resolved_at) == (None, None)


def test_resolving_needs_the_permission(reviewer, incidents):
    mine, _ = incidents
    client = _client(reviewer)

    listed = client.get("/admin/payments/paymentincident/")
    _resolve(client, [mine.pk])

    assert listed.context["action_form"] is None
    mine.refresh_from_db()
    assert (mine.resolved_by_id, mine.resolved_at) == (None, None)


def test_incident_resolve_service_refuses_another_brand(outsider, incidents):
    mine, _ = incidents

    with pytest.raises(PaymentNotFound):
        services.incident_resolve(actor=outsider, incident_id=mine.pk)

    mine.refresh_from_db()
    assert (mine.resolved_by_id, mine.resolved_at) == (None, None)


def test_an_auditor_reads_everything_and_changes_nothing(make_staff, brand, pages):
    client = _client(make_staff("Auditor", brands=[brand]))
    flagged, manual = pages["flagged"], pages["manual"]
    before = (
        list(type(flagged).objects.order_by("pk").values()),
        list(PaymentIncident.objects.order_by("pk").values()),
        list(ReviewPolicy.objects.order_by("pk").values()),
    )

    queue = client.get("/admin/payments/payment/")
    incidents = client.get("/admin/payments/paymentincident/")
    steps = {
        step: client.post(f"/admin/payments/payment/{payment.pk}/step/{step}/", {"reason": "x"}).status_code
        for payment, step in ((flagged, "claim"), (flagged, "escalate"), (manual, "payout_paid"))
    }
    action = client.post(
        "/admin/payments/payment/", {"action": "claim", "_selected_action": [flagged.pk], "index": "0"}
    )
    policy = client.post(f"/admin/payments/reviewpolicy/{pages['policy'].pk}/change/", _policy_form(brand))

    assert (queue.context["action_form"], incidents.context["action_form"]) == (None, None)
    assert steps == {"claim": 403, "escalate": 403, "payout_paid": 403}
    assert (action.status_code, policy.status_code) == (200, 403)
    assert before == (
        list(type(flagged).objects.order_by("pk").values()),
        list(PaymentIncident.objects.order_by("pk").values()),
        list(ReviewPolicy.objects.order_by("pk").values()),
    )
