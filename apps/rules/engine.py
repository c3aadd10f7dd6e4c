"""The live engine: one event in, facts recorded, every candidate rule evaluated.

`rules_evaluate(event)` is called by the outbox for each event about a player, inside
the transaction that records its delivery, so everything it writes (the fact, cooldowns,
hits and what actions did) commits once with it, and a redelivery finds it done.

Per event:
1. the event's fact (if it is one) is stored, idempotently by event id;
2. the candidate rules are those enabled for the brand and triggered by the type, in
   priority order, from an in-process cache of compiled rules (refreshed after
   `RULES_CACHE_SECONDS`, and at once in the process that saved a rule);
3. conditions run in order; the first one that needs an aggregate fetches every
   aggregate any candidate needs, in one query;
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
from apps.core.events import publish
from apps.core.models import Event
from apps.rules.actions import RULES_ACTOR, actions_run
from apps.rules.aggregates import aggregates_fetch
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


class _RuleCache:
    """{brand id: {event type: [CompiledRule, ...]}} of enabled rules, with a TTL."""

    def __init__(self):
        self._by_brand: dict[int, tuple[float, dict[str, list[CompiledRule]]]] = {}

    def clear(self) -> None:
        self._by_brand.clear()

    def rules_for(self, brand_id: int, event_type: str) -> list[CompiledRule]:
        now = time.monotonic()
        hit = self._by_brand.get(brand_id)
        if hit is None or hit[0] <= now:
            hit = (now + settings.RULES_CACHE_SECONDS, self._load(brand_id))
            self._by_brand[brand_id] = hit
        return hit[1].get(event_type, [])

    @staticmethod
    def _load(brand_id: int) -> dict[str, list[CompiledRule]]:
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
        return by_type


rule_cache = _RuleCache()


def fact_record(event: Event) -> bool:
    """Store the event's fact, if it is one; True when it is (idempotent by event id: a
    redelivery inserts nothing). One fixed statement on every counted event: hotpath."""
    fact = fact_from_event(event.type, event.brand_id, event.payload, event.occurred_at)
    if fact is None:
        return False
    if connection.vendor != "postgresql":  # SQLite (`make run`): the ORM stores its datetimes
        row = Fact(
            event_id=event.pk,
            player_id=event.player_id,
            brand_id=event.brand_id,
            kind=fact.kind,
            amount=fact.amount,
            occurred_at=fact.occurred_at,
            night=fact.night,
        )
        Fact.objects.bulk_create([row], ignore_conflicts=True)
        return True
    hotpath.execute(
        "INSERT INTO rules_fact (event_id, player_id, brand_id, kind, amount, occurred_at, night)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        [event.pk, event.player_id, event.brand_id, fact.kind, fact.amount, fact.occurred_at, fact.night],
    )
    return True


def rules_evaluate(event: Event) -> list[RuleHit]:
    """Record the event's fact and run every candidate rule on it; returns the hits."""
    if event.player_id is None or event.brand_id is None:
        return []
    fact_record(event)
    candidates = rule_cache.rules_for(event.brand_id, event.type)
    hits = _evaluate(event, candidates) if candidates else []
    if not hits and connection.vendor == "postgresql":
        # Nothing fired: the transaction holds only the fact and the delivery record, so
        # it need not wait for the disk. A crash may lose both together and the sweep
        # delivers the event again (at-least-once); any later durable commit flushes it.
        hotpath.execute("SET LOCAL synchronous_commit TO OFF", [])
    return hits


def _evaluate(event: Event, candidates: list[CompiledRule]) -> list[RuleHit]:
    needed = frozenset().union(*(rule.condition.aggregates for rule in candidates))
    read = frozenset().union(*(rule.condition.fields for rule in candidates))
    fields = event_fields(event.type, event.brand_id, event.payload, event.occurred_at, only=read)
    context = EvalContext(
        fields,
        lambda: aggregates_fetch(
            player_id=event.player_id, at=event.occurred_at, event_id=event.pk, refs=needed
        ),
    )
    hits = []
    for rule in candidates:
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


def cooldown_claim(rule_id: int, player_id: int, at: datetime, cooldown: timedelta) -> bool:
    """May the rule fire for the player at `at`? Claims it if so. The row is created, or
    moved forward by an UPDATE whose WHERE asks for a last firing a cooldown or more
    before `at`: a concurrent claim waits on the row lock, re-reads the moved time, and
    finds nothing to update. Only matched rules get here, so this costs nothing per event."""
    with transaction.atomic():
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
