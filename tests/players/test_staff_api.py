"""Staff API reads: brand isolation, filters, personal-data masking and cursor pagination."""

from urllib.parse import parse_qs, urlparse

import pytest

from apps.players.models import PERSONAL_DATA_FIELDS
from tests.factories import PlayerFactory

STAFF_PLAYERS_URL = "/api/v1/staff/players/"
STAFF_BRANDS_URL = "/api/v1/staff/brands/"
NOT_FOUND = {"error": {"code": "not_found", "message": "Not found."}}

pytestmark = pytest.mark.django_db


@pytest.fixture
def suspended_player(brand):
    """Bob, a suspended player of brand A."""
    return PlayerFactory(brand=brand, username="bob", status="suspended")


@pytest.fixture
def support(make_staff, brand):
    return make_staff("Support agent", brands=[brand])


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_player_list_holds_only_the_staff_members_brands(
    player, suspended_player, other_player, support, staff_client
):
    # when
    response = staff_client(support).get(STAFF_PLAYERS_URL)

    # then
    assert response.status_code == 200
    assert ids(response) == [suspended_player.pk, player.pk]
    assert {row["brand"] for row in response.json()["results"]} == {"brand-a"}


def test_brand_list_holds_only_the_staff_members_brands(brand, other_brand, support, staff_client):
    # when
    response = staff_client(support).get(STAFF_BRANDS_URL)

    # then
    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": brand.pk,
                "code": "brand-a",
                "name": brand.name,
                "operator": "northstar",
                "jurisdiction": "GB",
                "currencies": ["GBP"],
                "default_currency": "GBP",
                "active": True,
            }
        ],
    }


def test_another_brands_brand_is_not_found(brand, other_brand, support, staff_client):
    # when
    own = staff_client(support).get(f"{STAFF_BRANDS_URL}{brand.pk}/")
    other = staff_client(support).get(f"{STAFF_BRANDS_URL}{other_brand.pk}/")

    # then
    assert own.status_code == 200
    assert other.status_code == 404
    assert other.json() == NOT_FOUND


def test_another_brands_player_is_not_found_like_a_missing_one(player, other_player, support, staff_client):
    # when
    own = staff_client(support).get(f"{STAFF_PLAYERS_URL}{player.pk}/")
    other = staff_client(support).get(f"{STAFF_PLAYERS_URL}{other_player.pk}/")
    missing = staff_client(support).get(f"{STAFF_PLAYERS_URL}{other_player.pk + 1000}/")

    # then
    assert own.status_code == 200
    assert own.json()["id"] == player.pk
    for response in (other, missing):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


@pytest.mark.parametrize("player_id", ["abc", "99999999999999999999999", "-1", "1.5"])
def test_a_malformed_player_id_is_not_found(player, support, staff_client, player_id):
    # when
    response = staff_client(support).get(f"{STAFF_PLAYERS_URL}{player_id}/")

    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_filtering_by_another_brand_answers_exactly_like_an_unknown_brand(
    player, other_player, support, staff_client
):
    # when
    other_brand = staff_client(support).get(STAFF_PLAYERS_URL, {"brand": "brand-b"})
    no_such_brand = staff_client(support).get(STAFF_PLAYERS_URL, {"brand": "no-such-brand"})

    # then
    assert other_brand.status_code == no_such_brand.status_code == 400
    assert other_brand.json() == no_such_brand.json()
    assert other_brand.json() == {
        "error": {
            "code": "invalid",
            "message": "The request is not valid.",
            "fields": {"brand": ["Select a valid choice. That choice is not one of the available choices."]},
        }
    }


def test_filtering_by_brand_narrows_to_that_brand(
    make_staff, brand, other_brand, player, other_player, staff_client
):
    # given
    both = make_staff("Support agent", brands=[brand, other_brand])

    # when
    only_b = staff_client(both).get(STAFF_PLAYERS_URL, {"brand": "brand-b"})
    everything = staff_client(both).get(STAFF_PLAYERS_URL)

    # then
    assert ids(only_b) == [other_player.pk]
    assert ids(everything) == [other_player.pk, player.pk]


