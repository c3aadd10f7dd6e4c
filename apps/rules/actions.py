"""What a rule can do when it fires, validated when the rule is saved.

Each action runs in its own savepoint inside the engine's transaction: one that is
refused (a time-out longer than the jurisdiction allows, suspending a closed account)
is recorded on the hit as refused, undoes nothing the others did, and never makes the
event's delivery fail (a redelivery would only be refused again). Actions act as the
system actor `system:rules`, on the authority of the compliance officer who wrote the
rule; every change they make is audited and published by the service they call.
"""

import jsonschema
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.core.exceptions import DomainError
from apps.core.money import decimal_to_minor
from apps.rules.events import AlertRaised, PlayerMessaged
from apps.rules.exceptions import ActionsInvalid
from apps.rules.models import Message, ReviewTask, RiskMarker, RuleHit

RULES_ACTOR = system_actor("rules")
SLUG = "^[a-z0-9_]{1,64}$"
AMOUNT = r"^[0-9]{1,15}(\.[0-9]{1,18})?$"


def _object(action_type: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {"type": {"const": action_type}, **properties},
        "required": ["type", *required],
        "additionalProperties": False,
    }


# One schema per action type, so an error names the field of the action that is wrong.
ACTION_SCHEMAS = {
    "flag": _object(
        "flag",
        {"marker": {"type": "string", "pattern": SLUG}, "level": {"enum": ["low", "medium", "high"]}},
        ["marker", "level"],
    ),
    "review_task": _object(
        "review_task",
        {
            "queue": {"type": "string", "pattern": SLUG},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        ["queue"],
    ),
    "limit": _object(
        "limit",
        {
            "kind": {"enum": ["deposit", "loss", "wager"]},
            "period": {"enum": ["day", "week", "month"]},
            "amount": {"type": "string", "pattern": AMOUNT},
        },
        ["kind", "period", "amount"],
    ),
    "timeout": _object(
        "timeout", {"hours": {"type": "integer", "minimum": 1, "maximum": 24 * 366}}, ["hours"]
    ),
    "suspend": _object("suspend", {}, []),
    "message": _object(
        "message",
        {
            "channel": {"enum": ["email", "inbox"]},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "body": {"type": "string", "minLength": 1, "maxLength": 5000},
        },
        ["channel", "subject", "body"],
    ),
    "alert": _object(
        "alert",
        {"severity": {"enum": ["info", "warning", "critical"]}, "text": {"type": "string", "maxLength": 200}},
        ["severity"],
    ),
}
ACTION_TYPES = tuple(ACTION_SCHEMAS)
MAX_ACTIONS = 10
_validators = {name: jsonschema.Draft202012Validator(schema) for name, schema in ACTION_SCHEMAS.items()}


def actions_validate(actions) -> list[dict]:
    """The actions as saved, or ActionsInvalid naming the first problem and where."""
    if not isinstance(actions, list) or not actions:
        raise ActionsInvalid('Actions are a non-empty list, e.g. [{"type": "flag", ...}].')
    if len(actions) > MAX_ACTIONS:
        raise ActionsInvalid(f"A rule has at most {MAX_ACTIONS} actions.")
    for position, action in enumerate(actions, start=1):
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in ACTION_TYPES:
            raise ActionsInvalid(
                f"Action {position}: type must be one of {', '.join(ACTION_TYPES)}.", code="unknown_action"
            )
        error = jsonschema.exceptions.best_match(_validators[kind].iter_errors(action))
        if error is not None:
            field = "/".join(str(p) for p in error.absolute_path)
            raise ActionsInvalid(f"Action {position} ({kind}){' ' + field if field else ''}: {error.message}")
    return actions


def actions_run(hit: RuleHit, actions: list[dict], *, rule_name: str) -> list[dict]:
    """Carry out the hit's actions in order; returns one outcome per action."""
    outcomes = []
    for action in actions:
        try:
            with transaction.atomic():
                detail = _RUNNERS[action["type"]](hit, action, rule_name)
            outcomes.append({"type": action["type"], "result": "done", "detail": detail})
        except DomainError as exc:
            outcomes.append(
                {"type": action["type"], "result": "refused", "detail": f"{exc.code}: {exc.message}"}
            )
    return outcomes


def _reason(rule_name: str) -> str:
    return f"BeAware rule {rule_name!r}"


def _flag(hit: RuleHit, action: dict, rule_name: str) -> str:
    RiskMarker.objects.create(
        player_id=hit.player_id,
        brand_id=hit.brand_id,
        marker=action["marker"],
        level=action["level"],
        hit=hit,
    )
    return f"{action['marker']} ({action['level']})"


def _review_task(hit: RuleHit, action: dict, rule_name: str) -> str:
    task = ReviewTask.objects.create(
        player_id=hit.player_id,
        brand_id=hit.brand_id,
        queue=action["queue"],
        title=action.get("title") or f"{rule_name}: review player {hit.player_id}",
        hit=hit,
    )
    return f"task {task.pk} in {task.queue}"


def _limit(hit: RuleHit, action: dict, rule_name: str) -> str:
    from apps.responsible_gaming.services import limit_set

    player = hit.player
    minor = decimal_to_minor(action["amount"], currency_exponent=player.currency.exponent)
    change = limit_set(
        actor=RULES_ACTOR,
        player=player,
        kind=action["kind"],
        period=action["period"],
        amount=minor,
        reason=_reason(rule_name),
        only_lower=True,
    )
    label = f"{action['kind']} limit per {action['period']}"
    return f"{label} set to {action['amount']}" if change else f"{label} kept (already at or below)"


def _timeout(hit: RuleHit, action: dict, rule_name: str) -> str:
    from apps.responsible_gaming.services import timeout_start

    exclusion = timeout_start(
        actor=RULES_ACTOR, player=hit.player, hours=action["hours"], reason=_reason(rule_name)
    )
    return f"time-out until {exclusion.ends_at:%Y-%m-%d %H:%M}"


def _suspend(hit: RuleHit, action: dict, rule_name: str) -> str:
    from apps.players.services import player_status_apply

    player = player_status_apply(
        actor=RULES_ACTOR, player=hit.player, transition="suspend", reason=_reason(rule_name)
    )
    return f"status {player.status}"


def _message(hit: RuleHit, action: dict, rule_name: str) -> str:
    message = Message.objects.create(
        player_id=hit.player_id,
        brand_id=hit.brand_id,
        channel=action["channel"],
        subject=action["subject"],
        body=action["body"],
        hit=hit,
    )
    publish(
        PlayerMessaged(
            message_id=message.pk,
            player_id=hit.player_id,
            brand_id=hit.brand_id,
            channel=message.channel,
            subject=message.subject,
            rule_id=hit.rule_id,
        ),
        actor=RULES_ACTOR,
    )
    from apps.rules.tasks import message_deliver_task

    transaction.on_commit(lambda: message_deliver_task.delay(message.pk))
    return f"{message.channel} message {message.pk}"


def _alert(hit: RuleHit, action: dict, rule_name: str) -> str:
    publish(
        AlertRaised(
            hit_id=hit.pk,
            rule_id=hit.rule_id,
            rule_name=rule_name,
            player_id=hit.player_id,
            brand_id=hit.brand_id,
            severity=action["severity"],
            text=action.get("text") or rule_name,
        ),
        actor=RULES_ACTOR,
    )
    return action["severity"]


_RUNNERS = {
    "flag": _flag,
    "review_task": _review_task,
    "limit": _limit,
    "timeout": _timeout,
    "suspend": _suspend,
    "message": _message,
    "alert": _alert,
}
