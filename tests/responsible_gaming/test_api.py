"""The player and staff responsible-gaming APIs: view, change, cancel; clear 4xx on bad input."""

import pytest
from rest_framework.test import APIClient

from apps.players import services as player_services
from apps.players.models import Player
from apps.responsible_gaming.models import Exclusion, Limit, LimitChange
from tests.factories import PLAYER_PASSWORD
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db

BASE = "/api/v1/player/responsible-gaming"


@pytest.fixture
def as_player(gb_player):
    _, key, _ = player_services.player_login(
        brand_code=gb_player.brand.code, login=gb_player.username, password=PLAYER_PASSWORD
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_the_player_lowers_raises_and_cancels_a_limit(as_player, gb_player):
    lowered = as_player.post(
        f"{BASE}/limits", {"kind": "deposit", "period": "day", "amount": 5000}, format="json"
    )
    raised = as_player.post(
        f"{BASE}/limits", {"kind": "deposit", "period": "day", "amount": 9000}, format="json"
    )

    assert (lowered.status_code, lowered.json()["status"]) == (200, "applied")
    assert (raised.status_code, raised.json()["status"]) == (200, "pending")
    overview = as_player.get(BASE).json()
    assert [(limit["kind"], limit["period"], limit["amount"]) for limit in overview["limits"]] == [
        ("deposit", "day", 5000)
    ]
    assert [change["new_amount"] for change in overview["pending"]] == [9000]

    cancelled = as_player.post(f"{BASE}/limits/pending/{raised.json()['id']}/cancel", {}, format="json")

    assert cancelled.json()["status"] == "cancelled"
    assert as_player.get(BASE).json()["pending"] == []


def test_the_player_takes_a_time_out_and_can_no_longer_log_in(as_player, gb_player):
    response = as_player.post(f"{BASE}/time-out", {"hours": 48}, format="json")

    assert response.status_code == 201
    assert response.json()["kind"] == "timeout"
    login = APIClient().post(
        "/api/v1/player/login",
        {"brand": gb_player.brand.code, "login": gb_player.username, "password": PLAYER_PASSWORD},
        format="json",
    )
    assert (login.status_code, login.json()["error"]["code"]) == (403, "timed_out")


def test_the_player_self_excludes_from_every_brand(as_player, gb_player, de_brand):
    from tests.factories import PlayerFactory

    other = PlayerFactory(brand=de_brand, email=gb_player.email, date_of_birth=gb_player.date_of_birth)

    response = as_player.post(f"{BASE}/self-exclusion", {"months": None, "all_brands": True}, format="json")

    assert response.status_code == 201
    assert set(Exclusion.objects.values_list("player_id", "scope")) == {
        (gb_player.pk, "operator"),
        (other.pk, "operator"),
    }


def test_the_player_closes_their_account(as_player, gb_player):
    response = as_player.post(f"{BASE}/close-account", {"reason": "I want to stop"}, format="json")

    assert response.status_code == 204
    assert Player.objects.get(pk=gb_player.pk).status == "closed"


def test_the_reality_check_interval(as_player):
    response = as_player.put(f"{BASE}/reality-check", {"minutes": 30}, format="json")

    assert (response.status_code, response.json()["reality_check_minutes"]) == (200, 30)


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("limits", {"kind": "deposit", "period": "day", "amount": -5}, "invalid"),
        ("limits", {"kind": "deposit", "period": "day", "amount": "lots"}, "invalid"),
        ("limits", {"kind": "deposit", "period": "day", "amount": 10**30}, "invalid"),
        ("limits", {"kind": "wishes", "period": "day", "amount": 5}, "invalid"),
        ("limits", {"kind": "session", "period": "day", "amount": 5}, "invalid_period"),
        ("limits", {"kind": "deposit"}, "invalid"),
        ("limits", ["not", "an", "object"], "invalid"),
        ("limits/pending/999999999/cancel", {}, "not_found"),
        ("limits/pending/99999999999999999999999999/cancel", {}, "not_found"),
        ("time-out", {"hours": 1}, "invalid_duration"),
        ("time-out", {"hours": "soon"}, "invalid"),
        ("time-out", {}, "invalid"),
        ("self-exclusion", {"months": 2}, "invalid_duration"),
        ("self-exclusion", {"months": 0}, "invalid"),
        ("self-exclusion", {"all_brands": "maybe"}, "invalid"),
        ("reality-check", {"minutes": 1}, "invalid"),
        ("close-account", {"reason": "x" * 501}, "invalid"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(as_player, gb_player, path, body, code):
    method = as_player.put if path == "reality-check" else as_player.post

    response = method(f"{BASE}/{path}", body, format="json")

    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]["code"] == code
    assert not Limit.objects.exists() and not Exclusion.objects.exists() and not LimitChange.objects.exists()
    assert Player.objects.get(pk=gb_player.pk).status == "active"


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b'{"kind": {"$gt": 1}}', b"\xff\xfe"])
def test_malformed_bodies_are_a_clear_4xx(as_player, raw):
    response = as_player.generic("POST", f"{BASE}/limits", raw, content_type="application/json")

    assert 400 <= response.status_code < 500


