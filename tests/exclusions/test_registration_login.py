"""Registration and login ask the register the brand's pack names, over real HTTP to the
fake GAMSTOP (GB) and Spelpaus (SE); every check is stored and published; errors fail closed."""

import json
import time
from urllib.parse import parse_qs

import pytest

from apps.core.models import Event
from apps.exclusions.models import RegisterCheck
from apps.players.models import Player, PlayerToken
from tests.factories import PLAYER_PASSWORD, PlayerFactory

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/v1/player/register"
LOGIN_URL = "/api/v1/player/login"
UNAVAILABLE = "register_unavailable"


def gb_payload(brand, **changes) -> dict:
    return {
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
        **changes,
    }


def se_payload(brand, **changes) -> dict:
    return {
        "brand": brand.code,
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
        "national_id": "811218-9876",
        **changes,
    }


def login(client, player, password=PLAYER_PASSWORD, **headers):
    return client.post(
        LOGIN_URL,
        {"brand": player.brand.code, "login": player.username, "password": password},
        format="json",
        **headers,
    )


def event_types() -> list[str]:
    return list(Event.objects.order_by("id").values_list("type", flat=True))


def form_of(request) -> dict:
    return {name: values[-1] for name, values in parse_qs(request[2].decode()).items()}


# --- GAMSTOP at registration -------------------------------------------------------------------


def test_gamstop_y_refuses_registration_and_the_check_is_stored(
    api_client, brand, gamstop_config, fake_gamstop
):
    # given
    fake_gamstop.excluded = {"alice.smith@example.com": "Y"}

    # when
    response = api_client.post(REGISTER_URL, gb_payload(brand), format="json")

    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "register_excluded"
    assert not Player.objects.filter(brand=brand).exists()
    check = RegisterCheck.objects.get()
    assert (check.register, check.purpose, check.outcome, check.answer, check.player_id) == (
        "gamstop",
        "registration",
        "excluded",
        "Y",
        None,
    )
    assert len(check.reference) == 36
    assert check.request == {
        "firstName": "Alice",
        "lastName": "Smith",
        "dateOfBirth": "1990-01-02",
        "email": "Alice.Smith@Example.com",
        "postcode": "SW1A2AA",
        "mobile": "07400123456",
        "trace_id": check.correlation_id,
    }
    assert "exclusions.register_checked" in event_types()
    sent = fake_gamstop.requests_to("/v2")
    assert len(sent) == 1
    assert form_of(sent[0])["postcode"] == "SW1A2AA"
    assert sent[0][1]["x-api-key"] == fake_gamstop.api_key


@pytest.mark.parametrize(("answer", "outcome"), [("N", "allowed"), ("P", "lapsed")])
def test_gamstop_n_and_p_let_the_registration_through(
    api_client, brand, gamstop_config, fake_gamstop, answer, outcome
):
    # given
    if answer == "P":
        fake_gamstop.excluded = {"alice.smith@example.com": "P"}

    # when
    response = api_client.post(REGISTER_URL, gb_payload(brand), format="json")

    # then
    assert response.status_code == 201
    check = RegisterCheck.objects.get()
    assert (check.outcome, check.answer, check.purpose) == (outcome, answer, "registration")
    assert Player.objects.get(brand=brand).status == "active"


# --- GAMSTOP at login ----------------------------------------------------------------------------


def test_gamstop_y_at_login_refuses_and_self_excludes_the_player(
    api_client, brand, gamstop_config, fake_gamstop
):
    # given
    player = PlayerFactory(brand=brand, username="alice", email="alice@example.com")
    fake_gamstop.excluded = {"alice@example.com": "Y"}

    # when
    response = login(api_client, player)

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "register_excluded"
    player.refresh_from_db()
    assert player.status == "self_excluded"
    assert "GAMSTOP" in player.status_reason
    assert not PlayerToken.objects.filter(player=player).exists()
    check = RegisterCheck.objects.get()
    assert (check.player_id, check.purpose, check.outcome, check.actor) == (
        player.pk,
        "login",
        "excluded",
        f"player:{player.pk}",
    )
    types = event_types()
    assert types.count("exclusions.register_checked") == 1
    assert types.count("exclusions.player_excluded_by_register") == 1
    assert "players.status_changed" in types
    refused = Event.objects.get(type="players.login_refused")
    assert refused.payload["reason"] == "register_excluded"


