"""Reads of payments: every list scoped to the brands the person can see."""

from django.db.models import Count, Q, QuerySet, Sum

from apps.payments.models import UNDER_REVIEW, Payment, PaymentIncident, ReviewPolicy, Status
from apps.tenants.selectors import brands_visible_to


def _brand_ids(user):
    return brands_visible_to(user).values("pk")


def payments_visible_to(user) -> QuerySet[Payment]:
    return Payment.objects.filter(brand_id__in=_brand_ids(user))


def includes_large_withdrawal(payments: QuerySet[Payment]) -> bool:
    """Whether any of these is a large withdrawal: one above its brand's four-eyes threshold
    (ReviewPolicy.four_eyes_above, per currency: it needs two approvals). Approving one is a
    sensitive action: the approver confirms password and code again (apps/security/reauth.py)."""
    return payments.filter(kind=Payment.Kind.WITHDRAWAL, approvals_required__gt=1).exists()


def review_queue_for(user) -> QuerySet[Payment]:
    """Items waiting for or under review in the person's brands, most urgent first."""
    return (
        payments_visible_to(user)
        .filter(status__in=UNDER_REVIEW)
        .select_related("player", "currency", "claimed_by", "brand")
        .order_by("sla_due_at", "created_at")
    )


def review_queue_stats(*, now) -> dict[str, dict[str, int]]:
    """Platform-wide, for the metrics endpoint: per queue, the items under review and how
    many of them are past their SLA deadline. One query on a partial index (the rows under
    review are few, the table is not)."""
    rows = (
        Payment.objects.filter(status__in=UNDER_REVIEW)
        .values("queue")
        .annotate(items=Count("id"), breached=Count("id", filter=Q(sla_due_at__lte=now)))
        .order_by()
    )
    return {row["queue"] or "none": {"items": row["items"], "breached": row["breached"]} for row in rows}


def incidents_visible_to(user) -> QuerySet[PaymentIncident]:
    return PaymentIncident.objects.filter(brand_id__in=_brand_ids(user))


def review_policies_visible_to(user) -> QuerySet[ReviewPolicy]:
    return ReviewPolicy.objects.filter(brand_id__in=_brand_ids(user))


def player_payment_summary(*, player_id: int) -> dict:
    """A reviewer's side panel: the player's payment totals per kind and currency, and counts
    of what was rejected, flagged and failed."""
    rows = (
        Payment.objects.filter(player_id=player_id)
        .order_by()
        .values("kind", "currency_id")
        .annotate(
            count=Count("id"),
            completed=Sum("amount", filter=Q(status__in=[Status.COMPLETED, Status.PAID])),
            under_review=Count("id", filter=Q(status__in=UNDER_REVIEW)),
            rejected=Count("id", filter=Q(status=Status.REJECTED)),
            failed=Count("id", filter=Q(status=Status.FAILED)),
        )
    )
    flagged = Payment.objects.filter(player_id=player_id).exclude(risk_flags=[]).count()
    return {"by_kind_currency": list(rows), "flagged": flagged}


def payments_of_player(player) -> QuerySet[Payment]:
    """A player's own payments (the player API's scope): nobody else's."""
    return Payment.objects.filter(player_id=player.pk).select_related("currency", "account")


def player_payments_recent(*, player_id: int, limit: int = 20) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(player_id=player_id).select_related("currency").order_by("-created_at")[:limit]
    )
