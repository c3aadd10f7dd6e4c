"""Every action a rule can take, what it leaves behind, and what a refused one records."""

from datetime import timedelta

import pytest
from django.core import mail

from apps.core.models import Event
from apps.players.models import Player
from apps.responsible_gaming import services as rg
from apps.responsible_gaming.models import Exclusion, Limit
from apps.rules.actions import actions_validate
from apps.rules.exceptions import ActionsInvalid
from apps.rules.models import Message, ReviewTask, RiskMarker, RuleHit
from tests.rules.conftest import T0

pytestmark = pytest.mark.django_db


def fire(make_rule, emit, player, actions, amount=10_000):
    rule = make_rule("event.amount > 0", actions=actions, name="velocity")
    event = emit("deposit", player, amount)
    return rule, RuleHit.objects.get(rule=rule, event=event)


def test_flag_sets_a_risk_marker(make_rule, emit, player):
    _, hit = fire(make_rule, emit, player, [{"type": "flag", "marker": "deposit_velocity", "level": "high"}])

    marker = RiskMarker.objects.get(player=player)
    assert (marker.marker, marker.level, marker.hit_id, marker.cleared_at) == (
        "deposit_velocity",
        "high",
        hit.pk,
        None,
    )
    assert hit.outcomes == [{"type": "flag", "result": "done", "detail": "deposit_velocity (high)"}]


def test_review_task_opens_an_item_in_the_named_queue(make_rule, emit, player):
    _, hit = fire(make_rule, emit, player, [{"type": "review_task", "queue": "aml"}])

    task = ReviewTask.objects.get(player=player)
    assert (task.queue, task.status, task.title, task.hit_id) == (
        "aml",
        "open",
        f"velocity: review player {player.pk}",
        hit.pk,
    )


def test_limit_sets_a_deposit_limit_at_once_when_there_is_none(make_rule, emit, player):
    _, hit = fire(
        make_rule, emit, player, [{"type": "limit", "kind": "deposit", "period": "day", "amount": "250.00"}]
    )

    limit = Limit.objects.get(player=player, kind="deposit", period="day")
    assert (limit.amount, limit.set_by) == (25_000, "system:rules")
    assert hit.outcomes[0]["detail"] == "deposit limit per day set to 250.00"


def test_limit_lowers_a_higher_limit_and_never_raises_a_lower_one(make_rule, emit, player):
    rg.limit_set(actor=player, player=player, kind="deposit", period="day", amount=10_000)  # 100.00
    rg.limit_set(actor=player, player=player, kind="deposit", period="week", amount=90_000)  # 900.00

    _, hit = fire(
        make_rule,
        emit,
        player,
        [
            {"type": "limit", "kind": "deposit", "period": "day", "amount": "250.00"},
            {"type": "limit", "kind": "deposit", "period": "week", "amount": "500"},
        ],
    )

    limits = dict(Limit.objects.filter(player=player).values_list("period", "amount"))
    assert limits == {"day": 10_000, "week": 50_000}
    assert [o["detail"] for o in hit.outcomes] == [
        "deposit limit per day kept (already at or below)",
        "deposit limit per week set to 500",
    ]
    assert not player.rg_limit_changes.filter(status="pending").exists()  # nothing scheduled upwards


def test_timeout_starts_a_time_out(make_rule, emit, player):
    fire(make_rule, emit, player, [{"type": "timeout", "hours": 48}])

    exclusion = Exclusion.objects.get(player=player)
    assert exclusion.kind == "timeout"
    assert exclusion.ends_at - exclusion.starts_at == timedelta(hours=48)
    assert exclusion.requested_by == "system:rules"


def test_suspend_suspends_the_account(make_rule, emit, player):
    fire(make_rule, emit, player, [{"type": "suspend"}])

    player.refresh_from_db()
    assert (player.status, player.status_reason) == ("suspended", "BeAware rule 'velocity'")


