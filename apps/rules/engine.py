"""The live engine: events in, facts recorded, every candidate rule evaluated.

`rules_evaluate_batch(events)` is called by the outbox with a batch of events about
players (one event when it has no more), inside the transaction that records their
delivery, so everything it writes (facts, cooldowns, hits and what actions did) commits
once with it, and a redelivery finds it done.

Per event (a batch does each step for all its events together where it can: one facts
statement, aggregates fetched before the first rule runs; see `rules_evaluate_batch`):
1. the event's fact (if it is one) is stored, idempotently by event id;
2. the candidate rules are those enabled for the brand and triggered by the type, in
   priority order, from an in-process cache of compiled rules (refreshed after
   `RULES_CACHE_SECONDS`, and at once in the process that saved a rule);
3. conditions run in order; the first one that needs an aggregate fetches every
   aggregate any candidate needs, in one query (a batch: one for all its events);
4. a rule that matches claims its cooldown for the player with one conditional upsert
   (so two deliveries racing fire it once), records a hit, runs its actions and
   publishes RuleFired; `stop_processing` ends the event's evaluation there.

A condition that fails at run time (it cannot, by construction; this is the seat belt)
is logged and counts as no match: one bad rule must not stop every other rule.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction

from apps.core import hotpath
from apps.core.correlation import correlation_id_of
from apps.core.events import publish
from apps.core.models import Event
from apps.rules.actions import RULES_ACTOR, actions_run
from apps.rules.aggregates import aggregates_fetch, aggregates_fetch_many
from apps.rules.catalogue import event_fields, fact_from_event
from apps.rules.dsl import AggregateRef, Condition, EvalContext, compile_condition
from apps.rules.events import RuleFired
from apps.rules.models import Fact, Rule, RuleCooldown, RuleHit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledRule:
    rule_id: int
    name: str
    version_id: int
    version: int
    priority: int
    stop_processing: bool
    triggers: frozenset[str]
    condition: Condition
    actions: list
    cooldown: timedelta


def compiled_rule(rule: Rule) -> CompiledRule:
    version = rule.current_version
    return CompiledRule(
        rule_id=rule.pk,
        name=rule.name,
        version_id=version.pk,
        version=version.number,
        priority=rule.priority,
        stop_processing=rule.stop_processing,
        triggers=frozenset(version.triggers),
        condition=_condition_of(version.pk, version.condition),
        actions=version.actions,
        cooldown=timedelta(seconds=version.cooldown_seconds),
    )


@lru_cache(maxsize=4096)
def _condition_of(version_id: int, source: str) -> Condition:
    """Versions never change: a version's condition is compiled once per process."""
    return compile_condition(source)


@dataclass(frozen=True)
class _Candidates:
    """The rules an event type runs, in priority order, with the aggregates and event
    fields any of them reads: worked out once per cache load, not once per event."""

    rules: list[CompiledRule]
    needed: frozenset[AggregateRef]
    read: frozenset[str]


_NO_CANDIDATES = _Candidates([], frozenset(), frozenset())


class _RuleCache:
    """{brand id: {event type: _Candidates}} of enabled rules, with a TTL."""

    def __init__(self):
        self._by_brand: dict[int, tuple[float, dict[str, _Candidates]]] = {}

    def clear(self) -> None:
        self._by_brand.clear()

    def rules_for(self, brand_id: int, event_type: str) -> list[CompiledRule]:
        return self.candidates_for(brand_id, event_type).rules

    def candidates_for(self, brand_id: int, event_type: str) -> _Candidates:
        now = time.monotonic()
        hit = self._by_brand.get(brand_id)
        if hit is None or hit[0] <= now:
            hit = (now + settings.RULES_CACHE_SECONDS, self._load(brand_id))
            self._by_brand[brand_id] = hit
        return hit[1].get(event_type, _NO_CANDIDATES)

    @staticmethod
    def _load(brand_id: int) -> dict[str, _Candidates]:
        by_type: dict[str, list[CompiledRule]] = {}
        rules = (
            Rule.objects.filter(brand_id=brand_id, enabled=True, current_version__isnull=False)
            .select_related("current_version")
            .order_by("priority", "pk")
        )
        for rule in rules:
            try:
                compiled = compiled_rule(rule)
            except Exception:  # saved before a catalogue change made it invalid: skip, loudly
                logger.exception("rule %s no longer compiles; skipped", rule.pk)
                continue
            for event_type in compiled.triggers:
                by_type.setdefault(event_type, []).append(compiled)
        return {
            event_type: _Candidates(
                rules=candidates,
                needed=frozenset().union(*(rule.condition.aggregates for rule in candidates)),
                read=frozenset().union(*(rule.condition.fields for rule in candidates)),
            )
            for event_type, candidates in by_type.items()
        }


