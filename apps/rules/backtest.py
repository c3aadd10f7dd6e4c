"""Dry run: what a rule would have done over the last N days, from the outbox.

The backtest walks the brand's events in time order, once, with one server-side cursor.
Facts come from the same `fact_from_event` the live engine stores, and aggregates read
them through `FactHistory` in memory, with the live engine's window (t - w, t] over the
history up to the event in (time, event id) order, and its cooldown: the hits it reports
are the hits live evaluation makes on the same events.

It writes nothing but its BacktestRun, and runs no action: a dry run is safe to repeat.
"""

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.core.models import Event
from apps.rules.aggregates import NET_LOSS_SIGNS, FactHistory
from apps.rules.catalogue import FACT_SOURCES, event_fields, fact_from_event
from apps.rules.dsl import EvalContext, compile_condition
from apps.rules.models import BacktestRun

FETCH_SIZE = 5000
TOP_PLAYERS = 100
SAMPLE_HITS = 50


@dataclass
class BacktestResult:
    events_scanned: int = 0
    events_triggering: int = 0
    hits: list[tuple[int, int, datetime]] = field(default_factory=list)  # (player, event id, at)

    @property
    def players(self) -> Counter:
        return Counter(player for player, _event, _at in self.hits)


def _rows(brand_id: int, types: list[str], triggers: list[str], since: datetime, until: datetime):
    """(id, type, player, occurred_at, payload) in time order, through one server-side
    cursor. A fact-only event's payload carries just what its fact reads, which keeps
    the transfer and the JSON parsing small."""
    if connection.vendor != "postgresql":
        yield from _rows_portable(brand_id, types, since, until)
        return
    sql = (
        "SELECT id, type, player_id, occurred_at,"
        " CASE WHEN type = ANY(%(triggers)s) THEN payload::text"
        " ELSE jsonb_build_object('amount', payload->'amount', 'currency', payload->'currency',"
        " 'kind', payload->'kind', 'reversed_kind', payload->'reversed_kind')::text END"
        " FROM core_event WHERE brand_id = %(brand)s AND player_id IS NOT NULL"
        " AND type = ANY(%(types)s) AND occurred_at > %(since)s AND occurred_at <= %(until)s"
        " ORDER BY occurred_at, id"
    )
    params = {"brand": brand_id, "types": types, "triggers": triggers, "since": since, "until": until}
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(FETCH_SIZE)
            if not rows:
                return
            yield from rows


def _rows_portable(brand_id: int, types: list[str], since: datetime, until: datetime):
    """The same rows through the ORM (SQLite: `make run`)."""
    events = Event.objects.filter(
        brand_id=brand_id,
        player_id__isnull=False,
        type__in=types,
        occurred_at__gt=since,
        occurred_at__lte=until,
    ).order_by("occurred_at", "id")
    yield from events.values_list("id", "type", "player_id", "occurred_at", "payload").iterator(FETCH_SIZE)


def backtest_evaluate(
    *, brand_id: int, condition: str, triggers, cooldown: timedelta, start: datetime, end: datetime
) -> BacktestResult:
    """The hits the rule would have made on events in (start, end]."""
    compiled = compile_condition(condition)
    triggers = sorted(set(triggers))
    refs = compiled.aggregates
    lookback = max((ref.window_seconds for ref in refs), default=0)
    # Only the event types the rule's aggregates count (and its triggers) are read.
    kinds = {kind for ref in refs for kind in ((ref.kind,) if ref.kind else NET_LOSS_SIGNS)}
    types = sorted(set(triggers) | {FACT_SOURCES[kind][0] for kind in kinds})
    histories: dict[int, FactHistory] = defaultdict(FactHistory)
    last_fired: dict[int, datetime] = {}
    trigger_set = frozenset(triggers)
    result = BacktestResult()
    window = timedelta(seconds=lookback)
    pruned_at = start

    def evaluate(event_id, event_type, player_id, at, payload):
        if at <= start:
            return  # read only for its fact: before the period
        result.events_triggering += 1
        history = histories[player_id]
        context = EvalContext(
            event_fields(event_type, brand_id, payload, at, only=compiled.fields),
            lambda: {ref: history.aggregate(ref, at) for ref in refs},
        )
        if not compiled.matches(context):
            return
        last = last_fired.get(player_id)
        if last is not None and last > at - cooldown:
            return
        last_fired[player_id] = at
        result.hits.append((player_id, event_id, at))

    for event_id, event_type, player_id, occurred_at, payload_text in _rows(
        brand_id, types, triggers, start - window, end
    ):
        result.events_scanned += 1
        payload = json.loads(payload_text) if isinstance(payload_text, str) else payload_text
        if refs:
            fact = fact_from_event(event_type, brand_id, payload, occurred_at)
            if fact is not None:
                histories[player_id].add(fact)
            if occurred_at - pruned_at > window:
                # Now and then, forget what no window reaches any more: memory stays bounded.
                for history in histories.values():
                    history.forget_before(occurred_at - window)
                pruned_at = occurred_at
        if event_type in trigger_set:
            evaluate(event_id, event_type, player_id, occurred_at, payload)
    return result


def backtest_run(run_id: int) -> BacktestRun:
    """Run a queued BacktestRun and store its results. Safe to run again: a finished run
    is left as it is."""
    run = BacktestRun.objects.select_related("version", "rule").get(pk=run_id)
    if run.status in (BacktestRun.Status.DONE, BacktestRun.Status.FAILED):
        return run
    BacktestRun.objects.filter(pk=run.pk).update(status=BacktestRun.Status.RUNNING)
    started = time.monotonic()
    try:
        result = backtest_evaluate(
            brand_id=run.rule.brand_id,
            condition=run.version.condition,
            triggers=run.version.triggers,
            cooldown=timedelta(seconds=run.version.cooldown_seconds),
            start=run.period_start,
            end=run.period_end,
        )
    except Exception as exc:  # recorded on the run for the officer; the task does not retry
        BacktestRun.objects.filter(pk=run.pk).update(
            status=BacktestRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    players = result.players
    per_day = Counter(at.date().isoformat() for _p, _e, at in result.hits)
    run.status = BacktestRun.Status.DONE
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.events_scanned = result.events_scanned
    run.events_triggering = result.events_triggering
    run.hits = len(result.hits)
    run.players_hit = len(players)
    run.results = {
        "top_players": [{"player_id": p, "hits": n} for p, n in players.most_common(TOP_PLAYERS)],
        "hits_per_day": dict(sorted(per_day.items())),
        "sample": [
            {"player_id": p, "event_id": e, "at": at.isoformat()} for p, e, at in result.hits[:SAMPLE_HITS]
        ],
    }
    run.save()
    return run