def test_message_is_recorded_sent_by_email_and_announced(make_rule, emit, player):
    fire(
        make_rule,
        emit,
        player,
        [
            {
                "type": "message",
                "channel": "email",
                "subject": "A word about your play",
                "body": "Take a break?",
            }
        ],
    )

    message = Message.objects.get(player=player)
    assert (message.status, message.channel) == ("sent", "email")
    assert [(m.subject, m.to) for m in mail.outbox] == [("A word about your play", [player.email])]
    announced = Event.objects.get(type="rules.player_messaged")
    assert announced.payload["message_id"] == message.pk and announced.player_id == player.pk


def test_alert_is_published_for_the_live_dashboards(make_rule, emit, player):
    _, hit = fire(
        make_rule, emit, player, [{"type": "alert", "severity": "critical", "text": "Deposit spike"}]
    )

    alert = Event.objects.get(type="rules.alert_raised")
    assert (alert.brand_id, alert.player_id) == (player.brand_id, player.pk)
    assert (alert.payload["severity"], alert.payload["text"], alert.payload["hit_id"]) == (
        "critical",
        "Deposit spike",
        hit.pk,
    )


def test_a_refused_action_is_recorded_and_the_others_still_happen(make_rule, emit, player):
    # GB time-outs last 24 to 1008 hours: 2000 is refused by responsible gaming.
    _, hit = fire(
        make_rule,
        emit,
        player,
        [
            {"type": "timeout", "hours": 2000},
            {"type": "flag", "marker": "needs_look", "level": "medium"},
        ],
    )

    assert [(o["type"], o["result"]) for o in hit.outcomes] == [("timeout", "refused"), ("flag", "done")]
    assert hit.outcomes[0]["detail"].startswith("invalid_duration:")
    assert not Exclusion.objects.filter(player=player).exists()
    assert RiskMarker.objects.filter(player=player, marker="needs_look").exists()


def test_suspending_a_closed_account_is_refused_not_an_error(make_rule, emit, player):
    Player.objects.filter(pk=player.pk).update(status="closed")

    _, hit = fire(make_rule, emit, player, [{"type": "suspend"}])

    assert hit.outcomes[0]["result"] == "refused"


def test_a_hit_is_announced_with_what_it_did(make_rule, emit, player):
    rule, hit = fire(make_rule, emit, player, [{"type": "flag", "marker": "m", "level": "low"}])

    fired = Event.objects.get(type="rules.rule_fired")
    assert fired.actor == "system:rules"
    assert fired.payload == {
        "hit_id": hit.pk,
        "rule_id": rule.pk,
        "rule_name": "velocity",
        "version": 1,
        "player_id": player.pk,
        "brand_id": player.brand_id,
        "trigger_event_id": hit.event_id,
        "trigger_type": "payments.deposit_completed",
        "outcomes": [{"type": "flag", "result": "done", "detail": "m (low)"}],
    }
    assert hit.fired_at == T0


@pytest.mark.parametrize(
    ("actions", "fragment"),
    [
        ([], "non-empty list"),
        ("flag", "non-empty list"),
        ([{"type": "delete_player"}], "type must be one of"),
        ([{"type": "flag", "marker": "Bad Marker!", "level": "high"}], "Action 1 (flag) marker"),
        ([{"type": "flag", "marker": "ok", "level": "extreme"}], "Action 1 (flag) level"),
        ([{"type": "limit", "kind": "deposit", "period": "day", "amount": "1e9"}], "Action 1 (limit) amount"),
        ([{"type": "limit", "kind": "session", "period": "day", "amount": "10"}], "Action 1 (limit) kind"),
        ([{"type": "timeout", "hours": 0}], "Action 1 (timeout) hours"),
        ([{"type": "timeout", "hours": "24"}], "Action 1 (timeout) hours"),
        ([{"type": "suspend", "extra": 1}], "Action 1 (suspend): Additional properties"),
        ([{"type": "message", "channel": "sms", "subject": "s", "body": "b"}], "Action 1 (message) channel"),
        ([{"type": "flag", "marker": "m", "level": "low"}] * 11, "at most 10 actions"),
    ],
)
def test_invalid_actions_are_refused_with_where_and_why(actions, fragment):
    with pytest.raises(ActionsInvalid) as refused:
        actions_validate(actions)
    assert fragment in refused.value.message
