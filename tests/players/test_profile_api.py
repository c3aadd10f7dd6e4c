"""A player reads and changes their own profile: GET/PATCH /api/v1/player/profile."""

import pytest

PROFILE_URL = "/api/v1/player/profile"

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(player, token_for, player_client, events):
    client = player_client(token_for(player))
    events.mark()  # the login's own event is not what these tests are about
    return client


def test_get_profile_shows_the_player_their_own_data_unmasked(alice_client, player):
    # when
    response = alice_client.get(PROFILE_URL)

    # then
    assert response.status_code == 200
    body = response.json()
    body.pop("registered_at")
    assert body == {
        "id": player.pk,
        "brand": "brand-a",
        "username": "alice",
        "email": "Alice@Example.com",
        "first_name": "Alice",
        "last_name": player.last_name,
        "date_of_birth": "1990-05-17",
        "country": "GB",
        "address_line": "1 High Street",
        "city": "London",
        "postcode": "SW1A 2AA",
        "mobile": player.mobile,
        "currency": "GBP",
        "status": "active",
        "kyc_status": "not_started",
        "marketing_opt_in": False,
    }


def test_patch_changes_the_contact_fields_and_publishes_profile_changed(alice_client, brand, player, events):
    # given
    changes = {
        "address_line": "2 Low Road",
        "city": "Leeds",
        "postcode": "LS1 1AA",
        "mobile": "07400 654321",
        "marketing_opt_in": True,
    }

    # when
    response = alice_client.patch(PROFILE_URL, changes, format="json")

    # then
    assert response.status_code == 200
    expected = {**changes, "mobile": "+447400654321"}
    assert {name: response.json()[name] for name in expected} == expected
    player.refresh_from_db()
    assert {name: getattr(player, name) for name in expected} == expected
    [event] = events.new()
    assert event.type == "players.profile_changed"
    assert (event.brand_id, event.player_id, event.actor) == (brand.pk, player.pk, f"player:{player.pk}")
    assert event.payload == {
        "player_id": player.pk,
        "brand_id": brand.pk,
        "fields": ["address_line", "city", "marketing_opt_in", "mobile", "postcode"],
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"first_name": "Mallory"},
        {"last_name": "Mallory"},
        {"date_of_birth": "2012-01-01"},
        {"status": "closed"},
        {"status_reason": "I said so"},
        {"kyc_status": "verified"},
        {"email": "mallory@example.com"},
        {"username": "mallory"},
        {"national_id": "AB000000A"},
        {"country": "SE"},
        {"brand": "brand-b"},
        {"currency": "EUR"},
        {"id": 999999},
        {"password": "a-new-password-123"},
        {"last_login_at": "2020-01-01T00:00:00Z"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_patch_ignores_fields_the_player_may_not_change(alice_client, player, events, row_of, changes):
    # given
    before = row_of(player)
    profile_before = alice_client.get(PROFILE_URL).json()

    # when
    response = alice_client.patch(PROFILE_URL, changes, format="json")

    # then: the serializer drops unknown keys; the answer is the unchanged profile
    assert response.status_code == 200
    assert response.json() == profile_before
    assert row_of(player) == before
    assert events.new() == []


def test_patch_changes_only_the_allowed_fields_of_a_mixed_request(alice_client, player, events, row_of):
    # given
    before = row_of(player)

    # when
    response = alice_client.patch(
        PROFILE_URL,
        {"city": "Leeds", "first_name": "Mallory", "date_of_birth": "2012-01-01", "status": "closed"},
        format="json",
    )

    # then
    assert response.status_code == 200
    assert (response.json()["city"], response.json()["first_name"]) == ("Leeds", "Alice")
    assert row_of(player) == {**before, "city": "Leeds"}
    [event] = events.new()
    assert event.payload["fields"] == ["city"]


def test_patch_with_the_current_values_changes_nothing_and_publishes_nothing(
    alice_client, player, events, row_of
):
    # given
    before = row_of(player)

    # when
    response = alice_client.patch(PROFILE_URL, {"city": player.city, "mobile": player.mobile}, format="json")

    # then
    assert response.status_code == 200
    assert row_of(player) == before
    assert events.new() == []


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"mobile": "12345"}, {"mobile": ["Not a valid phone number for the country."]}),
        ({"mobile": "not a phone"}, {"mobile": ["Not a phone number."]}),
        ({"city": ""}, {"city": ["This field may not be blank."]}),
        ({"city": None}, {"city": ["This field may not be null."]}),
        ({"postcode": "x" * 21}, {"postcode": ["Ensure this field has no more than 20 characters."]}),
        ({"marketing_opt_in": "perhaps"}, {"marketing_opt_in": ["Must be a valid boolean."]}),
    ],
)
def test_patch_refuses_invalid_values_and_changes_nothing(
    alice_client, player, events, row_of, changes, fields
):
    # given
    before = row_of(player)

    # when
    response = alice_client.patch(PROFILE_URL, {**changes, "address_line": "2 Low Road"}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid", "message": "The request is not valid.", "fields": fields}
    }
    assert row_of(player) == before
    assert events.new() == []


def test_patch_without_a_token_is_refused(api_client, player, row_of):
    # given
    before = row_of(player)

    # when
    response = api_client.patch(PROFILE_URL, {"city": "Leeds"}, format="json")

    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert row_of(player) == before


def test_put_is_not_a_profile_method(alice_client, player, row_of):
    # given
    before = row_of(player)

    # when
    response = alice_client.put(PROFILE_URL, {"city": "Leeds"}, format="json")

    # then
    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'}
    }
    assert row_of(player) == before
