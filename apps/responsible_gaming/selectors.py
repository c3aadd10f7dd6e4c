"""Reads of responsible gaming; every staff list goes through one `*_visible_to` selector."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.responsible_gaming.models import Exclusion, GuardState, Limit, LimitChange, Refusal
from apps.tenants.selectors import brands_visible_to


def _brands(user):
    return brands_visible_to(user).values("pk")


def limits_visible_to(user) -> QuerySet[Limit]:
    return Limit.objects.filter(brand__in=_brands(user))


def limit_changes_visible_to(user) -> QuerySet[LimitChange]:
    return LimitChange.objects.filter(brand__in=_brands(user))


def exclusions_visible_to(user) -> QuerySet[Exclusion]:
    return Exclusion.objects.filter(brand__in=_brands(user))


def refusals_visible_to(user) -> QuerySet[Refusal]:
    return Refusal.objects.filter(brand__in=_brands(user))


def exclusions_active(qs: QuerySet[Exclusion], now=None) -> QuerySet[Exclusion]:
    now = now or timezone.now()
    return qs.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))


def player_overview(player) -> dict:
    """A player's limits, pending changes, exclusions in force and reality-check interval."""
    now = timezone.now()
    state = GuardState.objects.filter(player=player).first()
    return {
        "limits": list(Limit.objects.filter(player=player).order_by("kind", "period")),
        "pending": list(
            LimitChange.objects.filter(player=player, status=LimitChange.Status.PENDING).order_by(
                "effective_at"
            )
        ),
        "exclusions": [
            e
            for e in Exclusion.objects.filter(player=player).order_by("-starts_at")
            if e.blocked_until is None or e.blocked_until > now
        ],
        "reality_check_minutes": state.reality_check_minutes if state else None,
    }
