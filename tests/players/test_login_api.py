"""Player login, tokens and logout; players and staff kept apart on each other's endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.players.models import Player, PlayerToken
from tests.factories import PLAYER_PASSWORD, PlayerFactory

LOGIN_URL = "/api/v1/player/login"
LOGOUT_URL = "/api/v1/player/logout"
PROFILE_URL = "/api/v1/player/profile"
STAFF_PLAYERS_URL = "/api/v1/staff/players/"
STAFF_BRANDS_URL = "/api/v1/staff/brands/"

INVALID_CREDENTIALS = {
    "error": {"code": "invalid_credentials", "message": "Unknown username or wrong password."}
}
TOKEN_REFUSED = {"error": {"code": "authentication_failed", "message": "Invalid or expired token."}}
NOT_AUTHENTICATED = {
    "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
}

pytestmark = pytest.mark.django_db


def login(client, *, brand="brand-a", login="alice", password=PLAYER_PASSWORD):
    return client.post(LOGIN_URL, {"brand": brand, "login": login, "password": password}, format="json")


def test_login_returns_a_token_that_opens_the_profile(api_client, player, player_client, settings):
    # when
    response = login(api_client)

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at", "player_id"}
    assert body["player_id"] == player.pk
    expected_expiry = timezone.now() + timedelta(seconds=settings.PLAYER_TOKEN_TTL_SECONDS)
    assert abs(parse_datetime(body["expires_at"]) - expected_expiry) < timedelta(minutes=1)
    profile = player_client(body["token"]).get(PROFILE_URL)
    assert profile.status_code == 200
    assert (profile.json()["id"], profile.json()["username"]) == (player.pk, "alice")


def test_login_stores_only_the_tokens_hash(api_client, player):
    # when
    token = login(api_client).json()["token"]

    # then
    stored = PlayerToken.objects.get(player=player)
    assert stored.key_hash == PlayerToken.hash_key(token)
    assert stored.key_hash != token
    assert stored.revoked_at is None


def test_login_publishes_login_succeeded_and_sets_last_login_at(api_client, brand, player, events):
    # given
    assert player.last_login_at is None

    # when
    response = login(api_client)

    # then
    assert response.status_code == 200
    [event] = events.new()
    assert event.type == "players.login_succeeded"
    assert (event.brand_id, event.player_id, event.actor) == (brand.pk, player.pk, f"player:{player.pk}")
    assert event.payload == {"player_id": player.pk, "brand_id": brand.pk, "ip": "127.0.0.1"}
    player.refresh_from_db()
    assert abs(player.last_login_at - timezone.now()) < timedelta(minutes=1)


@pytest.mark.parametrize("login_as", ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com", "ALICE"])
def test_login_by_username_or_email_ignores_letter_case(api_client, player, login_as):
    # when
    response = login(api_client, login=login_as)

    # then
    assert response.status_code == 200
    assert response.json()["player_id"] == player.pk


def test_wrong_password_unknown_username_and_unknown_brand_answer_alike(api_client, player):
    # when
    wrong_password = login(api_client, password="not-the-password")
    unknown_username = login(api_client, login="nobody")
    unknown_brand = login(api_client, brand="no-such-brand")

    # then
    for response in (wrong_password, unknown_username, unknown_brand):
        assert response.status_code == 401
        assert response.json() == INVALID_CREDENTIALS
    assert not PlayerToken.objects.exists()
    player.refresh_from_db()
    assert player.last_login_at is None


def test_wrong_password_is_recorded_as_a_refused_login(api_client, brand, player, events):
    # when
    response = login(api_client, password="not-the-password")

    # then
    assert response.status_code == 401
    [event] = events.new()
    assert event.type == "players.login_refused"
    assert (event.brand_id, event.player_id, event.actor) == (brand.pk, player.pk, f"player:{player.pk}")
    assert event.payload == {
        "player_id": player.pk,
        "brand_id": brand.pk,
        "reason": "bad_password",
        "ip": "127.0.0.1",
    }


def test_unknown_username_or_brand_records_nothing(api_client, player, events):
    # when
    login(api_client, login="nobody")
    login(api_client, brand="no-such-brand")

    # then
    assert events.new() == []


@pytest.mark.parametrize(
    "status, code, message",
    [
        ("suspended", "account_suspended", "Your account is suspended. Please contact support."),
        ("self_excluded", "account_self_excluded", "You are self-excluded and cannot log in."),
        ("closed", "account_closed", "Your account is closed."),
    ],
)
def test_login_to_a_stopped_account_is_refused_and_recorded(
    api_client, brand, events, row_of, status, code, message
):
    # given
    player = PlayerFactory(brand=brand, username="alice", status=status)
    before = row_of(player)

    # when
    response = login(api_client)

    # then
    assert response.status_code == 403
    assert response.json() == {"error": {"code": code, "message": message}}
    [event] = events.new()
    assert event.type == "players.login_refused"
    assert event.payload == {"player_id": player.pk, "brand_id": brand.pk, "reason": code, "ip": "127.0.0.1"}
    assert not PlayerToken.objects.exists()
    assert row_of(player) == before


def test_a_stopped_account_with_a_wrong_password_does_not_reveal_its_status(api_client, brand, events):
    # given
    player = PlayerFactory(brand=brand, username="alice", status=Player.Status.SUSPENDED)

    # when
    response = login(api_client, password="not-the-password")

    # then
    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS
    [event] = events.new()
    assert (event.type, event.player_id, event.payload["reason"]) == (
        "players.login_refused",
        player.pk,
        "bad_password",
    )


def test_login_on_an_inactive_brand_is_refused(api_client, brand, player, events):
    # given
    brand.active = False
    brand.save(update_fields=["active"])

    # when
    response = login(api_client)

    # then
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "brand_inactive", "message": "This brand is closed."}}
    assert [e.payload["reason"] for e in events.new("players.login_refused")] == ["brand_inactive"]
    assert not PlayerToken.objects.exists()


def test_an_expired_token_is_refused(player, token_for, player_client):
    # given
    token = token_for(player)
    PlayerToken.objects.filter(player=player).update(expires_at=timezone.now() - timedelta(seconds=1))

    # when
    response = player_client(token).get(PROFILE_URL)

    # then
    assert response.status_code == 401
    assert response.json() == TOKEN_REFUSED
    assert response["WWW-Authenticate"] == 'Bearer realm="player-api"'


def test_logout_revokes_the_token(player, token_for, player_client):
    # given
    token = token_for(player)
    client = player_client(token)
    assert client.get(PROFILE_URL).status_code == 200

    # when
    response = client.post(LOGOUT_URL)

    # then
    assert response.status_code == 204
    assert PlayerToken.objects.get(key_hash=PlayerToken.hash_key(token)).revoked_at is not None
    after = client.get(PROFILE_URL)
    assert after.status_code == 401
    assert after.json() == TOKEN_REFUSED
    assert client.post(LOGOUT_URL).json() == TOKEN_REFUSED


def test_logout_leaves_the_players_other_sessions_alone(player, token_for, player_client):
    # given
    phone, laptop = token_for(player), token_for(player)

    # when
    assert player_client(phone).post(LOGOUT_URL).status_code == 204

    # then
    assert player_client(laptop).get(PROFILE_URL).status_code == 200


@pytest.mark.parametrize(
    "header, body",
    [
        (None, NOT_AUTHENTICATED),
        ("Bearer not-a-real-token", TOKEN_REFUSED),
        (
            "Bearer two parts",
            {"error": {"code": "authentication_failed", "message": "Malformed Authorization header."}},
        ),
        (
            "Bearer",
            {"error": {"code": "authentication_failed", "message": "Malformed Authorization header."}},
        ),
        ("Token abc", NOT_AUTHENTICATED),
    ],
)
def test_the_profile_needs_a_valid_bearer_token(api_client, player, header, body):
    # given
    if header is not None:
        api_client.credentials(HTTP_AUTHORIZATION=header)

    # when
    response = api_client.get(PROFILE_URL)

    # then
    assert response.status_code == 401
    assert response.json() == body


def test_a_staff_session_cannot_use_the_player_endpoints(
    make_staff, brand, player, staff_session_client, row_of
):
    # given: a working staff session (it does open the staff API)
    client = staff_session_client(make_staff("Support agent", brands=[brand]))
    assert client.get(STAFF_PLAYERS_URL).status_code == 200
    before = row_of(player)

    # when
    profile = client.get(PROFILE_URL)
    patch = client.patch(PROFILE_URL, {"city": "Leeds"}, format="json")
    logout = client.post(LOGOUT_URL)

    # then
    for response in (profile, patch, logout):
        assert response.status_code == 401
        assert response.json() == NOT_AUTHENTICATED
    assert row_of(player) == before


def test_a_player_token_cannot_use_the_staff_endpoints(player, token_for, player_client, events, row_of):
    # given
    client = player_client(token_for(player))
    before = row_of(player)
    events.mark()

    # when
    responses = [
        client.get(STAFF_PLAYERS_URL),
        client.get(f"{STAFF_PLAYERS_URL}{player.pk}/"),
        client.get(STAFF_BRANDS_URL),
        client.post(f"{STAFF_PLAYERS_URL}{player.pk}/status/", {"transition": "close", "reason": "me"}),
    ]

    # then: without a staff session there is no staff user (403: session auth has no challenge)
    for response in responses:
        assert response.status_code == 403
        assert response.json() == NOT_AUTHENTICATED
    assert row_of(player) == before
    assert events.new() == []
