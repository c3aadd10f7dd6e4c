"""The live engine on PostgreSQL: facts, windowed aggregates at their edges (time travel),
cooldown, priority and stop, brand scope, versions, and redelivery."""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.core.models import Event
from apps.rules import services
from apps.rules.engine import rule_cache, rules_evaluate
from apps.rules.handlers import rules_on_event
from apps.rules.models import Fact, RiskMarker, RuleHit
from tests.factories import PlayerFactory
from tests.rules.conftest import T0

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def hits(rule):
    return list(RuleHit.objects.filter(rule=rule).order_by("id").values_list("event_id", flat=True))


def test_each_fact_kind_is_recorded_once_with_its_amount_in_major_units(player, emit):
    kinds = ["deposit", "deposit_failed", "withdrawal", "bet", "win", "rollback", "win_rollback", "login"]
    for n, kind in enumerate(kinds):
        emit(kind, player, 1_050, at=T0 + n * H)
    emit("withdrawal_failed", player, 999, at=T0)  # a failed withdrawal is not a failed deposit
    emit("noop_rollback", player, 999, at=T0)  # undid nothing: counts as nothing

    facts = list(
        Fact.objects.filter(player_id=player.pk).order_by("occurred_at").values_list("kind", "amount")
    )
    amounts = [Decimal("10.50")] * 7 + [Decimal(0)]
    assert facts == list(zip(kinds, amounts, strict=True))


def test_redelivery_records_no_second_fact_and_no_second_hit(player, emit, make_rule):
    rule = make_rule("event.amount > 10")
    event = emit("deposit", player, 5_000)

    rules_on_event([event])
    rules_on_event([event])

    assert Fact.objects.filter(event_id=event.pk).count() == 1
    assert hits(rule) == [event.pk]


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=24) - timedelta(microseconds=1), True),  # inside (t - 24h, t]
        (timedelta(hours=24), False),  # exactly 24 h before: outside
    ],
)
def test_a_window_includes_its_end_and_excludes_its_start(player, emit, make_rule, offset, expected):
    rule = make_rule("sum(deposit, 24h) >= 150", triggers=["players.login_succeeded"])
    emit("deposit", player, 10_000, at=T0)
    emit("deposit", player, 5_000, at=T0 + offset)  # the second deposit is at the window's end

    login = emit("login", player, at=T0 + offset)

    assert (hits(rule) == [login.pk]) is expected


def test_the_event_itself_is_in_its_window(player, emit, make_rule):
    rule = make_rule("count(deposit, 1h) >= 3")
    emit("deposit", player, 100, at=T0)
    emit("deposit", player, 100, at=T0 + timedelta(minutes=10))
    third = emit("deposit", player, 100, at=T0 + timedelta(minutes=20))

    assert hits(rule) == [third.pk]


def test_failed_deposits_in_an_hour(player, emit, make_rule):
    rule = make_rule("count(deposit_failed, 1h) >= 3", triggers=["payments.payment_failed"])
    minute = timedelta(minutes=1)
    emit("deposit_failed", player, 100, at=T0)
    emit("deposit_failed", player, 100, at=T0 + 30 * minute)
    emit("withdrawal_failed", player, 100, at=T0 + 40 * minute)  # not a deposit
    emit("deposit_failed", player, 100, at=T0 + 61 * minute)  # the one at 0 is out: 2 in the hour
    third = emit("deposit_failed", player, 100, at=T0 + 62 * minute)  # 30, 61, 62

    assert hits(rule) == [third.pk]


def test_net_loss_counts_bets_wins_and_both_kinds_of_rollback(player, emit, make_rule):
    rule = make_rule("net_loss(7d) == 55", triggers=["players.login_succeeded"])
    emit("bet", player, 10_000, at=T0)  # +100
    emit("win", player, 4_000, at=T0 + H)  # -40
    emit("rollback", player, 2_000, at=T0 + 2 * H)  # a 20 stake returned: -20
    emit("win_rollback", player, 1_500, at=T0 + 3 * H)  # a 15 win taken back: +15
    emit("noop_rollback", player, 9_999, at=T0 + 3 * H)  # nothing undone: 0

    login = emit("login", player, at=T0 + 4 * H)

    assert hits(rule) == [login.pk]


def test_median_of_bets_and_a_bet_far_above_it(player, emit, make_rule):
    rule = make_rule(
        "event.amount > 5 * median(bet, 30d)", triggers=["wallet.bet_placed"], cooldown_seconds=60
    )
    for n, amount in enumerate([200, 400, 600, 800]):  # median 5.00 (even count: mean of 4 and 6)
        emit("bet", player, amount, at=T0 + n * H)
    # with the new bet in its window the median is 6.00: 30.01 is more than five times it
    big = emit("bet", player, 3_001, at=T0 + 5 * H)
    emit("bet", player, 3_000, at=T0 + 6 * H)  # median now 6.00 again (odd): 30.00 is not

    assert hits(rule) == [big.pk]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("sum(deposit, 7d) == 60", True),
        ("count(deposit, 7d) == 3", True),
        ("avg(deposit, 7d) == 20", True),
        ("min(deposit, 7d) == 10", True),
        ("max(deposit, 7d) == 30", True),
        ("median(deposit, 7d) == 20", True),
        ("avg(withdrawal, 7d) == null", True),  # no facts: null, and so is min/max/median
        ("sum(withdrawal, 7d) == 0", True),
        ("count(login_refused, 7d) == 0", True),
    ],
)
def test_every_aggregate_function(player, emit, make_rule, condition, expected):
    rule = make_rule(condition, triggers=["players.login_succeeded"])
    for n, amount in enumerate([1_000, 2_000, 3_000]):
        emit("deposit", player, amount, at=T0 + n * H)

    login = emit("login", player, at=T0 + 5 * H)

    assert (hits(rule) == [login.pk]) is expected


