"""Status changes: the service player_status_change and POST /api/v1/staff/players/<id>/status/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.players import services
from apps.players.exceptions import StatusChangeRefused
from apps.players.models import PlayerToken
from apps.tenants.exceptions import AccessDenied
from tests.factories import PlayerFactory

PROFILE_URL = "/api/v1/player/profile"

pytestmark = pytest.mark.django_db

LEGAL = [
    ("active", "suspend", "suspended"),
    ("suspended", "reactivate", "active"),
    ("active", "close", "closed"),
    ("suspended", "close", "closed"),
    ("active", "self_exclude", "self_excluded"),
    ("suspended", "self_exclude", "self_excluded"),
]
ILLEGAL = [
    ("active", "reactivate"),
    ("suspended", "suspend"),
    ("closed", "reactivate"),
    ("closed", "suspend"),
    ("closed", "close"),
    ("closed", "self_exclude"),
    ("self_excluded", "reactivate"),
    ("self_excluded", "suspend"),
    ("self_excluded", "close"),
    ("self_excluded", "self_exclude"),
]


def status_url(player) -> str:
    return f"/api/v1/staff/players/{player.pk}/status/"


@pytest.fixture
def compliance(make_staff, brand):
    """A compliance officer of brand A."""
    return make_staff("Compliance officer", brands=[brand])


def live_token(player) -> PlayerToken:
    """A token row as a login makes it (made directly: a stopped player cannot log in)."""
    return PlayerToken.objects.create(
        player=player,
        key_hash=PlayerToken.hash_key(PlayerToken.new_key()),
        expires_at=timezone.now() + timedelta(hours=1),
    )


# --- the service --------------------------------------------------------------------


@pytest.mark.parametrize("start, transition, end", LEGAL)
def test_service_applies_each_legal_transition_and_publishes_status_changed(
    brand, compliance, events, start, transition, end
):
    # given
    player = PlayerFactory(brand=brand, status=start)

    # when
    returned = services.player_status_change(
        actor=compliance, player=player, transition=transition, reason="  Case 42  "
    )

    # then
    player.refresh_from_db()
    assert (player.status, player.status_reason) == (end, "Case 42")
    assert (returned.status, returned.status_reason) == (end, "Case 42")
    [event] = events.new()
    assert event.type == "players.status_changed"
    assert (event.brand_id, event.player_id, event.actor) == (brand.pk, player.pk, f"staff:{compliance.pk}")
    assert event.payload == {
        "player_id": player.pk,
        "brand_id": brand.pk,
        "old_status": start,
        "new_status": end,
        "reason": "Case 42",
    }


@pytest.mark.parametrize("start, transition", ILLEGAL)
def test_service_refuses_an_illegal_transition_and_changes_nothing(
    brand, compliance, events, row_of, start, transition
):
    # given
    player = PlayerFactory(brand=brand, status=start, status_reason="earlier")
    token = live_token(player)
    before = row_of(player)

    # when
    with pytest.raises(StatusChangeRefused) as refused:
        services.player_status_change(
            actor=compliance, player=player, transition=transition, reason="Case 42"
        )

    # then
    assert refused.value.code == "illegal_transition"
    assert refused.value.message == (
        f"A {start.replace('_', '-')} player cannot be moved by {transition.replace('_', ' ')}."
    )
    assert row_of(player) == before
    assert player.status == start
    token.refresh_from_db()
    assert token.revoked_at is None
    assert events.new() == []


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_service_requires_a_reason(player, compliance, events, row_of, reason):
    # given
    before = row_of(player)

    # when
    with pytest.raises(StatusChangeRefused) as refused:
        services.player_status_change(actor=compliance, player=player, transition="suspend", reason=reason)

    # then
    assert (refused.value.code, refused.value.message) == ("reason_required", "A reason is required.")
    assert row_of(player) == before
    assert events.new() == []


def test_service_refuses_an_unknown_transition(player, compliance, events, row_of):
    # given
    before = row_of(player)

    # when
    with pytest.raises(StatusChangeRefused) as refused:
        services.player_status_change(actor=compliance, player=player, transition="delete", reason="Case 42")

    # then
    assert refused.value.code == "unknown_transition"
    assert row_of(player) == before
    assert events.new() == []


@pytest.mark.parametrize("transition", ["suspend", "close", "self_exclude"])
def test_stopping_a_player_revokes_all_their_tokens_and_no_one_elses(
    brand, player, compliance, token_for, player_client, transition
):
    # given
    phone, laptop = token_for(player), token_for(player)
    bystander = PlayerFactory(brand=brand)
    bystander_token = token_for(bystander)

    # when
    services.player_status_change(actor=compliance, player=player, transition=transition, reason="Case 42")

    # then
    assert list(PlayerToken.objects.filter(player=player, revoked_at__isnull=True)) == []
    assert PlayerToken.objects.filter(player=player).count() == 2
    for token in (phone, laptop):
        response = player_client(token).get(PROFILE_URL)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"
    assert player_client(bystander_token).get(PROFILE_URL).status_code == 200


def test_reactivating_revokes_nothing(brand, compliance):
    # given
    player = PlayerFactory(brand=brand, status="suspended")
    token = live_token(player)

    # when
    services.player_status_change(actor=compliance, player=player, transition="reactivate", reason="Cleared")

    # then
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize(
    "role, of_other_brand",
    [
        ("Support agent", False),
        ("Payments reviewer", False),
        ("Auditor", False),
        ("Compliance officer", True),
    ],
)
def test_service_refuses_staff_without_the_permission_on_the_players_brand(
    make_staff, brand, other_brand, player, events, row_of, role, of_other_brand
):
    # given
    actor = make_staff(role, brands=[other_brand if of_other_brand else brand])
    before = row_of(player)

    # when
    with pytest.raises(AccessDenied):
        services.player_status_change(actor=actor, player=player, transition="suspend", reason="Case 42")

    # then
    assert row_of(player) == before
    assert events.new() == []


# --- the staff API ------------------------------------------------------------------


def test_api_compliance_officer_of_the_brand_suspends_a_player(
    brand, player, compliance, staff_client, events
):
    # when
    response = staff_client(compliance).post(
        status_url(player), {"transition": "suspend", "reason": "AML review"}, format="json"
    )

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["personal_data_masked"]) == (player.pk, "suspended", False)
    player.refresh_from_db()
    assert (player.status, player.status_reason) == ("suspended", "AML review")
    [event] = events.new()
    assert event.type == "players.status_changed"
    assert event.payload == {
        "player_id": player.pk,
        "brand_id": brand.pk,
        "old_status": "active",
        "new_status": "suspended",
        "reason": "AML review",
    }
    assert event.actor == f"staff:{compliance.pk}"


def test_api_status_change_ends_the_players_sessions(
    player, compliance, staff_client, token_for, player_client
):
    # given
    client = player_client(token_for(player))
    assert client.get(PROFILE_URL).status_code == 200

    # when
    response = staff_client(compliance).post(
        status_url(player), {"transition": "close", "reason": "Asked to close"}, format="json"
    )

    # then
    assert response.status_code == 200
    assert client.get(PROFILE_URL).status_code == 401


@pytest.mark.parametrize(
    "role, which_brand, status, body",
    [
        pytest.param(
            "Support agent",
            "same",
            403,
            {
                "error": {
                    "code": "permission_denied",
                    "message": "You do not have permission to perform this action.",
                }
            },
            id="support-agent-same-brand",
        ),
        pytest.param(
            "Payments reviewer",
            "same",
            403,
            {
                "error": {
                    "code": "permission_denied",
                    "message": "You do not have permission to perform this action.",
                }
            },
            id="payments-reviewer-same-brand",
        ),
        pytest.param(
            "Auditor",
            "same",
            403,
            {
                "error": {
                    "code": "permission_denied",
                    "message": "You do not have permission to perform this action.",
                }
            },
            id="auditor-same-brand",
        ),
        pytest.param(
            "Compliance officer",
            "other",
            404,
            {"error": {"code": "not_found", "message": "Not found."}},
            id="compliance-officer-other-brand",
        ),
    ],
)
def test_api_status_change_is_refused_without_the_permission_on_the_players_brand(
    make_staff,
    brand,
    other_brand,
    player,
    staff_client,
    token_for,
    events,
    row_of,
    role,
    which_brand,
    status,
    body,
):
    # given
    actor = make_staff(role, brands=[brand if which_brand == "same" else other_brand])
    token = token_for(player)
    before = row_of(player)
    events.mark()

    # when
    response = staff_client(actor).post(
        status_url(player), {"transition": "suspend", "reason": "AML review"}, format="json"
    )

    # then
    assert response.status_code == status
    assert response.json() == body
    assert row_of(player) == before
    assert PlayerToken.objects.get(key_hash=PlayerToken.hash_key(token)).revoked_at is None
    assert events.new() == []


def test_api_unknown_player_id_is_not_found(compliance, staff_client, events):
    # when
    response = staff_client(compliance).post(
        "/api/v1/staff/players/999999/status/", {"transition": "suspend", "reason": "x"}, format="json"
    )

    # then
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert events.new() == []


@pytest.mark.parametrize(
    "start, transition, message",
    [
        ("closed", "reactivate", "A closed player cannot be moved by reactivate."),
        ("closed", "suspend", "A closed player cannot be moved by suspend."),
        ("self_excluded", "reactivate", "A self-excluded player cannot be moved by reactivate."),
        ("self_excluded", "close", "A self-excluded player cannot be moved by close."),
        ("self_excluded", "self_exclude", "A self-excluded player cannot be moved by self exclude."),
        ("active", "reactivate", "A active player cannot be moved by reactivate."),
    ],
)
def test_api_illegal_transition_is_400_and_changes_nothing(
    brand, compliance, staff_client, events, row_of, start, transition, message
):
    # given
    player = PlayerFactory(brand=brand, status=start, status_reason="earlier")
    before = row_of(player)

    # when
    response = staff_client(compliance).post(
        status_url(player), {"transition": transition, "reason": "Try anyway"}, format="json"
    )

    # then
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "illegal_transition", "message": message}}
    assert row_of(player) == before
    assert events.new() == []


@pytest.mark.parametrize(
    "data, fields",
    [
        ({"transition": "suspend"}, {"reason": ["This field is required."]}),
        ({"transition": "suspend", "reason": "   "}, {"reason": ["This field may not be blank."]}),
        ({"transition": "suspend", "reason": None}, {"reason": ["This field may not be null."]}),
        ({"transition": "delete", "reason": "x"}, {"transition": ['"delete" is not a valid choice.']}),
        ({"reason": "x"}, {"transition": ["This field is required."]}),
        (
            {"transition": "suspend", "reason": "x" * 501},
            {"reason": ["Ensure this field has no more than 500 characters."]},
        ),
    ],
)
def test_api_status_change_input_is_validated(player, compliance, staff_client, events, row_of, data, fields):
    # given
    before = row_of(player)

    # when
    response = staff_client(compliance).post(status_url(player), data, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid", "message": "The request is not valid.", "fields": fields}
    }
    assert row_of(player) == before
    assert events.new() == []
