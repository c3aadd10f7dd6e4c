"""Payments put in each status through the services, and what a refused call must not change.

`payment_in(kind, status, ...)` walks a new payment to `status` the way production does
(provider calls and staff decisions), so every test starts from a reachable state. The
brand's policy (`lenient_policy`) lets a payment without a payment account go straight
through and holds one with a new account for review (the new_payment_account flag), so
one switch chooses the path.
"""

import itertools

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.db import connection

from apps.core.models import Event
from apps.payments import services
from apps.payments.models import (
    Payment,
    PaymentApproval,
    PaymentIncident,
    ReviewAction,
    ReviewPolicy,
    Status,
)
from apps.tenants.roles import ROLES
from apps.wallet.models import LedgerTransaction
from tests.payments.conftest import PROVIDER
from tests.wallet.ledger import balances

S = Status
D, W = Payment.Kind.DEPOSIT, Payment.Kind.WITHDRAWAL
_accounts = itertools.count(1)

# Every status a payment of each kind can rest in (initiated and requested are passed
# through inside the first service call and never committed).
RESTING = {
    D: [S.PENDING, S.FLAGGED, S.IN_REVIEW, S.APPROVED, S.COMPLETED, S.REJECTED, S.FAILED, S.CANCELLED],
    W: [
        S.AUTO_APPROVED,
        S.PENDING_REVIEW,
        S.IN_REVIEW,
        S.APPROVED,
        S.PROCESSING,
        S.PAID,
        S.REJECTED,
        S.FAILED,
        S.CANCELLED,
    ],
}


@pytest.fixture
def roles(db):
    """tests/conftest.py's `roles`, faster: the role groups exactly as roles_sync makes them,
    in one query for the permissions instead of one per permission (~0.3 s a test). Import
    it into a test module to use it; roles_sync itself is tested with the tenants."""
    permissions = {
        f"{perm.content_type.app_label}.{perm.codename}": perm
        for perm in Permission.objects.select_related("content_type")
    }
    for role, names in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([permissions[name] for name in names])


def lenient_policy(brand, **overrides) -> ReviewPolicy:
    """Only a new payment account (and four eyes above 1,000.00 GBP) holds a payment."""
    values = {
        "four_eyes_above": {"GBP": "1000.00"},
        "review_first_withdrawal": False,
        "review_method_mismatch": False,
        "velocity_count": 1_000,
        **overrides,
    }
    policy, _ = ReviewPolicy.objects.update_or_create(brand=brand, defaults=values)
    return policy


def new_account() -> services.AccountInfo:
    n = next(_accounts)
    return services.AccountInfo(ref=f"acct-{n}", masked=f"**** {n:04d}")


def deposit_start(player, amount: int = 5_000, *, review: bool, **kwargs) -> Payment:
    return services.deposit_initiate(
        player=player,
        amount=amount,
        currency="GBP",
        method="card",
        card_type="debit",
        provider="paymentiq",
        actor=PROVIDER,
        account=new_account() if review else None,
        **kwargs,
    )


def withdrawal_start(player, amount: int = 5_000, *, review: bool, **kwargs) -> Payment:
    return services.withdrawal_request(
        player=player,
        amount=amount,
        currency="GBP",
        method="card",
        provider="paymentiq",
        actor=PROVIDER,
        account=new_account() if review else None,
        **kwargs,
    )


def payment_in(kind: str, status: str, *, player, reviewer, amount: int = 5_000) -> Payment:
    """A new payment of `kind` walked to `status` through the services (lenient_policy)."""
    reviewed = status in (S.FLAGGED, S.PENDING_REVIEW, S.IN_REVIEW, S.APPROVED, S.REJECTED)
    if kind == D:
        payment = deposit_start(player, amount, review=reviewed)
        steps = {
            S.PENDING: [],
            S.FLAGGED: [],
            S.IN_REVIEW: ["claim"],
            S.APPROVED: ["claim", "approve"],
            S.REJECTED: ["claim", "reject"],
            S.COMPLETED: ["confirm"],
            S.FAILED: ["fail"],
            S.CANCELLED: ["cancel"],
        }[status]
    else:
        payment = withdrawal_start(player, amount, review=reviewed)
        steps = {
            S.AUTO_APPROVED: [],
            S.PENDING_REVIEW: [],
            S.IN_REVIEW: ["claim"],
            S.APPROVED: ["claim", "approve"],
            S.REJECTED: ["claim", "reject"],
            S.PROCESSING: ["process"],
            S.PAID: ["process", "paid"],
            S.FAILED: ["process", "fail"],
            S.CANCELLED: ["cancel"],
        }[status]
    pk = payment.pk
    for step in steps:
        {
            "claim": lambda: services.review_claim(actor=reviewer, payment_id=pk),
            "approve": lambda: services.review_approve(actor=reviewer, payment_id=pk, reason="fine"),
            "reject": lambda: services.review_reject(actor=reviewer, payment_id=pk, reason="no"),
            "confirm": lambda: services.deposit_confirm(payment_id=pk, actor=PROVIDER),
            "process": lambda: services.withdrawal_process(payment_id=pk, actor=PROVIDER),
            "paid": lambda: services.withdrawal_paid(payment_id=pk, actor=PROVIDER),
            "fail": lambda: services.payment_fail(payment_id=pk, actor=PROVIDER, reason="provider failed"),
            "cancel": lambda: services.payment_cancel(
                payment_id=pk, actor=PROVIDER, reason="provider cancelled"
            ),
        }[step]()
    payment.refresh_from_db()
    assert payment.status == status, (kind, status, payment.status)
    return payment


PAYMENT_FIELDS = (
    "status",
    "queue",
    "sla_due_at",
    "escalated_at",
    "claimed_by_id",
    "claimed_at",
    "risk_flags",
    "funds_received",
    "approvals_required",
    "decided_at",
    "decision_reason",
    "updated_at",
)


def snapshot(payment: Payment) -> dict:
    """Everything a refused call must leave as it was: the payment, its wallet, and the
    counts of ledger, event, review, approval, incident and audit rows."""
    row = Payment.objects.filter(pk=payment.pk).values(*PAYMENT_FIELDS).get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM wallet_wallet WHERE id = %s", [payment.wallet_id])
        version = cursor.fetchone()[0]
    return {
        "payment": row,
        "wallet": {**balances(payment.wallet_id), "version": version},
        "ledger": LedgerTransaction.objects.count(),
        "events": Event.objects.count(),
        "review_actions": ReviewAction.objects.count(),
        "approvals": PaymentApproval.objects.count(),
        "incidents": PaymentIncident.objects.count(),
        "audit": LogEntry.objects.count(),
    }


def event_types(payment: Payment, *, after: int = 0) -> list[str]:
    """The payments.* events about this payment, oldest first (after event id `after`)."""
    return list(
        Event.objects.filter(type__startswith="payments.", payload__payment_id=payment.pk, pk__gt=after)
        .order_by("pk")
        .values_list("type", flat=True)
    )


def last_event_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
