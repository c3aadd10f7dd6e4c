"""Registration through the player API: POST /api/v1/player/register."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.players.models import Player

REGISTER_URL = "/api/v1/player/register"
ALREADY_REGISTERED = {
    "error": {
        "code": "already_registered",
        "message": "A player with this username, email or national id already exists on this brand.",
    }
}

pytestmark = pytest.mark.django_db


def invalid(fields: dict) -> dict:
    return {"error": {"code": "invalid", "message": "The request is not valid.", "fields": fields}}


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def test_register_creates_the_player_and_publishes_player_registered(
    api_client, brand, register_payload, events
):
    # given
    payload = register_payload()

    # when
    response = api_client.post(REGISTER_URL, payload, format="json")

    # then
    assert response.status_code == 201
    player = Player.objects.get()
    body = response.json()
    assert parse_datetime(body.pop("registered_at")) == player.registered_at
    assert body == {
        "id": player.pk,
        "brand": "brand-a",
        "username": "alice_smith",
        "email": "Alice.Smith@Example.com",
        "first_name": "Alice",
        "last_name": "Smith",
        "date_of_birth": "1990-01-02",
        "country": "GB",
        "address_line": "1 High Street",
        "city": "London",
        "postcode": "SW1A 2AA",
        "mobile": "+447400123456",
        "currency": "GBP",
        "status": "active",
        "kyc_status": "not_started",
        "marketing_opt_in": False,
    }
    assert player.brand == brand
    assert player.currency_id == "GBP"
    [event] = events.new()
    assert event.type == "players.player_registered"
    assert (event.brand_id, event.player_id) == (brand.pk, player.pk)
    assert event.payload == {"player_id": player.pk, "brand_id": brand.pk, "country": "GB", "currency": "GBP"}
    assert event.actor == f"player:{player.pk}"


def test_register_stores_only_a_hash_of_the_password(api_client, register_payload):
    # given
    payload = register_payload()

    # when
    response = api_client.post(REGISTER_URL, payload, format="json")

    # then
    assert response.status_code == 201
    assert "password" not in response.json()
    player = Player.objects.get()
    assert player.password != payload["password"]
    assert payload["password"] not in player.password
    identify_hasher(player.password)  # a hash Django recognises, not the raw value
    assert player.check_password(payload["password"])
    assert not player.check_password("wrong-password-123")


@pytest.mark.parametrize("mobile", ["07400 123456", "+44 7400 123456", "0044 (0)7400-123456", "7400123456"])
def test_register_normalises_the_mobile_to_e164(api_client, register_payload, mobile):
    # when
    response = api_client.post(REGISTER_URL, register_payload(mobile=mobile), format="json")

    # then
    assert response.status_code == 201
    assert response.json()["mobile"] == "+447400123456"
    assert Player.objects.get().mobile == "+447400123456"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"username": "ALICE_SMITH"}, id="username-upper"),
        pytest.param({"username": "Alice_Smith"}, id="username-mixed"),
        pytest.param({"email": "ALICE.SMITH@EXAMPLE.COM"}, id="email-upper"),
        pytest.param({"email": "alice.smith@example.com"}, id="email-lower"),
    ],
)
def test_register_refuses_a_username_or_email_taken_on_the_brand_in_any_letter_case(
    api_client, register_payload, events, changes
):
    # given
    assert api_client.post(REGISTER_URL, register_payload(), format="json").status_code == 201
    first = Player.objects.get()
    second = {"username": "someone_else", "email": "someone@example.com", **changes}
    events.mark()

    # when
    response = api_client.post(REGISTER_URL, register_payload(**second), format="json")

    # then
    assert response.status_code == 409
    assert response.json() == ALREADY_REGISTERED
    assert list(Player.objects.values_list("pk", flat=True)) == [first.pk]
    assert events.new() == []


def test_register_allows_the_same_username_and_email_on_another_brand(
    api_client, brand, other_brand, register_payload, se_register_payload
):
    # given
    assert api_client.post(REGISTER_URL, register_payload(), format="json").status_code == 201

    # when
    response = api_client.post(
        REGISTER_URL,
        se_register_payload(username="alice_smith", email="Alice.Smith@Example.com"),
        format="json",
    )

    # then
    assert response.status_code == 201
    assert response.json()["brand"] == "brand-b"
    assert sorted(Player.objects.filter(username="alice_smith").values_list("brand__code", flat=True)) == [
        "brand-a",
        "brand-b",
    ]


def test_register_refuses_someone_under_the_minimum_age(api_client, register_payload, events):
    # given: the 18th birthday is tomorrow
    born = years_before(timezone.localdate(), 18) + timedelta(days=1)

    # when
    response = api_client.post(REGISTER_URL, register_payload(date_of_birth=born.isoformat()), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "underage", "message": "Players must be at least 18 years old."}
    }
    assert not Player.objects.exists()
    assert events.new() == []


def test_register_accepts_someone_on_their_18th_birthday(api_client, register_payload):
    # given
    born = years_before(timezone.localdate(), 18)

    # when
    response = api_client.post(REGISTER_URL, register_payload(date_of_birth=born.isoformat()), format="json")

    # then
    assert response.status_code == 201
    assert Player.objects.get().date_of_birth == born


def test_register_on_a_swedish_brand_stores_the_personnummer_in_one_spelling(
    api_client, other_brand, se_register_payload
):
    # when
    response = api_client.post(REGISTER_URL, se_register_payload(), format="json")

    # then
    assert response.status_code == 201
    player = Player.objects.get()
    assert (player.brand, player.national_id, player.currency_id) == (other_brand, "19811218-9876", "SEK")
    assert player.mobile == "+46701234567"


def test_register_on_a_swedish_brand_requires_a_personnummer(api_client, se_register_payload, events):
    # given
    payload = se_register_payload()
    del payload["national_id"]

    # when
    response = api_client.post(REGISTER_URL, payload, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"national_id": ["Required in this jurisdiction."]})
    assert not Player.objects.exists()
    assert events.new() == []


@pytest.mark.parametrize(
    "national_id, message",
    [
        ("811218-9877", "Not a valid national id: The number's checksum or check digit is invalid."),
        ("811318-9876", "Not a valid national id: One of the parts of the number are invalid or unknown."),
        ("81121-9876", "Not a valid national id: The number has an invalid length."),
    ],
)
def test_register_on_a_swedish_brand_refuses_an_invalid_personnummer(
    api_client, se_register_payload, events, national_id, message
):
    # when
    response = api_client.post(REGISTER_URL, se_register_payload(national_id=national_id), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"national_id": [message]})
    assert not Player.objects.exists()
    assert events.new() == []


@pytest.mark.parametrize("spelling", ["811218-9876", "8112189876", "19811218-9876", "198112189876"])
def test_register_refuses_a_personnummer_already_registered_on_the_brand_in_any_spelling(
    api_client, se_register_payload, events, spelling
):
    # given
    assert api_client.post(REGISTER_URL, se_register_payload(), format="json").status_code == 201
    first = Player.objects.get()
    events.mark()

    # when
    response = api_client.post(
        REGISTER_URL,
        se_register_payload(
            username="other_person", email="other@example.se", mobile="070-765 43 21", national_id=spelling
        ),
        format="json",
    )

    # then
    assert response.status_code == 409
    assert response.json() == ALREADY_REGISTERED
    assert list(Player.objects.values_list("pk", flat=True)) == [first.pk]
    assert events.new() == []


@pytest.mark.parametrize(
    "mobile, message",
    [
        ("12345", "Not a valid phone number for the country."),
        ("+46 70 123 45 67 89", "Not a valid phone number for the country."),
        ("not a phone", "Not a phone number."),
    ],
)
def test_register_refuses_an_invalid_mobile(api_client, register_payload, events, mobile, message):
    # when
    response = api_client.post(REGISTER_URL, register_payload(mobile=mobile), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"mobile": [message]})
    assert not Player.objects.exists()
    assert events.new() == []


def test_register_refuses_an_unknown_brand(api_client, register_payload, events):
    # when
    response = api_client.post(REGISTER_URL, register_payload(brand="no-such-brand"), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"brand": ["Unknown brand."]})
    assert not Player.objects.exists()
    assert events.new() == []


def test_register_refuses_an_inactive_brand(api_client, brand, register_payload, events):
    # given
    brand.active = False
    brand.save(update_fields=["active"])

    # when
    response = api_client.post(REGISTER_URL, register_payload(), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "brand_inactive", "message": "This brand does not accept registrations."}
    }
    assert not Player.objects.exists()
    assert events.new() == []


@pytest.mark.parametrize("currency", ["EUR", "SEK", "XYZ"])
def test_register_refuses_a_currency_the_brand_does_not_offer(api_client, register_payload, events, currency):
    # when
    response = api_client.post(REGISTER_URL, register_payload(currency=currency), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"currency": [f"{currency} is not offered by this brand."]})
    assert not Player.objects.exists()
    assert events.new() == []


def test_register_accepts_any_currency_the_brand_offers(api_client, se_register_payload):
    # when
    response = api_client.post(REGISTER_URL, se_register_payload(currency="EUR"), format="json")

    # then
    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"
    assert Player.objects.get().currency_id == "EUR"


@pytest.mark.parametrize(
    "password, messages",
    [
        (
            "password",
            [
                "This password is too short. It must contain at least 10 characters.",
                "This password is too common.",
            ],
        ),
        ("8302751946", ["This password is entirely numeric."]),
        ("alice_smith", ["The password is too similar to the username."]),
        ("Alice.Smith@Example.com", ["The password is too similar to the email."]),
    ],
)
def test_register_refuses_a_weak_password(api_client, register_payload, events, password, messages):
    # when
    response = api_client.post(REGISTER_URL, register_payload(password=password), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"password": messages})
    assert not Player.objects.exists()
    assert events.new() == []


def test_register_names_every_missing_field(api_client, events):
    # when
    response = api_client.post(REGISTER_URL, {}, format="json")

    # then
    assert response.status_code == 400
    required_fields = (
        "brand",
        "username",
        "email",
        "password",
        "first_name",
        "last_name",
        "date_of_birth",
        "country",
        "address_line",
        "city",
        "postcode",
        "mobile",
    )
    assert response.json() == invalid(dict.fromkeys(required_fields, ["This field is required."]))
    assert not Player.objects.exists()
    assert events.new() == []


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"date_of_birth": "2024-02-30"}, {"date_of_birth"}),
        ({"email": "not-an-email"}, {"email"}),
        ({"username": "a b"}, {"username"}),
        ({"country": "XX"}, {"country"}),
        ({"first_name": None, "last_name": ""}, {"first_name", "last_name"}),
    ],
)
def test_register_names_the_invalid_fields(api_client, register_payload, events, changes, fields):
    # when
    response = api_client.post(REGISTER_URL, register_payload(**changes), format="json")

    # then
    assert response.status_code == 400
    body = response.json()
    assert (body["error"]["code"], body["error"]["message"]) == ("invalid", "The request is not valid.")
    assert set(body["error"]["fields"]) == fields
    assert not Player.objects.exists()
    assert events.new() == []
