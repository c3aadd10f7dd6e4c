"""The player's inbox: the messages rules sent them, and nobody else's."""

import pytest
from rest_framework.test import APIClient

from apps.players import services as player_services
from apps.rules.models import Message
from tests.factories import PLAYER_PASSWORD, PlayerFactory

pytestmark = pytest.mark.django_db


def client_of(player) -> APIClient:
    _, key, _ = player_services.player_login(
        brand_code=player.brand.code, login=player.username, password=PLAYER_PASSWORD
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_a_player_reads_their_sent_messages_newest_first(player, brand):
    other = PlayerFactory(brand=brand)
    first = Message.objects.create(
        player=player, brand=brand, channel="inbox", subject="one", body="b1", status="sent"
    )
    second = Message.objects.create(
        player=player, brand=brand, channel="email", subject="two", body="b2", status="sent"
    )
    Message.objects.create(player=player, brand=brand, channel="email", subject="queued", body="x")
    Message.objects.create(
        player=other, brand=brand, channel="inbox", subject="not yours", body="x", status="sent"
    )

    response = client_of(player).get("/api/v1/player/messages")

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == [second.pk, first.pk]
    assert set(response.json()["results"][0]) == {"id", "created_at", "channel", "subject", "body"}


def test_the_inbox_needs_a_player_token():
    assert APIClient().get("/api/v1/player/messages").status_code == 401
