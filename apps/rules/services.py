"""Writes of BeAware's staff side: rules and their versions, markers, review tasks.

Every service checks its own permission on the rule's (or player's) brand and is
audited (auditlog on the models, with the staff user as actor).
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.actors import actor_label, audit_as
from apps.rules.actions import actions_validate
from apps.rules.catalogue import TRIGGER_TYPES
from apps.rules.dsl import compile_condition
from apps.rules.engine import rule_cache
from apps.rules.exceptions import RulesError, RulesPermissionDenied, TriggersInvalid
from apps.rules.models import BacktestRun, ReviewTask, RiskMarker, Rule, RuleVersion
from apps.tenants.permissions import user_can

MIN_COOLDOWN_SECONDS = 60
MAX_COOLDOWN_SECONDS = 366 * 86400


def _require(actor, perm: str, brand_id: int, what: str) -> None:
    if not user_can(actor, perm, brand_id=brand_id):
        raise RulesPermissionDenied(f"You may not {what}.")


def triggers_validate(triggers) -> list[str]:
    if not isinstance(triggers, list) or not triggers:
        raise TriggersInvalid("Choose at least one event type that runs the rule.")
    unknown = sorted({t for t in triggers if t not in TRIGGER_TYPES}, key=str)
    if unknown:
        raise TriggersInvalid(f"Not an event a rule can run on: {', '.join(map(str, unknown))}.")
    return sorted(set(triggers))


def _cooldown_validate(seconds) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise RulesError("The cooldown is a whole number of seconds.", code="cooldown_invalid")
    if not MIN_COOLDOWN_SECONDS <= seconds <= MAX_COOLDOWN_SECONDS:
        raise RulesError("The cooldown is 1 minute to 366 days.", code="cooldown_invalid")
    return seconds


def _rules_changed() -> None:
    transaction.on_commit(rule_cache.clear)


def rule_create(
    *,
    actor,
    brand,
    name: str,
    triggers: list,
    condition: str,
    actions: list,
    cooldown_seconds: int = 86400,
    priority: int = 100,
    stop_processing: bool = False,
    description: str = "",
    note: str = "",
) -> Rule:
    """A new rule, disabled, with its first version. Needs rules.add_rule on the brand."""
    _require(actor, "rules.add_rule", brand.pk, "write rules for this brand")
    name = (name or "").strip()
    if not name:
        raise RulesError("A rule needs a name.", code="name_required")
    version_fields = _version_fields(triggers, condition, actions, cooldown_seconds)
    try:
        with transaction.atomic(), audit_as(actor):
            rule = Rule.objects.create(
                brand=brand,
                name=name[:100],
                description=description,
                priority=priority,
                stop_processing=stop_processing,
            )
            version = RuleVersion.objects.create(
                rule=rule, number=1, note=note[:255], created_by=actor_label(actor), **version_fields
            )
            rule.current_version = version
            rule.save(update_fields=["current_version"])
    except IntegrityError as exc:
        raise RulesError(f"The brand has a rule named {name!r} already.", code="name_taken") from exc
    _rules_changed()
    return rule


def _version_fields(triggers, condition, actions, cooldown_seconds) -> dict:
    compile_condition(condition)  # refuses with the reason and where
    return {
        "triggers": triggers_validate(triggers),
        "condition": condition,
        "actions": actions_validate(actions),
        "cooldown_seconds": _cooldown_validate(cooldown_seconds),
    }


def rule_version_add(
    *, actor, rule: Rule, triggers: list, condition: str, actions: list, cooldown_seconds: int, note: str = ""
) -> RuleVersion:
    """A new version of what the rule says; the old one stays, with its hits. Needs
    rules.change_rule. Locks the rule, so two edits at once make versions n+1 and n+2."""
    _require(actor, "rules.change_rule", rule.brand_id, "change this rule")
    version_fields = _version_fields(triggers, condition, actions, cooldown_seconds)
    with transaction.atomic(), audit_as(actor):
        locked = Rule.objects.select_for_update().get(pk=rule.pk)
        last = locked.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = RuleVersion.objects.create(
            rule=locked, number=last + 1, note=note[:255], created_by=actor_label(actor), **version_fields
        )
        locked.current_version = version
        locked.updated_at = timezone.now()
        locked.save(update_fields=["current_version", "updated_at"])
    rule.current_version, rule.updated_at = version, locked.updated_at
    _rules_changed()
    return version


def rule_settings_change(
    *, actor, rule: Rule, name: str, description: str, priority: int, stop_processing: bool
) -> Rule:
    """Name, description, priority and stop_processing (no new version: they do not change
    what a hit means). Needs rules.change_rule."""
    _require(actor, "rules.change_rule", rule.brand_id, "change this rule")
    try:
        with transaction.atomic(), audit_as(actor):
            Rule.objects.filter(pk=rule.pk).update(
                name=name.strip()[:100],
                description=description,
                priority=priority,
                stop_processing=stop_processing,
                updated_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise RulesError(f"The brand has a rule named {name!r} already.", code="name_taken") from exc
    rule.refresh_from_db()
    _rules_changed()
    return rule


def rule_enabled_set(*, actor, rule: Rule, enabled: bool) -> Rule:
    """Switch the rule on or off. Needs rules.enable_rule on the brand."""
    _require(actor, "rules.enable_rule", rule.brand_id, "enable or disable this rule")
    with transaction.atomic(), audit_as(actor):
        locked = Rule.objects.select_for_update().get(pk=rule.pk)
        if locked.enabled != enabled:
            locked.enabled = enabled
            locked.updated_at = timezone.now()
            locked.save(update_fields=["enabled", "updated_at"])
    rule.enabled = enabled
    _rules_changed()
    return rule


def risk_marker_clear(*, actor, marker: RiskMarker, reason: str) -> RiskMarker:
    """Clear a risk marker with a reason. Needs rules.change_riskmarker on the brand."""
    _require(actor, "rules.change_riskmarker", marker.brand_id, "clear this marker")
    reason = (reason or "").strip()
    if not reason:
        raise RulesError("A reason is required.", code="reason_required")
    with transaction.atomic(), audit_as(actor):
        updated = RiskMarker.objects.filter(pk=marker.pk, cleared_at__isnull=True).update(
            cleared_at=timezone.now(), cleared_by=actor_label(actor), clear_reason=reason[:255]
        )
    if not updated:
        raise RulesError("The marker is cleared already.", code="already_cleared")
    marker.refresh_from_db()
    return marker


def review_task_take(*, actor, task: ReviewTask) -> ReviewTask:
    """Assign an open task to yourself (one holder at a time). Needs rules.work_review_task."""
    _require(actor, "rules.work_review_task", task.brand_id, "work on this task")
    with transaction.atomic(), audit_as(actor):
        updated = ReviewTask.objects.filter(
            pk=task.pk, status=ReviewTask.Status.OPEN, assigned_to__isnull=True
        ).update(assigned_to=actor)
    if not updated:
        raise RulesError("The task is taken or closed.", code="task_unavailable")
    task.refresh_from_db()
    return task


def review_task_close(*, actor, task: ReviewTask, resolution: str) -> ReviewTask:
    """Close an open task with what was found and done. Needs rules.work_review_task."""
    _require(actor, "rules.work_review_task", task.brand_id, "work on this task")
    resolution = (resolution or "").strip()
    if not resolution:
        raise RulesError("Say what was found and done.", code="resolution_required")
    with transaction.atomic(), audit_as(actor):
        updated = ReviewTask.objects.filter(pk=task.pk, status=ReviewTask.Status.OPEN).update(
            status=ReviewTask.Status.CLOSED, closed_at=timezone.now(), resolution=resolution
        )
    if not updated:
        raise RulesError("The task is closed already.", code="task_unavailable")
    task.refresh_from_db()
    return task


def backtest_request(*, actor, rule: Rule, days: int, version: RuleVersion | None = None) -> BacktestRun:
    """Queue a backtest of the rule's current (or given) version over the last `days` days.
    Needs rules.run_backtest on the brand. Runs in Celery (backtest_run_task)."""
    from django.conf import settings

    from apps.rules.tasks import backtest_run_task

    _require(actor, "rules.run_backtest", rule.brand_id, "backtest this rule")
    limit = settings.RULES_BACKTEST_MAX_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limit:
        raise RulesError(f"A backtest covers 1 to {limit} days.", code="days_invalid")
    version = version or rule.current_version
    if version is None or version.rule_id != rule.pk:
        raise RulesError("That is not a version of this rule.", code="version_invalid")
    now = timezone.now()
    with transaction.atomic(), audit_as(actor):
        run = BacktestRun.objects.create(
            rule=rule,
            version=version,
            days=days,
            period_start=now - timedelta(days=days),
            period_end=now,
            requested_by=actor_label(actor),
        )
        transaction.on_commit(lambda: backtest_run_task.delay(run.pk))
    return run