rule_cache = _RuleCache()


_FACTS_INSERT = (
    "INSERT INTO rules_fact (event_id, player_id, brand_id, kind, amount, occurred_at, night)"
    " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::numeric[],"
    " %s::timestamptz[], %s::boolean[]) ON CONFLICT (event_id) DO NOTHING"
)


def facts_record(events: list[Event]) -> int:
    """Store the facts among the events (idempotent by event id: a redelivery inserts
    nothing) in one statement; how many of the events are facts. The statement is the same
    text for any number of rows (arrays), so PostgreSQL prepares it once."""
    rows = []
    for event in events:
        fact = fact_from_event(event.type, event.brand_id, event.payload, event.occurred_at)
        if fact is not None:
            rows.append((event.pk, event.player_id, event.brand_id, fact))
    if not rows:
        return 0
    if connection.vendor != "postgresql":  # SQLite (`make run`): the ORM stores its datetimes
        Fact.objects.bulk_create(
            [
                Fact(
                    event_id=pk,
                    player_id=player_id,
                    brand_id=brand_id,
                    kind=fact.kind,
                    amount=fact.amount,
                    occurred_at=fact.occurred_at,
                    night=fact.night,
                )
                for pk, player_id, brand_id, fact in rows
            ],
            ignore_conflicts=True,
        )
        return len(rows)
    hotpath.execute(
        _FACTS_INSERT,
        [
            [pk for pk, _, _, _ in rows],
            [player_id for _, player_id, _, _ in rows],
            [brand_id for _, _, brand_id, _ in rows],
            [fact.kind for _, _, _, fact in rows],
            [fact.amount for _, _, _, fact in rows],
            [fact.occurred_at for _, _, _, fact in rows],
            [fact.night for _, _, _, fact in rows],
        ],
    )
    return len(rows)


def rules_evaluate(event: Event) -> list[RuleHit]:
    """Record the event's fact and run every candidate rule on it; returns the hits."""
    return rules_evaluate_batch([event])


class _NeedsAggregates(Exception):
    """Raised by the first look at a condition when it reads an aggregate."""


def _aggregates_later() -> dict:
    raise _NeedsAggregates


@dataclass
class _Plan:
    event: Event
    candidates: list[CompiledRule]
    fields: dict
    needed: frozenset[AggregateRef]
    aggregates: dict | None = None


def rules_evaluate_batch(events: list[Event]) -> list[RuleHit]:
    """Record the events' facts and run every candidate rule on each, in event id order;
    returns the hits. The outbox delivers whole batches here (the rules handler subscribes
    with batch=True), so a batch costs one transaction, one facts statement and one
    aggregates statement per event that needs aggregates, with nothing between them.

    What a batch decides is what the events one at a time would have decided: every
    fact is recorded first, but each event's windows end at the event itself in (time,
    event id) order, so a later event's fact is not yet history to an earlier one; and
    cooldowns are claimed event by event, in order. Conditions are first looked at with
    no aggregates: an event that no rule can match without them, and none needs them for,
    is done there; the others get their aggregates, fetched together, and are evaluated
    for real in order (conditions are pure: looking twice changes nothing).
    """
    events = [event for event in events if event.player_id is not None and event.brand_id is not None]
    if not events:
        return []
    facts_record(events)
    plans = [plan for event in events if (plan := _plan(event)) is not None]
    if len(plans) > 1:
        plans = [plan for plan in plans if _worth_evaluating(plan)]
        wanted = [plan for plan in plans if plan.aggregates is None and plan.needed]
        for plan, values in zip(wanted, _aggregates_many(wanted), strict=True):
            plan.aggregates = values
    hits = []
    for plan in plans:
        with correlation_id_of(plan.event.correlation_id):
            hits.extend(_evaluate(plan))
    if not hits and connection.vendor == "postgresql":
        # Nothing fired: the transaction holds only facts and delivery records, so it need
        # not wait for the disk. A crash may lose both together and the sweep delivers the
        # events again (at-least-once); any later durable commit flushes it.
        hotpath.execute("SET LOCAL synchronous_commit TO OFF", [])
    return hits