def test_night_count_uses_the_brands_clock(player, emit, make_rule):
    # GB brand: London is UTC+1 in June. 23:30 UTC is 00:30 in London: night.
    rule = make_rule("night_count(deposit, 7d) >= 2", triggers=["players.login_succeeded"])
    night = T0.replace(hour=23, minute=30)
    emit("deposit", player, 100, at=night)
    emit("deposit", player, 100, at=night + timedelta(hours=4, minutes=29))  # 04:59 London: night
    emit("deposit", player, 100, at=night + timedelta(hours=5, minutes=30))  # 06:00 London: day
    first = emit("login", player, at=night + 6 * H)
    assert hits(rule) == [first.pk]


def test_event_fields_amount_hour_and_payload(player, emit, make_rule):
    rule = make_rule(
        "event.amount == 12.34 and event.method == 'card' and event.hour == 13 and event.weekday == 1"
    )

    deposit = emit("deposit", player, 1_234, at=T0)  # Monday 13:00 in London

    assert hits(rule) == [deposit.pk]


def test_cooldown_fires_once_per_player_per_window(player, emit, make_rule, brand):
    rule = make_rule("event.amount > 0", cooldown_seconds=86400)
    other = PlayerFactory(brand=brand)
    first = emit("deposit", player, 100, at=T0)
    emit("deposit", player, 100, at=T0 + 23 * H)
    others = emit("deposit", other, 100, at=T0 + 23 * H)  # another player: own cooldown
    again = emit("deposit", player, 100, at=T0 + 24 * H)

    assert hits(rule) == [first.pk, others.pk, again.pk]


def test_rules_run_in_priority_order_and_stop_processing_ends_the_event(player, emit, make_rule):
    late = make_rule("event.amount > 0", priority=50)
    stopper = make_rule("event.amount > 0", priority=10, stop_processing=True)
    earlier = make_rule("event.amount > 0", priority=5)

    deposit = emit("deposit", player, 100)

    assert list(RuleHit.objects.filter(event=deposit).order_by("id").values_list("rule_id", flat=True)) == [
        earlier.pk,
        stopper.pk,
    ]
    assert hits(late) == []


def test_disabled_rules_and_rules_of_other_brands_do_not_run(
    player, emit, make_rule, other_brand, make_staff
):
    disabled = make_rule("event.amount > 0", enabled=False)
    officer_b = make_staff("Compliance officer", brands=[other_brand])
    foreign = services.rule_create(
        actor=officer_b,
        brand=other_brand,
        name="other brand",
        triggers=["payments.deposit_completed"],
        condition="event.amount > 0",
        actions=[{"type": "flag", "marker": "x", "level": "low"}],
    )
    services.rule_enabled_set(actor=officer_b, rule=foreign, enabled=True)

    emit("deposit", player, 100)

    assert hits(disabled) == [] and hits(foreign) == []


def test_a_new_version_takes_over_and_hits_name_the_version_that_fired(
    player, emit, make_rule, officer, django_capture_on_commit_callbacks
):
    rule = make_rule("event.amount > 100", cooldown_seconds=60)
    emit("deposit", player, 15_000, at=T0)  # 150 > 100: v1 fires
    with django_capture_on_commit_callbacks(execute=True):  # the saving process drops its cache
        services.rule_version_add(
            actor=officer,
            rule=rule,
            triggers=["payments.deposit_completed"],
            condition="event.amount > 1000",
            actions=[{"type": "flag", "marker": "big", "level": "high"}],
            cooldown_seconds=60,
            note="too noisy",
        )
    emit("deposit", player, 50_000, at=T0 + H)  # 500: v1 would fire, v2 does not
    emit("deposit", player, 200_000, at=T0 + 2 * H)

    fired = RuleHit.objects.filter(rule=rule).order_by("id").values_list("version__number", flat=True)
    assert list(fired) == [1, 2]
    assert list(RiskMarker.objects.order_by("id").values_list("marker", flat=True)) == ["test_marker", "big"]


def test_a_hit_records_the_aggregates_it_read(player, emit, make_rule):
    rule = make_rule("sum(deposit, 24h) > 100 and count(deposit, 1h) >= 1")
    emit("deposit", player, 8_000, at=T0)
    deposit = emit("deposit", player, 4_000, at=T0 + H)

    hit = RuleHit.objects.get(rule=rule)
    assert hit.event_id == deposit.pk
    assert {k: Decimal(v) for k, v in hit.values.items()} == {
        "count(deposit, 1h)": Decimal(1),
        "sum(deposit, 1d)": Decimal(120),
    }


def test_events_of_no_player_are_ignored(make_rule, emit, player):
    make_rule("event.amount > 0")
    event = Event(type="payments.deposit_completed", brand_id=player.brand_id, player_id=None, payload={})

    assert rules_evaluate(event) == []


def test_a_rule_that_cannot_compile_any_more_is_skipped_and_others_run(player, emit, make_rule):
    broken = make_rule("event.amount > 0", name="broken")
    working = make_rule("event.amount > 0", name="working")
    # A catalogue change could leave a stored condition invalid: simulate it in the row.
    broken.current_version.__class__.objects.filter(pk=broken.current_version_id).update(
        condition="sum(gone, 1h) > 1"
    )
    rule_cache.clear()

    deposit = emit("deposit", player, 100)

    assert hits(broken) == [] and hits(working) == [deposit.pk]
