"""Events the players domain publishes."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class PlayerRegistered(DomainEvent):
    event_type: ClassVar[str] = "players.player_registered"
    player_id: int
    brand_id: int
    country: str
    currency: str


@dataclass(frozen=True)
class PlayerLoggedIn(DomainEvent):
    event_type: ClassVar[str] = "players.login_succeeded"
    player_id: int
    brand_id: int
    ip: str | None


@dataclass(frozen=True)
class PlayerLoginRefused(DomainEvent):
    event_type: ClassVar[str] = "players.login_refused"
    player_id: int
    brand_id: int
    reason: str
    ip: str | None


@dataclass(frozen=True)
class PlayerStatusChanged(DomainEvent):
    event_type: ClassVar[str] = "players.status_changed"
    player_id: int
    brand_id: int
    old_status: str
    new_status: str
    reason: str


@dataclass(frozen=True)
class PlayerProfileChanged(DomainEvent):
    event_type: ClassVar[str] = "players.profile_changed"
    player_id: int
    brand_id: int
    fields: list[str]


@dataclass(frozen=True)
class PlayersExported(DomainEvent):
    event_type: ClassVar[str] = "players.exported"
    brand_id: int | None
    count: int
    with_personal_data: bool
