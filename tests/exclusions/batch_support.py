"""Helpers of the re-check and marketing tests: many players fast, sessions and tokens to end."""

from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from apps.core.actors import system_actor
from apps.exclusions.clients import breakers_reset
from apps.exclusions.models import Register, RegisterConfig
from apps.games.models import Game, GameSession
from apps.games.services import game_session_open
from apps.players.models import Player, PlayerToken

_PASSWORD = make_password("player-pass-2026")


def players_bulk(brand, n: int, *, prefix: str = "p", **fields) -> list[Player]:
    """n players of the brand in one INSERT (ids ascending); emails are <prefix><i>@example.com."""
    players = [
        Player(
            brand=brand,
            username=f"{prefix}{i}",
            email=f"{prefix}{i}@example.com",
            password=_PASSWORD,
            first_name="Alex",
            last_name=f"Lastname{i}",
            date_of_birth=date(1990, 5, 17),
            country=brand.jurisdiction,
            address_line="1 High Street",
            city="London",
            postcode="SW1A 2AA",
            mobile=f"+4474{i:08d}",
            currency_id=brand.default_currency_id,
            **fields,
        )
        for i in range(n)
    ]
    return Player.objects.bulk_create(players, batch_size=2000)


def gamstop_config(brand, fake) -> RegisterConfig:
    breakers_reset()
    return RegisterConfig.objects.create(
        brand=brand,
        register=Register.GAMSTOP,
        base_url=fake.url,
        batch_url=fake.batch_url,
        api_key=fake.api_key,
        timeout_seconds=5,
    )


def spelpaus_config(brand, fake) -> RegisterConfig:
    breakers_reset()
    return RegisterConfig.objects.create(
        brand=brand,
        register=Register.SPELPAUS,
        base_url=fake.url,
        batch_url=fake.marketing_url,
        actor_id=fake.actor_id,
        api_key=fake.api_key,
        timeout_seconds=5,
    )


def game() -> Game:
    return Game.objects.get_or_create(provider="hub88", code="batch_slot", defaults={"name": "Batch slot"})[0]


def session_and_token(player: Player) -> None:
    """An open game session and a live API token, for the re-check to end (or leave)."""
    game_session_open(
        player=player,
        game=game(),
        currency_code=player.currency_id,
        actor=system_actor("test"),
        ttl=timedelta(hours=30),
    )
    PlayerToken.objects.create(
        player=player,
        key_hash=PlayerToken.hash_key(PlayerToken.new_key()),
        expires_at=timezone.now() + timedelta(hours=12),
    )


def open_sessions(player_ids) -> set[int]:
    """The players (of those given) with an open game session."""
    return set(
        GameSession.objects.filter(player_id__in=list(player_ids), closed_at__isnull=True).values_list(
            "player_id", flat=True
        )
    )


def live_tokens(player_ids) -> set[int]:
    return set(
        PlayerToken.objects.filter(player_id__in=list(player_ids), revoked_at__isnull=True).values_list(
            "player_id", flat=True
        )
    )


def batch_bodies(fake) -> list[list[dict]]:
    """The persons of every batch request the fake received, in order."""
    import json

    return [json.loads(body) for _path, _headers, body in fake.requests_to("/batch/v2")]


def sent_ids(fake) -> list[int]:
    return [int(person["correlation-id"]) for body in batch_bodies(fake) for person in body]
