"""The engine under concurrency: real threads, real PostgreSQL transactions.

Several deliveries of one player's events at once must fire a rule once per cooldown
(the cooldown row is the arbiter), and a delivery racing its own redelivery once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.core.models import Event
from apps.core.outbox import event_dispatch
from apps.rules import services
from apps.rules.engine import rule_cache, rules_evaluate
from apps.rules.models import Fact, RiskMarker, RuleCooldown, RuleHit
from tests.factories import BrandFactory, OperatorFactory, PlayerFactory, StaffUserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 8


@pytest.fixture
def setup(db, roles):
    brand = BrandFactory(operator=OperatorFactory(code="rules-race"), code="rules-race-gb", jurisdiction="GB")
    officer = StaffUserFactory(role="Compliance officer", brands=[brand])
    rule = services.rule_create(
        actor=officer,
        brand=brand,
        name="any deposit",
        triggers=["payments.deposit_completed"],
        condition="event.amount > 0 and count(deposit, 24h) >= 1",
        actions=[{"type": "flag", "marker": "race", "level": "low"}],
        cooldown_seconds=86400,
    )
    services.rule_enabled_set(actor=officer, rule=rule, enabled=True)
    rule_cache.clear()
    return brand, PlayerFactory(brand=brand), rule


def _deposit_event(player, n: int, at) -> Event:
    """The outbox row a completed deposit writes (delivered by the test, not after commit)."""
    return Event.objects.create(
        type="payments.deposit_completed",
        brand_id=player.brand_id,
        player_id=player.pk,
        occurred_at=at,
        actor="system:test",
        payload={
            "kind": "deposit",
            "amount": 1_000 + n,
            "currency": "GBP",
            "method": "card",
            "player_id": player.pk,
        },
    )


def _all_at_once(work, items) -> list:
    barrier = threading.Barrier(len(items))
    errors: list = []

    def run(item) -> None:
        try:
            barrier.wait(timeout=10)
            work(item)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.parametrize("fired_before", [False, True], ids=["first-firing", "cooldown-expired"])
def test_simultaneous_events_of_one_player_fire_the_rule_once(setup, fired_before):
    _brand, player, rule = setup
    now = timezone.now()
    if fired_before:  # every thread then races to move the same cooldown row forward
        RuleCooldown.objects.create(rule=rule, player_id=player.pk, last_fired_at=now - timedelta(days=2))
    events = [_deposit_event(player, n, now + timedelta(milliseconds=n)) for n in range(THREADS)]

    def deliver(event):
        with transaction.atomic():
            rules_evaluate(event)

    assert _all_at_once(deliver, events) == []
    assert RuleHit.objects.filter(rule=rule).count() == 1
    assert RiskMarker.objects.filter(player=player).count() == 1
    assert Fact.objects.filter(player_id=player.pk).count() == THREADS


def test_one_event_delivered_by_racing_dispatchers_fires_once(setup):
    _brand, player, rule = setup
    event = _deposit_event(player, 0, timezone.now())

    assert _all_at_once(lambda _n: event_dispatch(event_id=event.pk), list(range(4))) == []
    assert list(RuleHit.objects.filter(rule=rule).values_list("event_id", flat=True)) == [event.pk]
    assert Fact.objects.filter(event_id=event.pk).count() == 1


def test_concurrent_edits_make_consecutive_versions(setup):
    brand, _player, rule = setup
    officer = StaffUserFactory(role="Compliance officer", brands=[brand])

    def edit(n):
        services.rule_version_add(
            actor=officer,
            rule=rule,
            triggers=["payments.deposit_completed"],
            condition=f"event.amount > {n}",
            actions=[{"type": "flag", "marker": "race", "level": "low"}],
            cooldown_seconds=3600,
        )

    assert _all_at_once(edit, list(range(4))) == []
    rule.refresh_from_db()
    assert sorted(rule.versions.values_list("number", flat=True)) == [1, 2, 3, 4, 5]
    assert rule.current_version.number == 5
