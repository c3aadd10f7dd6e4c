"""Events the exclusions app publishes."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class RegisterChecked(DomainEvent):
    """A register was asked about a person (every check, whatever the outcome)."""

    event_type: ClassVar[str] = "exclusions.register_checked"
    check_id: int
    brand_id: int
    player_id: int | None
    register: str
    purpose: str
    outcome: str  # excluded / allowed / lapsed / error


@dataclass(frozen=True)
class PlayerExcludedByRegister(DomainEvent):
    """A register said this player is excluded (GAMSTOP Y, Spelpaus isBlocked)."""

    event_type: ClassVar[str] = "exclusions.player_excluded_by_register"
    check_id: int
    brand_id: int
    player_id: int
    register: str
    purpose: str
    reference: str


# --- the daily re-check and marketing exports (batch.py, marketing.py) ---------------------------


@dataclass(frozen=True)
class BatchChunkFailed(DomainEvent):
    """A re-check chunk the register never answered: its players failed closed (sessions ended)."""

    event_type: ClassVar[str] = "exclusions.batch_chunk_failed"
    brand_id: int
    register: str
    batch_run_id: int
    chunk_index: int
    players: int
    attempts: int
    error: str


@dataclass(frozen=True)
class BatchRunFinished(DomainEvent):
    event_type: ClassVar[str] = "exclusions.batch_run_finished"
    brand_id: int
    register: str
    batch_run_id: int
    players: int
    chunks: int
    hits: int
    errors: int


@dataclass(frozen=True)
class MarketingExported(DomainEvent):
    event_type: ClassVar[str] = "exclusions.marketing_exported"
    brand_id: int
    export_id: int
    purpose: str
    candidates: int
    included: int
    removed: int
    removed_by_reason: dict
    with_personal_data: bool
