"""The live SQL aggregates and the backtest's in-memory ones agree exactly, on any history
(property-based, on PostgreSQL), including facts at a window's edges and at one instant."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.rules.aggregates import (
    FactHistory,
    _aggregates_in_memory,
    _statement,
    aggregates_fetch,
    aggregates_fetch_many,
)
from apps.rules.catalogue import AGGREGATE_FUNCTIONS, FACT_KINDS
from apps.rules.catalogue import Fact as FactValue
from apps.rules.dsl import AggregateRef
from apps.rules.models import Fact
from tests.factories import PlayerFactory
from tests.rules.conftest import T0

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WINDOWS = [60, 3600, 86400]
REFS = [
    AggregateRef(function, kind if takes_kind else "", window)
    for function, takes_kind in AGGREGATE_FUNCTIONS.items()
    for kind in (FACT_KINDS[:5] if takes_kind else [""])
    for window in WINDOWS
]

facts = st.lists(
    st.tuples(
        st.sampled_from(FACT_KINDS[:5] + ("rollback", "win_rollback")),
        st.decimals(min_value=0, max_value=10_000, places=2),
        # Offsets in seconds before the evaluation instant, edges (60, 3600, 86400) included.
        st.sampled_from([0, 1, 59, 60, 61, 600, 3599, 3600, 3601, 40_000, 86_399, 86_400, 86_401]),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=facts)
def test_sql_and_memory_aggregates_agree(player, history):
    Fact.objects.filter(player_id=player.pk).delete()
    rows = [
        Fact(
            event_id=n + 1,
            player_id=player.pk,
            brand_id=player.brand_id,
            kind=kind,
            amount=amount,
            occurred_at=T0 - timedelta(seconds=offset),
            night=night,
        )
        for n, (kind, amount, offset, night) in enumerate(history)
    ]
    Fact.objects.bulk_create(rows)
    last_event = len(rows) + 1

    sql = aggregates_fetch(player_id=player.pk, at=T0, event_id=last_event, refs=REFS)
    memory = _aggregates_in_memory(player.pk, T0, last_event, REFS)

    assert sql == memory
    # And by hand, for the sum and count of one kind and window.
    deposits = [a for k, a, o, _ in history if k == "deposit" and o < 3600]
    assert sql[AggregateRef("sum", "deposit", 3600)] == sum(deposits, Decimal(0))
    assert sql[AggregateRef("count", "deposit", 3600)] == len(deposits)


def test_history_stops_at_the_event_among_facts_of_the_same_instant(player):
    Fact.objects.bulk_create(
        [
            Fact(event_id=10, player_id=player.pk, kind="deposit", amount=5, occurred_at=T0, night=False),
            Fact(event_id=11, player_id=player.pk, kind="deposit", amount=7, occurred_at=T0, night=False),
        ]
    )
    ref = AggregateRef("sum", "deposit", 60)

    assert aggregates_fetch(player_id=player.pk, at=T0, event_id=10, refs=[ref]) == {ref: 5}
    assert aggregates_fetch(player_id=player.pk, at=T0, event_id=11, refs=[ref]) == {ref: 12}


def test_an_empty_window_gives_zero_sums_and_null_averages():
    history = FactHistory()
    history.add(FactValue(kind="bet", amount=Decimal(5), occurred_at=T0 - timedelta(days=2), night=False))

    values = {
        f: history.aggregate(AggregateRef(f, "bet", 86400), T0) for f in ("sum", "count", "avg", "median")
    }

    assert values == {"sum": 0, "count": 0, "avg": None, "median": None}


@pytest.fixture
def other_player(brand):
    return PlayerFactory(brand=brand, username="bob")


# One statement answers a whole batch: requests of two players, at several instants (the
# same instant under different event ids too), with two different sets of aggregates.
requests = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),  # which player
        st.sampled_from([0, 1, 59, 60, 3600, 86_400]),  # seconds before T0
        st.integers(min_value=0, max_value=30),  # the event id the window stops at
        st.booleans(),  # which set of aggregates
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=facts, asked=requests)
def test_one_batch_statement_answers_every_request_as_alone(brand, player, other_player, history, asked):
    players = [player.pk, other_player.pk]
    Fact.objects.filter(player_id__in=players).delete()
    Fact.objects.bulk_create(
        Fact(
            event_id=n + 1,
            player_id=players[n % 2],
            brand_id=brand.pk,
            kind=kind,
            amount=amount,
            occurred_at=T0 - timedelta(seconds=offset),
            night=night,
        )
        for n, (kind, amount, offset, night) in enumerate(history)
    )
    few = [ref for ref in REFS if ref.window_seconds == 3600 or ref.function == "median"]
    batch = [
        (players[who], T0 - timedelta(seconds=before), event_id, REFS if many else few)
        for who, before, event_id, many in asked
    ]

    answers = aggregates_fetch_many(batch)

    assert answers == [
        _aggregates_in_memory(player_id, at, event_id, list(refs)) for player_id, at, event_id, refs in batch
    ]


def test_a_kind_outside_the_catalogue_never_reaches_the_sql():
    with pytest.raises(ValueError, match="unknown fact kind"):
        _statement((AggregateRef("sum", "bet'; DROP TABLE rules_fact; --", 60),))
