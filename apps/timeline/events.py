"""Events the timeline app publishes (retention and GDPR erasure; entries themselves are a
projection of other apps' events and announce nothing)."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class RetentionPolicyChanged(DomainEvent):
    event_type: ClassVar[str] = "timeline.retention_policy_changed"
    policy_id: int
    brand_id: int | None
    jurisdiction: str
    category: str
    action: str
    after_days: int


@dataclass(frozen=True)
class RetentionApplied(DomainEvent):
    """A retention run finished one brand's category (its PurgeRecord has the counts)."""

    event_type: ClassVar[str] = "timeline.retention_applied"
    purge_record_id: int
    brand_id: int
    kind: str
    category: str
    action: str
    cutoff: str | None
    rows_removed: int
    rows_summarised: int


@dataclass(frozen=True)
class ErasureRequested(DomainEvent):
    event_type: ClassVar[str] = "timeline.erasure_requested"
    erasure_id: int
    player_id: int
    brand_id: int


@dataclass(frozen=True)
class ErasureCompleted(DomainEvent):
    event_type: ClassVar[str] = "timeline.erasure_completed"
    erasure_id: int
    player_id: int
    brand_id: int
    entries_purged: int
    entries_anonymised: int
    categories_purged: list
    retained_fields: list


@dataclass(frozen=True)
class ErasureRetainedReleased(DomainEvent):
    """The personal fields an erasure kept for an exclusion were erased once it ended."""

    event_type: ClassVar[str] = "timeline.erasure_retained_released"
    erasure_id: int
    player_id: int
    brand_id: int
    fields: list