def _plan(event: Event) -> _Plan | None:
    candidates = rule_cache.candidates_for(event.brand_id, event.type)
    if not candidates.rules:
        return None
    fields = event_fields(event.type, event.brand_id, event.payload, event.occurred_at, only=candidates.read)
    return _Plan(event, candidates.rules, fields, candidates.needed)


def _worth_evaluating(plan: _Plan) -> bool:
    """Can any candidate match? Looks with the event's fields only: a condition that reads
    an aggregate says so by raising, and the plan is then evaluated with its aggregates."""
    context = EvalContext(plan.fields, _aggregates_later)
    for rule in plan.candidates:
        try:
            if rule.condition.matches(context):
                return True
        except _NeedsAggregates:
            return True
        except Exception:  # noqa: BLE001 - the real evaluation logs it
            return True
    return False


def _aggregates_many(plans: list[_Plan]) -> list[dict]:
    return aggregates_fetch_many(
        [(plan.event.player_id, plan.event.occurred_at, plan.event.pk, plan.needed) for plan in plans]
    )


def _evaluate(plan: _Plan) -> list[RuleHit]:
    event = plan.event
    if plan.aggregates is not None:
        prefetched = plan.aggregates
        context = EvalContext(plan.fields, lambda: prefetched)
    else:
        context = EvalContext(
            plan.fields,
            lambda: aggregates_fetch(
                player_id=event.player_id, at=event.occurred_at, event_id=event.pk, refs=plan.needed
            ),
        )
    hits = []
    for rule in plan.candidates:
        try:
            matched = rule.condition.matches(context)
        except Exception:  # see the module's docstring
            logger.exception("rule %s failed on event %s", rule.rule_id, event.pk)
            continue
        if not matched or not cooldown_claim(rule.rule_id, event.player_id, event.occurred_at, rule.cooldown):
            continue
        hits.append(_fire(rule, event, context))
        if rule.stop_processing:
            break
    return hits


_COOLDOWN_CLAIM = (
    "INSERT INTO rules_rulecooldown (rule_id, player_id, last_fired_at) VALUES (%s, %s, %s)"
    " ON CONFLICT (rule_id, player_id) DO UPDATE SET last_fired_at = EXCLUDED.last_fired_at"
    " WHERE rules_rulecooldown.last_fired_at <= %s RETURNING 1"
)


def cooldown_claim(rule_id: int, player_id: int, at: datetime, cooldown: timedelta) -> bool:
    """May the rule fire for the player at `at`? Claims it if so, with one conditional
    upsert: the row is created, or moved forward when its last firing is a cooldown or
    more before `at`. A concurrent claim waits on the row lock, re-reads the moved time
    and updates nothing, so it returns no row. Only matched rules get here."""
    if connection.vendor == "postgresql":
        return hotpath.fetchone(_COOLDOWN_CLAIM, [rule_id, player_id, at, at - cooldown]) is not None
    with transaction.atomic():  # SQLite (`make run`): the same decision through the ORM
        cooldown_row, created = RuleCooldown.objects.get_or_create(
            rule_id=rule_id, player_id=player_id, defaults={"last_fired_at": at}
        )
        if created:
            return True
        return bool(
            RuleCooldown.objects.filter(pk=cooldown_row.pk, last_fired_at__lte=at - cooldown).update(
                last_fired_at=at
            )
        )


def _fire(rule: CompiledRule, event: Event, context: EvalContext) -> RuleHit:
    values = {
        ref.label: _json(context.aggregate(ref)) for ref in sorted(rule.condition.aggregates, key=_order)
    }
    hit = RuleHit.objects.create(
        rule_id=rule.rule_id,
        version_id=rule.version_id,
        player_id=event.player_id,
        brand_id=event.brand_id,
        event=event,
        fired_at=event.occurred_at,
        values=values,
    )
    hit.outcomes = actions_run(hit, rule.actions, rule_name=rule.name)
    hit.save(update_fields=["outcomes"])
    publish(
        RuleFired(
            hit_id=hit.pk,
            rule_id=rule.rule_id,
            rule_name=rule.name,
            version=rule.version,
            player_id=event.player_id,
            brand_id=event.brand_id,
            trigger_event_id=event.pk,
            trigger_type=event.type,
            outcomes=hit.outcomes,
        ),
        actor=RULES_ACTOR,
    )
    return hit


def _order(ref: AggregateRef):
    return (ref.function, ref.kind, ref.window_seconds)


def _json(value):
    """A value as the officer reads it: 120, 12.5 (not 120.000000000000000000)."""
    return None if value is None else format(value.normalize(), "f")
