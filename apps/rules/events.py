"""Events BeAware publishes: a rule fired (with what it did), a message sent, an alert."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class RuleFired(DomainEvent):
    event_type: ClassVar[str] = "rules.rule_fired"
    hit_id: int
    rule_id: int
    rule_name: str
    version: int
    player_id: int
    brand_id: int
    trigger_event_id: int
    trigger_type: str
    outcomes: list  # [{"type": "flag", "result": "done", "detail": "..."}, ...]


@dataclass(frozen=True)
class PlayerMessaged(DomainEvent):
    event_type: ClassVar[str] = "rules.player_messaged"
    message_id: int
    player_id: int
    brand_id: int
    channel: str
    subject: str
    rule_id: int


@dataclass(frozen=True)
class AlertRaised(DomainEvent):
    """For the live dashboards' alerts feed."""

    event_type: ClassVar[str] = "rules.alert_raised"
    hit_id: int
    rule_id: int
    rule_name: str
    player_id: int
    brand_id: int
    severity: str
    text: str
