"""Events the games domain publishes."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class GameSessionOpened(DomainEvent):
    event_type: ClassVar[str] = "games.session_opened"
    session_id: int
    player_id: int
    brand_id: int
    provider: str
    game_code: str
    currency: str
    expires_at: str


@dataclass(frozen=True)
class GameSessionsClosed(DomainEvent):
    event_type: ClassVar[str] = "games.sessions_closed"
    player_id: int
    brand_id: int
    session_ids: list