def test_filtering_by_status(player, suspended_player, support, staff_client):
    # when
    suspended = staff_client(support).get(STAFF_PLAYERS_URL, {"status": "suspended"})
    active = staff_client(support).get(STAFF_PLAYERS_URL, {"status": "active"})
    closed = staff_client(support).get(STAFF_PLAYERS_URL, {"status": "closed"})

    # then
    assert ids(suspended) == [suspended_player.pk]
    assert ids(active) == [player.pk]
    assert ids(closed) == []


def test_filtering_by_an_unknown_status_is_400(player, support, staff_client):
    # when
    response = staff_client(support).get(STAFF_PLAYERS_URL, {"status": "deleted"})

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "The request is not valid.",
            "fields": {"status": ["Select a valid choice. deleted is not one of the available choices."]},
        }
    }


def test_filtering_by_username_ignores_letter_case_and_other_brands(
    player, other_player, support, staff_client
):
    # when
    alice = staff_client(support).get(STAFF_PLAYERS_URL, {"username": "ALICE"})
    bjorn = staff_client(support).get(STAFF_PLAYERS_URL, {"username": "bjorn"})

    # then
    assert ids(alice) == [player.pk]
    assert ids(bjorn) == []


def test_payments_reviewer_sees_personal_data_masked(make_staff, brand, player, staff_client):
    # given
    reviewer = make_staff("Payments reviewer", brands=[brand])

    # when
    listed = staff_client(reviewer).get(STAFF_PLAYERS_URL)
    detail = staff_client(reviewer).get(f"{STAFF_PLAYERS_URL}{player.pk}/")

    # then
    for row in (listed.json()["results"][0], detail.json()):
        assert {name: row[name] for name in PERSONAL_DATA_FIELDS} == dict.fromkeys(
            PERSONAL_DATA_FIELDS, "•••"
        )
        assert row["personal_data_masked"] is True
        assert (row["id"], row["username"], row["status"], row["brand"]) == (
            player.pk,
            "alice",
            "active",
            "brand-a",
        )


def test_support_agent_sees_personal_data(player, support, staff_client):
    # when
    listed = staff_client(support).get(STAFF_PLAYERS_URL)
    detail = staff_client(support).get(f"{STAFF_PLAYERS_URL}{player.pk}/")

    # then
    for row in (listed.json()["results"][0], detail.json()):
        assert {name: row[name] for name in PERSONAL_DATA_FIELDS} == {
            "email": "Alice@Example.com",
            "first_name": "Alice",
            "last_name": player.last_name,
            "date_of_birth": "1990-05-17",
            "address_line": "1 High Street",
            "city": "London",
            "postcode": "SW1A 2AA",
            "mobile": player.mobile,
            "national_id": "QQ123456C",
        }
        assert row["personal_data_masked"] is False


def test_an_empty_personal_field_stays_empty_when_masked(make_staff, brand, staff_client):
    # given
    player = PlayerFactory(brand=brand, national_id="")
    reviewer = make_staff("Payments reviewer", brands=[brand])

    # when
    row = staff_client(reviewer).get(f"{STAFF_PLAYERS_URL}{player.pk}/").json()

    # then
    assert (row["national_id"], row["email"]) == ("", "•••")


def test_player_list_is_cursor_paginated_without_a_count(brand, support, staff_client):
    # given
    players = [PlayerFactory(brand=brand) for _ in range(5)]
    newest_first = [p.pk for p in reversed(players)]
    client = staff_client(support)

    # when
    pages = []
    response = client.get(STAFF_PLAYERS_URL, {"page_size": 2})
    while True:
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        pages.append([row["id"] for row in body["results"]])
        if body["next"] is None:
            break
        assert "cursor" in parse_qs(urlparse(body["next"]).query)
        response = client.get(body["next"])

    # then
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]


def test_a_forged_cursor_is_not_a_server_error(player, support, staff_client):
    # when
    response = staff_client(support).get(STAFF_PLAYERS_URL, {"cursor": "not-a-cursor"})

    # then
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Invalid cursor"}}


@pytest.mark.parametrize("url", [STAFF_PLAYERS_URL, STAFF_BRANDS_URL])
def test_staff_endpoints_need_a_staff_user(api_client, player, url):
    # when
    response = api_client.get(url)

    # then
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }


def test_a_staff_user_without_any_brand_sees_no_players(make_staff, player, staff_client):
    # given
    nowhere = make_staff("Support agent")

    # when
    response = staff_client(nowhere).get(STAFF_PLAYERS_URL)

    # then
    assert response.status_code == 200
    assert response.json()["results"] == []
