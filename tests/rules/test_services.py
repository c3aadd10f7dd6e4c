"""Rule management through the services: validation, versions, and who may do what
(a user of the brand with the permission, one without it, one of another brand)."""

import pytest

from apps.rules import services
from apps.rules.exceptions import (
    ActionsInvalid,
    ConditionInvalid,
    RulesError,
    RulesPermissionDenied,
    TriggersInvalid,
)
from apps.rules.models import ReviewTask, RiskMarker, Rule, RuleVersion

pytestmark = pytest.mark.django_db

FLAG = [{"type": "flag", "marker": "m", "level": "low"}]


def create(actor, brand, **fields):
    values = {
        "name": "velocity",
        "triggers": ["payments.deposit_completed"],
        "condition": "event.amount > 10",
        "actions": FLAG,
        **fields,
    }
    return services.rule_create(actor=actor, brand=brand, **values)


def test_a_new_rule_is_disabled_with_its_first_version(officer, brand):
    rule = create(officer, brand, note="first cut", cooldown_seconds=3600)

    version = rule.current_version
    assert (rule.enabled, version.number, version.note, version.created_by) == (
        False,
        1,
        "first cut",
        f"staff:{officer.pk}",
    )
    assert (version.triggers, version.condition, version.actions, version.cooldown_seconds) == (
        ["payments.deposit_completed"],
        "event.amount > 10",
        FLAG,
        3600,
    )


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"condition": "event.amount >"}, ConditionInvalid, "syntax_error"),
        ({"actions": [{"type": "nuke"}]}, ActionsInvalid, "unknown_action"),
        ({"triggers": []}, TriggersInvalid, "triggers_invalid"),
        ({"triggers": ["wallet.reconciliation_mismatch"]}, TriggersInvalid, "triggers_invalid"),
        ({"triggers": "payments.deposit_completed"}, TriggersInvalid, "triggers_invalid"),
        ({"cooldown_seconds": 59}, RulesError, "cooldown_invalid"),
        ({"cooldown_seconds": "3600"}, RulesError, "cooldown_invalid"),
        ({"name": "  "}, RulesError, "name_required"),
    ],
)
def test_invalid_rules_are_refused_and_nothing_is_written(officer, brand, fields, error, code):
    with pytest.raises(error) as refused:
        create(officer, brand, **fields)
    assert refused.value.code == code
    assert not Rule.objects.exists() and not RuleVersion.objects.exists()


def test_names_are_unique_per_brand(officer, brand):
    create(officer, brand)
    with pytest.raises(RulesError) as refused:
        create(officer, brand)
    assert refused.value.code == "name_taken"
    assert Rule.objects.count() == 1


def test_an_edit_is_a_new_version_and_the_old_one_stays(officer, brand):
    rule = create(officer, brand)

    services.rule_version_add(
        actor=officer,
        rule=rule,
        triggers=["wallet.bet_placed"],
        condition="event.amount > 99",
        actions=FLAG,
        cooldown_seconds=120,
        note="bets now",
    )

    rule.refresh_from_db()
    assert list(rule.versions.order_by("number").values_list("number", "condition")) == [
        (1, "event.amount > 10"),
        (2, "event.amount > 99"),
    ]
    assert rule.current_version.number == 2


def test_an_invalid_edit_changes_nothing(officer, brand):
    rule = create(officer, brand)
    with pytest.raises(ConditionInvalid):
        services.rule_version_add(
            actor=officer,
            rule=rule,
            triggers=["wallet.bet_placed"],
            condition="x",
            actions=FLAG,
            cooldown_seconds=120,
        )
    rule.refresh_from_db()
    assert (rule.versions.count(), rule.current_version.number) == (1, 1)


@pytest.fixture
def people(make_staff, brand, other_brand):
    return {
        "officer": make_staff("Compliance officer", brands=[brand]),
        "auditor": make_staff("Auditor", brands=[brand]),
        "support": make_staff("Support agent", brands=[brand]),
        "foreign officer": make_staff("Compliance officer", brands=[other_brand]),
    }


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("officer", True), ("auditor", False), ("support", False), ("foreign officer", False)],
)
def test_who_may_write_enable_and_edit_rules(people, brand, officer, who, allowed):
    user = people[who]
    rule = create(officer, brand, name="existing")
    attempts = [
        lambda: create(user, brand, name="new"),
        lambda: services.rule_enabled_set(actor=user, rule=rule, enabled=True),
        lambda: services.rule_version_add(
            actor=user,
            rule=rule,
            triggers=["wallet.bet_placed"],
            condition="true",
            actions=FLAG,
            cooldown_seconds=60,
        ),
        lambda: services.rule_settings_change(
            actor=user, rule=rule, name="renamed", description="", priority=1, stop_processing=True
        ),
    ]
    for attempt in attempts:
        if allowed:
            attempt()
        else:
            with pytest.raises(RulesPermissionDenied):
                attempt()
    rule.refresh_from_db()
    if not allowed:  # nothing changed
        assert (Rule.objects.count(), rule.enabled, rule.versions.count(), rule.name) == (
            1,
            False,
            1,
            "existing",
        )
    else:
        assert (Rule.objects.count(), rule.enabled, rule.versions.count(), rule.name) == (
            2,
            True,
            2,
            "renamed",
        )


@pytest.fixture
def outcome(player, brand):
    marker = RiskMarker.objects.create(player=player, brand=brand, marker="m", level="high")
    task = ReviewTask.objects.create(player=player, brand=brand, queue="aml", title="look")
    return marker, task


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("officer", True), ("auditor", False), ("support", False), ("foreign officer", False)],
)
def test_who_may_clear_markers_and_work_tasks(people, outcome, who, allowed):
    user = people[who]
    marker, task = outcome
    attempts = [
        lambda: services.risk_marker_clear(actor=user, marker=marker, reason="false positive"),
        lambda: services.review_task_take(actor=user, task=task),
        lambda: services.review_task_close(actor=user, task=task, resolution="source of funds seen"),
    ]
    for attempt in attempts:
        if allowed:
            attempt()
        else:
            with pytest.raises(RulesPermissionDenied):
                attempt()
    marker.refresh_from_db()
    task.refresh_from_db()
    if allowed:
        assert (marker.cleared_by, task.status, task.assigned_to) == (f"staff:{user.pk}", "closed", user)
    else:
        assert (marker.cleared_at, task.status, task.assigned_to) == (None, "open", None)


def test_a_marker_is_cleared_once_with_a_reason(officer, outcome):
    marker, _ = outcome
    with pytest.raises(RulesError, match="reason"):
        services.risk_marker_clear(actor=officer, marker=marker, reason=" ")
    services.risk_marker_clear(actor=officer, marker=marker, reason="checked")
    with pytest.raises(RulesError) as again:
        services.risk_marker_clear(actor=officer, marker=marker, reason="again")
    assert again.value.code == "already_cleared"


def test_a_task_has_one_holder_and_closes_with_a_resolution(officer, make_staff, brand, outcome):
    _, task = outcome
    colleague = make_staff("Compliance officer", brands=[brand])
    services.review_task_take(actor=officer, task=task)
    with pytest.raises(RulesError) as taken:
        services.review_task_take(actor=colleague, task=task)
    assert taken.value.code == "task_unavailable"
    with pytest.raises(RulesError, match="found and done"):
        services.review_task_close(actor=officer, task=task, resolution="")
    services.review_task_close(actor=officer, task=task, resolution="ok")
    task.refresh_from_db()
    assert (task.status, task.resolution, task.assigned_to) == ("closed", "ok", officer)
    assert task.closed_at >= task.created_at
