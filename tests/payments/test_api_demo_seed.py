"""The payments demo (apps/payments/demo.py, run by seed_demo): the review queue has work in
every interesting state, made through the services, once."""

import pytest

from apps.payments import demo
from apps.payments.models import Payment, PaymentAccount, PaymentApproval, ReviewAction, ReviewPolicy
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def context(brand, other_brand, reviewer, superuser):
    """What the tenants' demo hands on: brand A has a payments reviewer, brand B only the superuser."""
    for _ in range(7):
        PlayerFactory(brand=brand, kyc_status="verified")
        PlayerFactory(brand=other_brand, kyc_status="verified")
    PlayerFactory(brand=brand, kyc_status="pending")  # compliance would refuse: not chosen
    return {
        "brands": {"brand-a": brand, "brand-b": other_brand},
        "staff": {"payments": reviewer},
        "admin": superuser,
        "logins": [],
    }


def _summary(brand) -> list[tuple]:
    rows = Payment.objects.filter(brand=brand).values_list("kind", "status", "queue", "approvals_required")
    return sorted(rows)


def test_the_demo_fills_each_brands_review_queue(context, brand, other_brand, reviewer, superuser):
    # when
    demo.seed(context)

    # then: the same story on both brands
    expected = sorted(
        [("deposit", "completed", "", 1)] * 7
        + [
            ("deposit", "flagged", "standard", 1),
            ("withdrawal", "pending_review", "standard", 1),
            ("withdrawal", "pending_review", "standard", 2),
            ("withdrawal", "pending_review", "senior", 1),
            ("withdrawal", "paid", "", 1),
            ("withdrawal", "cancelled", "", 1),
        ]
    )
    assert _summary(brand) == expected
    assert _summary(other_brand) == expected
    policies = {p.brand.code: (p.four_eyes_above, p.amount_thresholds) for p in ReviewPolicy.objects.all()}
    assert policies == {
        "brand-a": ({"GBP": "1000.00"}, {"GBP": "5000.00"}),
        "brand-b": ({"SEK": "10000.00"}, {"SEK": "50000.00"}),
    }
    # the flagged deposit's money has arrived; the escalation was the SLA job's
    assert Payment.objects.filter(kind="deposit", status="flagged", funds_received=True).count() == 2
    assert set(
        ReviewAction.objects.filter(action="escalated").values_list("payment__brand__code", "actor", "reason")
    ) == {("brand-a", "system:payments", "SLA breached"), ("brand-b", "system:payments", "SLA breached")}
    # the demo staff acted: brand A's reviewer, brand B's superuser
    assert set(PaymentApproval.objects.values_list("payment__brand__code", "staff_id")) == {
        ("brand-a", reviewer.pk),
        ("brand-b", superuser.pk),
    }
    assert PaymentApproval.objects.count() == 4
    # bank accounts are kept hashed and masked
    assert all(
        ref.startswith("iban-sha256:") for ref in PaymentAccount.objects.values_list("account_ref", flat=True)
    )
    assert context["logins"] == ["Demo payments: 26 on 2 brand(s); 8 in the review queue."]


def test_the_demo_runs_once(context):
    demo.seed(context)
    before = (Payment.objects.count(), ReviewAction.objects.count(), ReviewPolicy.objects.count())

    demo.seed(context)

    assert (Payment.objects.count(), ReviewAction.objects.count(), ReviewPolicy.objects.count()) == before
