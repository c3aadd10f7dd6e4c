"""Backtests: the hits a dry run reports are the hits live evaluation made on the same
events; a dry run changes nothing; a run is requested, permitted and recorded."""

import random
from datetime import timedelta

import pytest

from apps.rules import services
from apps.rules.backtest import backtest_evaluate
from apps.rules.exceptions import RulesError, RulesPermissionDenied
from apps.rules.models import BacktestRun, RiskMarker, RuleHit
from tests.factories import PlayerFactory
from tests.rules.conftest import T0

pytestmark = pytest.mark.django_db

RULES = [
    # (condition, triggers, cooldown seconds)
    ("sum(deposit, 24h) > 150", ["payments.deposit_completed"], 3600),
    ("count(deposit_failed, 12h) >= 2 and event.amount >= 20", ["payments.payment_failed"], 60),
    ("event.amount > 3 * median(bet, 7d)", ["wallet.bet_placed"], 60),
    ("net_loss(2d) > 150 or night_count(deposit, 3d) >= 2", ["players.login_succeeded"], 7200),
    ("avg(bet, 6h) > 40 and max(win, 6h) < 100", ["wallet.win_settled", "wallet.bet_placed"], 600),
    ("event.amount >= 100", ["payments.deposit_completed", "wallet.bet_placed"], 86400),
]
KINDS = [
    "deposit",
    "deposit",
    "deposit_failed",
    "bet",
    "bet",
    "bet",
    "win",
    "rollback",
    "login",
    "withdrawal",
]


def live_hits(rule):
    return sorted(RuleHit.objects.filter(rule=rule).values_list("player_id", "event_id", "fired_at"))


def test_a_backtest_finds_exactly_the_hits_live_evaluation_made(brand, emit, make_rule):
    players = [PlayerFactory(brand=brand) for _ in range(3)]
    rules = [
        make_rule(c, triggers=t, cooldown_seconds=cd, name=f"r{n}") for n, (c, t, cd) in enumerate(RULES)
    ]
    draw = random.Random(20261201)
    moment = T0
    for _ in range(150):
        # Steps of 0 to 3 hours, some events sharing a timestamp, some at night.
        moment += timedelta(minutes=draw.choice([0, 0, 7, 30, 45, 90, 180]))
        emit(
            draw.choice(KINDS),
            draw.choice(players),
            draw.choice([500, 1_500, 2_000, 4_000, 9_000, 15_000]),
            at=moment,
        )
    live = {rule.pk: live_hits(rule) for rule in rules}
    # The stream exercises every rule: each has hits (and misses) to compare.
    assert all(live.values()), {pk: len(h) for pk, h in live.items()}
    assert sum(map(len, live.values())) > 20

    for rule in rules:
        version = rule.current_version
        result = backtest_evaluate(
            brand_id=brand.pk,
            condition=version.condition,
            triggers=version.triggers,
            cooldown=timedelta(seconds=version.cooldown_seconds),
            start=T0 - timedelta(seconds=1),
            end=moment,
        )
        assert sorted(result.hits) == live[rule.pk], version.condition


def test_a_backtest_only_counts_hits_inside_its_period_but_reads_history_before_it(
    brand, player, emit, make_rule
):
    make_rule("sum(deposit, 24h) > 100", enabled=False)
    emit("deposit", player, 8_000, at=T0)  # before the period: read for the window only
    inside = emit("deposit", player, 5_000, at=T0 + timedelta(hours=2))

    result = backtest_evaluate(
        brand_id=brand.pk,
        condition="sum(deposit, 24h) > 100",
        triggers=["payments.deposit_completed"],
        cooldown=timedelta(hours=1),
        start=T0 + timedelta(hours=1),
        end=T0 + timedelta(hours=3),
    )

    assert result.hits == [(player.pk, inside.pk, inside.occurred_at)]
    assert (result.events_triggering, result.events_scanned) == (1, 2)


def test_a_backtest_of_a_disabled_rule_changes_nothing(
    brand, player, emit, make_rule, officer, django_capture_on_commit_callbacks
):
    rule = make_rule("event.amount > 0", enabled=False)
    emit("deposit", player, 1_000, at=T0)

    with django_capture_on_commit_callbacks(execute=True):  # eager Celery runs the task at commit
        run = services.backtest_request(actor=officer, rule=rule, days=10)

    run.refresh_from_db()
    assert run.status == "done"
    assert not RuleHit.objects.exists() and not RiskMarker.objects.exists()


def test_a_backtest_run_records_who_was_hit_and_how_often(
    brand, emit, make_rule, officer, django_capture_on_commit_callbacks, settings
):
    import time_machine

    heavy, light = PlayerFactory(brand=brand), PlayerFactory(brand=brand)
    rule = make_rule("event.amount >= 10", enabled=False, cooldown_seconds=60)
    for n in range(3):
        emit("deposit", heavy, 1_000, at=T0 + timedelta(hours=n))
    emit("deposit", light, 1_000, at=T0 + timedelta(days=1))
    emit("deposit", light, 500, at=T0 + timedelta(days=1, hours=1))  # 5.00: no hit

    with (
        time_machine.travel(T0 + timedelta(days=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = services.backtest_request(actor=officer, rule=rule, days=7)

    run.refresh_from_db()
    assert (run.status, run.hits, run.players_hit, run.events_triggering) == ("done", 4, 2, 5)
    assert run.results["top_players"] == [
        {"player_id": heavy.pk, "hits": 3},
        {"player_id": light.pk, "hits": 1},
    ]
    assert run.results["hits_per_day"] == {"2026-06-01": 3, "2026-06-02": 1}
    assert run.requested_by == f"staff:{officer.pk}"


@pytest.mark.parametrize("days", [0, -1, 91, "7", True])
def test_backtest_days_are_checked(make_rule, officer, days):
    rule = make_rule("event.amount > 0", enabled=False)
    with pytest.raises(RulesError) as refused:
        services.backtest_request(actor=officer, rule=rule, days=days)
    assert refused.value.code == "days_invalid"
    assert not BacktestRun.objects.exists()


def test_backtesting_needs_the_permission_on_the_rules_brand(make_rule, make_staff, brand, other_brand):
    rule = make_rule("event.amount > 0", enabled=False)
    support = make_staff("Support agent", brands=[brand])
    foreign_officer = make_staff("Compliance officer", brands=[other_brand])

    for user in (support, foreign_officer):
        with pytest.raises(RulesPermissionDenied):
            services.backtest_request(actor=user, rule=rule, days=7)
    assert not BacktestRun.objects.exists()
