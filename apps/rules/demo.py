"""Demo BeAware rules: four rules per brand, switched on, then run over the demo's own
events as if they had been on all along, so `make run` shows hits, risk markers, review
tasks and messages; and one backtest per brand. Idempotent: skipped once a rule exists.

Written by the compliance officer where they hold the brand, by the superuser elsewhere.
"""

from django.db import transaction

from apps.core.models import Event
from apps.rules import services
from apps.rules.backtest import backtest_run
from apps.rules.catalogue import FACT_EVENT_TYPES, TRIGGER_TYPES
from apps.rules.engine import rule_cache, rules_evaluate
from apps.rules.models import BacktestRun, Rule, RuleHit
from apps.tenants.permissions import user_can

# Amounts in units of the brand's currency, scaled (SEK amounts are ten times larger).
SCALE = {"SEK": 10}


def _rules(scale: int) -> list[dict]:
    return [
        {
            "name": "Deposit velocity",
            "description": "More than the AML review amount deposited within a day.",
            "triggers": ["payments.deposit_completed"],
            "condition": f"sum(deposit, 24h) > {300 * scale}",
            "actions": [
                {"type": "flag", "marker": "deposit_velocity", "level": "high"},
                {"type": "review_task", "queue": "aml"},
                {"type": "alert", "severity": "warning", "text": "Deposit velocity"},
            ],
            "cooldown_seconds": 86400,
            "priority": 10,
        },
        {
            "name": "Failed deposits in an hour",
            "description": "Card testing or a player chasing: three failed deposits within an hour.",
            "triggers": ["payments.payment_failed"],
            "condition": "count(deposit_failed, 1h) >= 3",
            "actions": [{"type": "flag", "marker": "failed_deposits", "level": "medium"}],
            "cooldown_seconds": 3600,
            "priority": 20,
        },
        {
            "name": "Night-time depositing",
            "description": "Three or more deposits between midnight and six in a week.",
            "triggers": ["payments.deposit_completed"],
            "condition": "night_count(deposit, 7d) >= 3",
            "actions": [
                {"type": "flag", "marker": "night_play", "level": "medium"},
                {
                    "type": "message",
                    "channel": "inbox",
                    "subject": "A word about late-night play",
                    "body": "You have been depositing late at night. Limits and time-outs are in your"
                    " account.",
                },
            ],
            "cooldown_seconds": 7 * 86400,
            "priority": 30,
        },
        {
            "name": "Chasing losses",
            "description": "A large net loss in a week and a bet far above the player's usual stake.",
            "triggers": ["wallet.bet_placed"],
            "condition": f"net_loss(7d) > {200 * scale} and event.amount > 3 * median(bet, 30d)",
            "actions": [
                {"type": "review_task", "queue": "safer_gambling", "title": "Possible loss chasing"},
                {"type": "alert", "severity": "critical", "text": "Possible loss chasing"},
            ],
            "cooldown_seconds": 86400,
            "priority": 40,
        },
    ]


def seed(context: dict) -> None:
    if Rule.objects.exists():
        return
    compliance, admin = context["staff"]["compliance"], context["admin"]
    brands = list(context["brands"].values())
    with transaction.atomic():
        for brand in brands:
            author = compliance if user_can(compliance, "rules.add_rule", brand_id=brand.pk) else admin
            scale = SCALE.get(brand.default_currency_id, 1)
            for fields in _rules(scale):
                rule = services.rule_create(actor=author, brand=brand, **fields)
                services.rule_enabled_set(actor=author, rule=rule, enabled=True)
    rule_cache.clear()
    # The demo's events, once more through the engine, as if the rules had been on: their
    # facts are stored already (ignored), the rules now fire.
    events = Event.objects.filter(
        type__in=TRIGGER_TYPES | FACT_EVENT_TYPES,
        player_id__isnull=False,
        brand_id__in=[b.pk for b in brands],
    ).order_by("occurred_at", "id")
    for event in events.iterator(chunk_size=1000):
        with transaction.atomic():
            rules_evaluate(event)
    for brand in brands:
        rule = Rule.objects.filter(brand=brand, name="Deposit velocity").first()
        author = compliance if user_can(compliance, "rules.run_backtest", brand_id=brand.pk) else admin
        if rule is not None:
            run = services.backtest_request(actor=author, rule=rule, days=30)
            if BacktestRun.objects.filter(pk=run.pk, status=BacktestRun.Status.QUEUED).exists():
                backtest_run(run.pk)  # without a broker the task ran at commit already
    context["logins"].append(
        f"Demo BeAware rules: {Rule.objects.count()} on {len(brands)} brand(s),"
        f" {RuleHit.objects.count()} hits."
    )
