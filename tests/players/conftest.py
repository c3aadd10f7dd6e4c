"""Fixtures of the players tests: registration payloads, players, tokens, API clients and
a view of the events a step wrote."""

import pytest
from rest_framework.test import APIClient

from apps.core.models import Event
from apps.players import services
from apps.players.models import Player
from tests.factories import PLAYER_PASSWORD, PlayerFactory
from tests.helpers.staff import staff_login

# force_login would otherwise pick axes' backend (the first one), which cannot load users.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

# 18 December 1981, with a valid check digit; the 10-digit spelling.
PERSONNUMMER = "811218-9876"


@pytest.fixture
def register_payload(brand):
    """register_payload(**changes): a valid registration on brand A (GB, GBP)."""

    def make(**changes) -> dict:
        payload = {
            "brand": brand.code,
            "username": "alice_smith",
            "email": "Alice.Smith@Example.com",
            "password": "correct-horse-battery",
            "first_name": "Alice",
            "last_name": "Smith",
            "date_of_birth": "1990-01-02",
            "country": "GB",
            "address_line": "1 High Street",
            "city": "London",
            "postcode": "sw1a 2aa",
            "mobile": "07400 123456",
        }
        payload.update(changes)
        return payload

    return make


@pytest.fixture
def se_register_payload(other_brand):
    """se_register_payload(**changes): a valid registration on brand B (SE, SEK/EUR)."""

    def make(**changes) -> dict:
        payload = {
            "brand": other_brand.code,
            "username": "bjorn_berg",
            "email": "bjorn@example.se",
            "password": "correct-horse-battery",
            "first_name": "Björn",
            "last_name": "Berg",
            "date_of_birth": "1981-12-18",
            "country": "SE",
            "address_line": "Storgatan 1",
            "city": "Stockholm",
            "postcode": "111 22",
            "mobile": "070-123 45 67",
            "national_id": PERSONNUMMER,
        }
        payload.update(changes)
        return payload

    return make


@pytest.fixture
def player(brand):
    """Alice, an active player of brand A; her password is tests.factories.PLAYER_PASSWORD."""
    return PlayerFactory(
        brand=brand, username="alice", email="Alice@Example.com", first_name="Alice", national_id="QQ123456C"
    )


@pytest.fixture
def other_player(other_brand):
    """Björn, an active player of brand B."""
    return PlayerFactory(
        brand=other_brand, username="bjorn", email="bjorn@example.se", national_id="19811218-9876"
    )


@pytest.fixture
def token_for():
    """token_for(player): a fresh API token from a real login (writes login_succeeded)."""

    def login(player: Player) -> str:
        _, key, _ = services.player_login(
            brand_code=player.brand.code, login=player.username, password=PLAYER_PASSWORD
        )
        return key

    return login


@pytest.fixture
def player_client():
    """player_client(token): an API client that sends `Authorization: Bearer <token>`."""

    def make(token: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def staff_session_client():
    """staff_session_client(user): an API client with a real staff session cookie.

    Unlike force_authenticate, a session goes through each view's authentication classes,
    which is what the player/staff separation is about.
    """

    def make(user) -> APIClient:
        client = APIClient()
        staff_login(client, user)
        return client

    return make


class EventLog:
    """The events written since the last mark()."""

    def __init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        self._after = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def new(self, type_: str | None = None) -> list[Event]:
        rows = Event.objects.filter(pk__gt=self._after).order_by("pk")
        if type_ is not None:
            rows = rows.filter(type=type_)
        return list(rows)

    def new_types(self) -> list[str]:
        return [event.type for event in self.new()]


@pytest.fixture
def events(db) -> EventLog:
    """events.mark() before the step under test; events.new()/new_types() after it."""
    return EventLog()


@pytest.fixture
def row_of():
    """row_of(player): every column of the player's row, to show that nothing changed."""

    def read(player: Player) -> dict:
        return Player.objects.values().get(pk=player.pk)

    return read