@pytest.mark.parametrize(("answer", "outcome"), [("N", "allowed"), ("P", "lapsed")])
def test_gamstop_n_and_p_let_the_login_through(
    api_client, brand, gamstop_config, fake_gamstop, answer, outcome
):
    # given
    player = PlayerFactory(brand=brand, email="bob@example.com")
    if answer == "P":
        fake_gamstop.excluded = {"bob@example.com": "P"}

    # when
    response = login(api_client, player)

    # then
    assert response.status_code == 200
    check = RegisterCheck.objects.get()
    assert (check.player_id, check.purpose, check.outcome, check.answer) == (
        player.pk,
        "login",
        outcome,
        answer,
    )
    player.refresh_from_db()
    assert player.status == "active"


def test_the_trace_id_sent_to_gamstop_is_our_correlation_id(api_client, brand, gamstop_config, fake_gamstop):
    # given
    player = PlayerFactory(brand=brand)

    # when
    response = login(api_client, player, HTTP_X_CORRELATION_ID="trace-4711-abc")

    # then
    assert response.status_code == 200
    assert response["X-Correlation-ID"] == "trace-4711-abc"
    (request,) = fake_gamstop.requests_to("/v2")
    assert request[1]["x-trace-id"] == "trace-4711-abc"
    assert RegisterCheck.objects.get().correlation_id == "trace-4711-abc"


# --- Spelpaus ------------------------------------------------------------------------------------


def test_spelpaus_blocked_refuses_registration(api_client, other_brand, spelpaus_config, fake_spelpaus):
    # given
    fake_spelpaus.blocked = {"198112189876"}

    # when
    response = api_client.post(REGISTER_URL, se_payload(other_brand), format="json")

    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "register_excluded"
    assert not Player.objects.filter(brand=other_brand).exists()
    check = RegisterCheck.objects.get()
    assert (check.register, check.purpose, check.outcome, check.answer) == (
        "spelpaus",
        "registration",
        "excluded",
        "true",
    )
    (request,) = fake_spelpaus.requests_to("/blocking-info/")
    body = json.loads(request[2])
    assert body == {"requestId": check.request["requestId"], "subjectId": "198112189876"}
    assert request[1]["authorization"] == fake_spelpaus.api_key


def test_spelpaus_allowed_registration_and_login(api_client, other_brand, spelpaus_config, fake_spelpaus):
    # when
    registered = api_client.post(REGISTER_URL, se_payload(other_brand), format="json")
    player = Player.objects.get(brand=other_brand)
    logged_in = login(api_client, player, password="correct-horse-battery")

    # then
    assert (registered.status_code, logged_in.status_code) == (201, 200)
    outcomes = list(RegisterCheck.objects.order_by("id").values_list("purpose", "outcome", "answer"))
    assert outcomes == [("registration", "allowed", "false"), ("login", "allowed", "false")]


def test_spelpaus_blocked_at_login_refuses_and_self_excludes(
    api_client, other_brand, spelpaus_config, fake_spelpaus
):
    # given
    player = PlayerFactory(brand=other_brand, national_id="19811218-9876")
    fake_spelpaus.blocked = {"198112189876"}

    # when
    response = login(api_client, player)

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "register_excluded"
    player.refresh_from_db()
    assert player.status == "self_excluded"
    assert RegisterCheck.objects.get().outcome == "excluded"


# --- failing closed ------------------------------------------------------------------------------


def _assert_failed_closed(response, player, error_part: str) -> RegisterCheck:
    assert response.status_code == 403
    assert response.json()["error"]["code"] == UNAVAILABLE
    player.refresh_from_db()
    assert player.status == "active"
    assert not PlayerToken.objects.filter(player=player).exists()
    check = RegisterCheck.objects.get()
    assert (check.outcome, check.purpose, check.player_id) == ("error", "login", player.pk)
    assert error_part in check.error
    assert Event.objects.get(type="players.login_refused").payload["reason"] == UNAVAILABLE
    return check


def test_a_500_fails_the_login_closed_after_the_retries(api_client, brand, gamstop_config, fake_gamstop):
    # given
    player = PlayerFactory(brand=brand)
    fake_gamstop.fail_next(status=500, times=3)

    # when
    response = login(api_client, player)

    # then
    _assert_failed_closed(response, player, "HTTP 500")
    assert len(fake_gamstop.requests_to("/v2")) == 3


def test_a_timeout_fails_the_login_closed(api_client, brand, gamstop_config, fake_gamstop, settings):
    # given
    settings.EXCLUSIONS_RETRIES = 1
    gamstop_config.timeout_seconds = 0.3
    gamstop_config.save()
    fake_gamstop.delay_seconds = 1.0
    player = PlayerFactory(brand=brand)

    # when
    started = time.monotonic()
    response = login(api_client, player)
    elapsed = time.monotonic() - started

    # then
    _assert_failed_closed(response, player, "no answer within 0.3s")
    assert elapsed < 0.9