def test_the_api_needs_a_player_token(gb_player):
    assert APIClient().get(BASE).status_code == 401


# --- staff -----------------------------------------------------------------------------------


def _staff(user, *, reauthenticated: bool = False) -> APIClient:
    client = APIClient()
    staff_login(client, user, reauthenticated=reauthenticated)
    return client


def test_staff_set_a_limit_with_a_reason(gb_player, make_staff):
    officer = make_staff("Compliance officer", brands=[gb_player.brand])
    url = f"/api/v1/staff/responsible-gaming/players/{gb_player.pk}/"

    missing_reason = _staff(officer, reauthenticated=True).post(
        f"{url}limits/", {"kind": "loss", "period": "week", "amount": 100}, format="json"
    )
    done = _staff(officer, reauthenticated=True).post(
        f"{url}limits/",
        {"kind": "loss", "period": "week", "amount": 100, "reason": "affordability"},
        format="json",
    )

    assert (missing_reason.status_code, missing_reason.json()["error"]["code"]) == (400, "reason_required")
    assert (done.status_code, done.json()["status"]) == (200, "applied")
    assert _staff(officer, reauthenticated=True).get(url).json()["limits"][0]["amount"] == 100


@pytest.mark.parametrize(
    "path, body",
    [
        ("limits/", {"kind": "loss", "period": "week", "amount": "x", "reason": "r"}),
        ("limits/", {"kind": "loss", "period": "fortnight", "amount": 1, "reason": "r"}),
        ("time-out/", {"hours": 10**40, "reason": "r"}),
        ("self-exclusion/", {"months": -1, "reason": "r"}),
        ("self-exclusion/", {"months": 6}),
        ("limits/pending/123456789012345678/cancel/", {"reason": "r"}),
        ("limits/pending/1234567890123456789012/cancel/", {"reason": "r"}),
    ],
)
def test_staff_bad_input_is_a_clear_4xx(gb_player, make_staff, path, body):
    officer = make_staff("Compliance officer", brands=[gb_player.brand])

    response = _staff(officer).post(
        f"/api/v1/staff/responsible-gaming/players/{gb_player.pk}/{path}", body, format="json"
    )

    assert 400 <= response.status_code < 500, response.content
    assert not Limit.objects.exists() and not Exclusion.objects.exists()


def test_staff_permission_matrix(gb_player, make_staff, other_brand):
    url = f"/api/v1/staff/responsible-gaming/players/{gb_player.pk}/time-out/"
    body = {"hours": 24, "reason": "asked by phone"}
    agent = make_staff("Support agent", brands=[gb_player.brand])
    stranger = make_staff("Compliance officer", brands=[other_brand])
    officer = make_staff("Compliance officer", brands=[gb_player.brand])

    assert _staff(agent).post(url, body, format="json").status_code == 403
    assert _staff(stranger).post(url, body, format="json").status_code == 404
    assert not Exclusion.objects.exists()
    assert _staff(officer).post(url, body, format="json").status_code == 201
    assert Exclusion.objects.get().requested_by == f"staff:{officer.pk}"
