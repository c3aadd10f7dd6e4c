"""Reads of BeAware, every staff read scoped to the brands the user may see."""

from django.db.models import QuerySet

from apps.rules.models import BacktestRun, Message, ReviewTask, RiskMarker, Rule, RuleHit, RuleVersion
from apps.tenants.selectors import brands_visible_to


def _brands(user):
    return brands_visible_to(user).values("pk")


def rules_visible_to(user) -> QuerySet[Rule]:
    return Rule.objects.filter(brand__in=_brands(user))


def rule_versions_visible_to(user) -> QuerySet[RuleVersion]:
    return RuleVersion.objects.filter(rule__brand__in=_brands(user))


def rule_hits_visible_to(user) -> QuerySet[RuleHit]:
    return RuleHit.objects.filter(brand__in=_brands(user))


def risk_markers_visible_to(user) -> QuerySet[RiskMarker]:
    return RiskMarker.objects.filter(brand__in=_brands(user))


def review_tasks_visible_to(user) -> QuerySet[ReviewTask]:
    return ReviewTask.objects.filter(brand__in=_brands(user))


def messages_visible_to(user) -> QuerySet[Message]:
    return Message.objects.filter(brand__in=_brands(user))


def backtests_visible_to(user) -> QuerySet[BacktestRun]:
    return BacktestRun.objects.filter(rule__brand__in=_brands(user))


def risk_markers_active(player_id: int) -> QuerySet[RiskMarker]:
    return RiskMarker.objects.filter(player_id=player_id, cleared_at__isnull=True)


def messages_of_player(player) -> QuerySet[Message]:
    """A player's own messages that went out (queued or failed ones are not theirs yet)."""
    return Message.objects.filter(player=player, status=Message.Status.SENT)