def test_a_malformed_answer_is_not_read_as_not_excluded(api_client, brand, gamstop_config, fake_gamstop):
    # given: HTTP 200 without X-Exclusion
    player = PlayerFactory(brand=brand)
    fake_gamstop.malformed_next()

    # when
    response = login(api_client, player)

    # then: not retried, failed closed
    _assert_failed_closed(response, player, "X-Exclusion is ''")
    assert len(fake_gamstop.requests_to("/v2")) == 1


def test_a_malformed_spelpaus_answer_fails_closed(api_client, other_brand, spelpaus_config, fake_spelpaus):
    # given: isBlocked is "maybe"
    player = PlayerFactory(brand=other_brand, national_id="19811218-9876")
    fake_spelpaus.malformed_next()

    # when
    response = login(api_client, player)

    # then
    _assert_failed_closed(response, player, "malformed answer")


def test_a_refused_key_fails_closed_without_retrying(api_client, brand, gamstop_config, fake_gamstop):
    # given
    gamstop_config.api_key = "not-the-key"
    gamstop_config.save()
    player = PlayerFactory(brand=brand)

    # when
    response = login(api_client, player)

    # then
    _assert_failed_closed(response, player, "HTTP 403")
    assert len(fake_gamstop.requests_to("/v2")) == 1


def test_a_429_is_backed_off_as_retry_after_says_then_succeeds(
    api_client, brand, gamstop_config, fake_gamstop
):
    # given
    player = PlayerFactory(brand=brand)
    fake_gamstop.fail_next(status=429, times=1, retry_after=0.4)

    # when
    started = time.monotonic()
    response = login(api_client, player)
    elapsed = time.monotonic() - started

    # then
    assert response.status_code == 200
    assert len(fake_gamstop.requests_to("/v2")) == 2
    assert elapsed >= 0.4
    check = RegisterCheck.objects.get()
    assert (check.outcome, check.answer) == ("allowed", "N")
    assert check.latency_ms >= 400


def test_429s_without_retry_after_back_off_exponentially(
    api_client, brand, gamstop_config, fake_gamstop, settings
):
    # given: 0.2 s, then 0.4 s
    settings.EXCLUSIONS_BACKOFF_SECONDS = 0.2
    player = PlayerFactory(brand=brand)
    fake_gamstop.fail_next(status=429, times=2)

    # when
    started = time.monotonic()
    response = login(api_client, player)
    elapsed = time.monotonic() - started

    # then
    assert response.status_code == 200
    assert len(fake_gamstop.requests_to("/v2")) == 3
    assert 0.6 <= elapsed < 2.0


def test_the_breaker_opens_after_repeated_failures_and_fails_fast(
    api_client, brand, gamstop_config, fake_gamstop
):
    # given: three logins fail (three attempts each): the breaker opens
    players = PlayerFactory.create_batch(4, brand=brand)
    fake_gamstop.fail_next(status=500, times=100)
    for player in players[:3]:
        assert login(api_client, player).json()["error"]["code"] == UNAVAILABLE
    assert len(fake_gamstop.requests_to("/v2")) == 9

    # when
    started = time.monotonic()
    response = login(api_client, players[3])

    # then: refused without asking GAMSTOP
    assert time.monotonic() - started < 0.5
    assert response.json()["error"]["code"] == UNAVAILABLE
    assert len(fake_gamstop.requests_to("/v2")) == 9
    last = RegisterCheck.objects.filter(player=players[3]).get()
    assert (last.outcome, "circuit open" in last.error) == ("error", True)


def test_an_unconfigured_register_fails_closed(api_client, brand, settings, fake_gamstop):
    # given: brand A's pack names GAMSTOP, but no configuration exists
    settings.EXCLUSIONS_UNCONFIGURED = "refuse"
    player = PlayerFactory(brand=brand)

    # when
    response = login(api_client, player)
    registration = api_client.post(REGISTER_URL, gb_payload(brand), format="json")

    # then
    assert response.json()["error"]["code"] == UNAVAILABLE
    assert registration.json()["error"]["code"] == UNAVAILABLE
    errors = list(RegisterCheck.objects.order_by("id").values_list("purpose", "outcome", "error"))
    assert errors == [
        ("login", "error", "The gamstop register is not configured for this brand."),
        ("registration", "error", "The gamstop register is not configured for this brand."),
    ]
    assert fake_gamstop.requests == []


def test_a_person_gamstop_cannot_be_asked_about_fails_closed(api_client, brand, gamstop_config, fake_gamstop):
    # given: a first name longer than GAMSTOP's 20 characters is not truncated
    player = PlayerFactory(brand=brand, first_name="Maximilianalexandros-Johannes")

    # when
    response = login(api_client, player)

    # then
    _assert_failed_closed(response, player, "firstName must be 2 to 20 characters")
    assert fake_gamstop.requests == []
