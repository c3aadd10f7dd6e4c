"""Limit changes: decreases at once, increases after the pack's cooling-off (applied by the task)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.core.models import Event
from apps.responsible_gaming import services
from apps.responsible_gaming.exceptions import LimitReached, LimitRefused
from apps.responsible_gaming.models import Limit, LimitChange
from apps.responsible_gaming.tasks import limits_apply_due_task
from tests.responsible_gaming.conftest import deposit

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _limit(player, kind="deposit", period="day"):
    return (
        Limit.objects.filter(player=player, kind=kind, period=period).values_list("amount", flat=True).first()
    )


def test_a_decrease_applies_at_once(gb_player):
    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=10_000)

    change = services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=5_000)

    assert (change.status, _limit(gb_player)) == ("applied", 5_000)
    event = Event.objects.filter(type="responsible_gaming.limit_changed").latest("id")
    assert (event.payload["old_amount"], event.payload["new_amount"], event.payload["status"]) == (
        10_000,
        5_000,
        "applied",
    )


def test_gb_increase_waits_24_hours_and_is_applied_by_the_task(gb_player):
    start = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=5_000)
        change = services.limit_set(
            actor=gb_player, player=gb_player, kind="deposit", period="day", amount=9_000
        )
    assert (change.status, change.effective_at) == ("pending", start + timedelta(hours=24))
    assert change.rule == "pack gb.yaml: limits.increase_cooling_off_hours"

    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        assert limits_apply_due_task() == 0
        assert _limit(gb_player) == 5_000
    with time_machine.travel(start + timedelta(hours=24), tick=False):
        assert limits_apply_due_task() == 1
        assert limits_apply_due_task() == 0  # applied once
    assert _limit(gb_player) == 9_000
    assert LimitChange.objects.get(pk=change.pk).status == "applied"


def test_se_increase_takes_72_hours_and_not_before_the_period_ends(se_player):
    # Thursday 2026-05-28 10:00 in Stockholm; the month ends Monday 2026-06-01 00:00 local.
    start = datetime(2026, 5, 28, 10, 0, tzinfo=STOCKHOLM)
    month_end = datetime(2026, 6, 1, 0, 0, tzinfo=STOCKHOLM)
    with time_machine.travel(start, tick=False):
        services.limit_set(actor=se_player, player=se_player, kind="deposit", period="month", amount=100_000)
        monthly = services.limit_set(
            actor=se_player, player=se_player, kind="deposit", period="month", amount=200_000
        )
        services.limit_set(actor=se_player, player=se_player, kind="deposit", period="day", amount=10_000)
        daily = services.limit_set(
            actor=se_player, player=se_player, kind="deposit", period="day", amount=20_000
        )

    # The month's increase waits for the month's end (later than 72 hours) ...
    assert monthly.effective_at == month_end
    assert monthly.rule == "pack se.yaml: limits.increase_not_before_period_end"
    # ... the day's for 72 hours (later than the day's end).
    assert daily.effective_at == start + timedelta(hours=72)
    assert daily.rule == "pack se.yaml: limits.increase_cooling_off_hours"

    with time_machine.travel(start + timedelta(hours=72) - timedelta(seconds=1), tick=False):
        limits_apply_due_task()
        assert (_limit(se_player, period="day"), _limit(se_player, period="month")) == (10_000, 100_000)
    with time_machine.travel(start + timedelta(hours=72), tick=False):
        limits_apply_due_task()
        assert (_limit(se_player, period="day"), _limit(se_player, period="month")) == (20_000, 100_000)
    with time_machine.travel(month_end - timedelta(seconds=1), tick=False):
        limits_apply_due_task()
        assert _limit(se_player, period="month") == 100_000
    with time_machine.travel(month_end, tick=False):
        limits_apply_due_task()
        assert _limit(se_player, period="month") == 200_000


def test_de_increase_waits_7_days(de_player):
    services.default_limits_apply(player=de_player)

    change = services.limit_set(
        actor=de_player, player=de_player, kind="deposit", period="month", amount=150_000
    )

    assert change.effective_at - change.created_at == timedelta(days=7)


def test_a_pending_increase_can_be_cancelled_and_then_never_applies(gb_player):
    services.limit_set(actor=gb_player, player=gb_player, kind="loss", period="week", amount=5_000)
    change = services.limit_set(actor=gb_player, player=gb_player, kind="loss", period="week", amount=50_000)

    services.limit_change_cancel(actor=gb_player, change=change)

    with time_machine.travel(change.effective_at + timedelta(seconds=1)):
        assert limits_apply_due_task() == 0
    assert _limit(gb_player, "loss", "week") == 5_000


def test_a_decrease_replaces_a_pending_increase(gb_player):
    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=5_000)
    increase = services.limit_set(
        actor=gb_player, player=gb_player, kind="deposit", period="day", amount=9_000
    )

    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=4_000)

    assert LimitChange.objects.get(pk=increase.pk).status == "cancelled"
    assert _limit(gb_player) == 4_000


def test_removing_a_limit_waits_like_an_increase_and_stops_the_guard(gb_player):
    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=1_000)
    removal = services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=None)
    deposit(gb_player, 1_000)
    with pytest.raises(LimitReached):
        deposit(gb_player, 1)

    with time_machine.travel(removal.effective_at + timedelta(seconds=1)):
        limits_apply_due_task()
        deposit(gb_player, 50_000)

    assert _limit(gb_player) is None


def test_a_limit_the_pack_requires_cannot_be_removed(se_player):
    services.limit_set(actor=se_player, player=se_player, kind="deposit", period="week", amount=1_000)

    with pytest.raises(LimitRefused) as refused:
        services.limit_set(actor=se_player, player=se_player, kind="deposit", period="week", amount=None)

    assert refused.value.code == "limit_required"


@pytest.mark.parametrize(
    "kind, period, amount, code",
    [
        ("bets", "day", 1, "invalid_kind"),
        ("deposit", "year", 1, "invalid_period"),
        ("session", "day", 60, "invalid_period"),
        ("deposit", "day", -1, "invalid_amount"),
        ("deposit", "day", True, "invalid_amount"),
        ("deposit", "day", 10**16, "invalid_amount"),
    ],
)
def test_bad_limits_are_refused(gb_player, kind, period, amount, code):
    with pytest.raises(LimitRefused) as refused:
        services.limit_set(actor=gb_player, player=gb_player, kind=kind, period=period, amount=amount)

    assert refused.value.code == code
    assert not Limit.objects.filter(player=gb_player).exists()


def test_staff_need_the_permission_on_the_brand_and_a_reason(gb_player, make_staff, other_brand):
    from apps.tenants.exceptions import AccessDenied

    officer = make_staff("Compliance officer", brands=[gb_player.brand])
    agent = make_staff("Support agent", brands=[gb_player.brand])
    elsewhere = make_staff("Compliance officer", brands=[other_brand])

    for actor in (agent, elsewhere):
        with pytest.raises(AccessDenied):
            services.limit_set(
                actor=actor, player=gb_player, kind="deposit", period="day", amount=1, reason="x"
            )
    with pytest.raises(LimitRefused) as refused:
        services.limit_set(
            actor=officer, player=gb_player, kind="deposit", period="day", amount=1, reason=" "
        )
    assert refused.value.code == "reason_required"
    assert not Limit.objects.filter(player=gb_player).exists()

    services.limit_set(
        actor=officer, player=gb_player, kind="deposit", period="day", amount=1, reason="call 42"
    )

    limit = Limit.objects.get(player=gb_player)
    assert (limit.set_by, limit.reason) == (f"staff:{officer.pk}", "call 42")


def test_time_out_and_self_exclusion_durations_follow_the_pack(gb_player, se_player):
    from apps.responsible_gaming.exceptions import ExclusionRefused

    for hours in (23, 1009):
        with pytest.raises(ExclusionRefused):
            services.timeout_start(actor=gb_player, player=gb_player, hours=hours)
    with pytest.raises(ExclusionRefused):
        services.self_exclusion_start(actor=gb_player, player=gb_player, months=5)

    services.timeout_start(actor=gb_player, player=gb_player, hours=6 * 7 * 24)
    services.self_exclusion_start(actor=se_player, player=se_player, months=None)

    assert Event.objects.filter(type="responsible_gaming.exclusion_started").count() == 2
