"""The engine in batches (what the outbox hands it from a relay's message) decides exactly
what it decides one event at a time: the same hits, on the same events, with the same
aggregate values, whatever the batch boundaries."""

import random
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.correlation import correlation_id_of
from apps.core.events import publish
from apps.core.models import Event
from apps.core.outbox import events_dispatch
from apps.rules.engine import rules_evaluate_batch
from apps.rules.models import Fact, RuleHit
from tests.factories import PlayerFactory
from tests.rules.conftest import BUILDERS, T0
from tests.rules.test_backtest import KINDS, RULES

pytestmark = pytest.mark.django_db


def stream(seed: int, length: int) -> list[tuple]:
    """(kind, player index, amount, time): steps of 0 to 3 hours, some sharing a time."""
    draw = random.Random(seed)
    moment, steps = T0, []
    for _ in range(length):
        moment += timedelta(minutes=draw.choice([0, 0, 7, 30, 45, 90, 180]))
        steps.append(
            (draw.choice(KINDS), draw.randrange(3), draw.choice([500, 1_500, 2_000, 4_000, 9_000]), moment)
        )
    return steps


def hits_of(players, events) -> list[tuple]:
    """Hits as (rule, player index, step index, values): comparable across player sets."""
    player_index = {p.pk: n for n, p in enumerate(players)}
    step_index = {e.pk: n for n, e in enumerate(events)}
    return sorted(
        (hit.rule_id, player_index[hit.player_id], step_index[hit.event_id], sorted(hit.values.items()))
        for hit in RuleHit.objects.filter(player_id__in=player_index)
    )


def written(steps, players) -> list[Event]:
    events = []
    for kind, who, amount, at in steps:
        with time_machine.travel(at, tick=False), transaction.atomic():
            row = publish(BUILDERS[kind](players[who], amount), actor=system_actor("test"))
        events.append(row)
    return events


@pytest.mark.parametrize("seed", [7, 20261201])
def test_batches_fire_what_single_events_fire(
    brand, emit, make_rule, django_capture_on_commit_callbacks, seed
):
    for n, (condition, triggers, cooldown) in enumerate(RULES):
        make_rule(condition, triggers=triggers, cooldown_seconds=cooldown, name=f"r{n}")
    steps = stream(seed, 120)
    one_by_one = [PlayerFactory(brand=brand) for _ in range(3)]
    batched = [PlayerFactory(brand=brand) for _ in range(3)]

    singles = [emit(kind, one_by_one[who], amount, at=at) for kind, who, amount, at in steps]
    events = written(steps, batched)
    draw = random.Random(seed)
    start = 0
    while start < len(events):
        size = draw.choice([1, 2, 5, 17, 40])
        with django_capture_on_commit_callbacks(execute=True):
            events_dispatch(event_ids=[e.pk for e in events[start : start + size]])
        start += size

    expected = hits_of(one_by_one, singles)
    assert len(expected) >= 10 and len({rule for rule, *_ in expected}) >= 4  # the rules are exercised
    assert hits_of(batched, events) == expected
    assert (
        Fact.objects.filter(player_id__in=[p.pk for p in batched]).count()
        == Fact.objects.filter(player_id__in=[p.pk for p in one_by_one]).count()
    )


def test_a_redelivered_batch_records_no_second_fact_and_no_second_hit(brand, player, make_rule):
    make_rule("count(deposit, 1h) >= 2", cooldown_seconds=60)
    events = written([("deposit", 0, 1_000, T0), ("deposit", 0, 1_000, T0 + timedelta(minutes=1))], [player])

    first = rules_evaluate_batch(events)
    again = rules_evaluate_batch(events)

    assert len(first) == 1 and again == []
    assert Fact.objects.filter(player_id=player.pk).count() == 2
    assert RuleHit.objects.filter(player_id=player.pk).count() == 1


def test_what_a_batch_fires_carries_the_correlation_id_of_the_event_that_fired_it(brand, make_rule):
    make_rule("event.amount >= 10", cooldown_seconds=60)
    alice, bob = PlayerFactory(brand=brand), PlayerFactory(brand=brand)
    with correlation_id_of("corr-alice"):
        (for_alice,) = written([("deposit", 0, 1_000, T0)], [alice])
    with correlation_id_of("corr-bob"):
        (for_bob,) = written([("deposit", 0, 2_000, T0)], [bob])

    with transaction.atomic():
        rules_evaluate_batch([for_alice, for_bob])

    fired = Event.objects.filter(type="rules.rule_fired").order_by("pk")
    assert [(e.player_id, e.correlation_id) for e in fired] == [
        (alice.pk, "corr-alice"),
        (bob.pk, "corr-bob"),
    ]
