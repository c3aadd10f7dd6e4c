"""Events responsible gaming publishes (the timeline and the rule engine consume them)."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class LimitChanged(DomainEvent):
    """A limit was requested, applied or cancelled (status says which)."""

    event_type: ClassVar[str] = "responsible_gaming.limit_changed"
    change_id: int
    player_id: int
    brand_id: int
    kind: str
    period: str
    old_amount: int | None
    new_amount: int | None
    currency: str
    status: str
    effective_at: str
    reason: str


@dataclass(frozen=True)
class ExclusionStarted(DomainEvent):
    event_type: ClassVar[str] = "responsible_gaming.exclusion_started"
    exclusion_id: int
    player_id: int
    brand_id: int
    kind: str  # "timeout" or "self_exclusion"
    scope: str
    ends_at: str | None
    reason: str


@dataclass(frozen=True)
class RealityCheckChanged(DomainEvent):
    event_type: ClassVar[str] = "responsible_gaming.reality_check_changed"
    player_id: int
    brand_id: int
    minutes: int | None


@dataclass(frozen=True)
class LimitBreachAttempted(DomainEvent):
    """A movement the guard refused (written after its rollback, see refusals.py)."""

    event_type: ClassVar[str] = "responsible_gaming.breach_attempted"
    refusal_id: int
    player_id: int
    brand_id: int
    action: str
    code: str
    amount: int | None
    currency: str
    rule: str


@dataclass(frozen=True)
class TotalsMismatchFound(DomainEvent):
    event_type: ClassVar[str] = "responsible_gaming.totals_mismatch"
    player_id: int
    brand_id: int
    kind: str
    period: str
    period_start: str
    recorded: int
    ledger: int
