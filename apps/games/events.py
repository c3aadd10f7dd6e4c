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


@dataclass(frozen=True)
class RoundClosed(DomainEvent):
    """A game round closed: what was staked and won in it, net of rollbacks (minor units).

    Published once per round, by the delivery that closed it. `currency_exponent` travels
    with the amounts so readers (the timeline) can show them without a lookup.
    """

    event_type: ClassVar[str] = "games.round_closed"
    round_id: int
    player_id: int
    brand_id: int
    provider: str
    round_ref: str
    game_code: str
    currency: str
    currency_exponent: int
    bet_total: int
    win_total: int
    rollbacks: int
    opened_at: str
    closed_at: str


@dataclass(frozen=True)
class RoundCorrected(RoundClosed):
    """A closed round's totals changed afterwards (a late rollback or win, or a bet whose
    delivery came after the round's close): the round's new totals, in full."""

    event_type: ClassVar[str] = "games.round_corrected"
