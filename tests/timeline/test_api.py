"""GET /api/v1/staff/players/{id}/timeline: filters, keyset pages newest first, brand
isolation and the permission matrix; the selector and the admin list behind the same scope."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.models import Event
from apps.timeline.models import TimelineEntry
from apps.timeline.selectors import timeline_for
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def url(player_id) -> str:
    return f"/api/v1/staff/players/{player_id}/timeline"


def add_entry(player, *, minutes: int, category="login", summary="Logged in", amount=None) -> TimelineEntry:
    occurred_at = T0 + timedelta(minutes=minutes)
    event = Event.objects.create(
        type="players.login_succeeded",
        player_id=player.pk,
        brand_id=player.brand_id,
        occurred_at=occurred_at,
        actor=f"player:{player.pk}",
    )
    return TimelineEntry.objects.create(
        player=player,
        brand_id=player.brand_id,
        occurred_at=occurred_at,
        category=category,
        summary=summary,
        amount=amount,
        currency="GBP" if amount is not None else "",
        actor=event.actor,
        event=event,
    )


@pytest.fixture
def player(brand):
    return PlayerFactory(brand=brand)


@pytest.fixture
def timeline(player):
    """Five entries; two share a timestamp (the id breaks the tie)."""
    return [
        add_entry(player, minutes=0, category="registration", summary="Registered (GB, GBP)"),
        add_entry(player, minutes=10),
        add_entry(player, minutes=20, category="payment", summary="Deposit credited", amount=2_500),
        add_entry(player, minutes=20, category="payment", summary="Withdrawal reserved", amount=1_000),
        add_entry(player, minutes=30, category="limit", summary="day deposit limit none -> 100 (applied)"),
    ]


@pytest.fixture
def agent(make_staff, brand):
    return make_staff("Support agent", brands=[brand])


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_newest_first_with_every_field(staff_client, agent, player, timeline):
    response = staff_client(agent).get(url(player.pk))

    assert response.status_code == 200
    assert ids(response) == [timeline[i].pk for i in (4, 3, 2, 1, 0)]
    assert response.json()["results"][2] == {
        "id": timeline[2].pk,
        "occurred_at": "2026-03-01T12:20:00Z",
        "category": "payment",
        "summary": "Deposit credited",
        "amount": 2_500,
        "currency": "GBP",
        "source_type": "",
        "source_id": None,
        "actor": f"player:{player.pk}",
        "event_id": timeline[2].event_id,
    }


def test_cursor_pages_walk_the_whole_timeline_once(staff_client, agent, player, timeline):
    client = staff_client(agent)
    seen, next_url, pages = [], url(player.pk) + "?page_size=2", 0
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200
        seen += ids(response)
        next_url = response.json()["next"]
        pages += 1

    assert pages == 3
    assert seen == [timeline[i].pk for i in (4, 3, 2, 1, 0)]


def test_an_entry_added_while_paging_does_not_shift_the_pages(staff_client, agent, player, timeline):
    client = staff_client(agent)
    first = client.get(url(player.pk) + "?page_size=2")

    add_entry(player, minutes=40, summary="Logged in again")
    second = client.get(first.json()["next"])

    assert ids(second) == [timeline[2].pk, timeline[1].pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=payment", (3, 2)),
        ("from=2026-03-01T12:10:00Z", (4, 3, 2, 1)),
        ("to=2026-03-01T12:20:00Z", (1, 0)),
        ("from=2026-03-01T12:10:00Z&to=2026-03-01T12:30:00Z", (3, 2, 1)),
        ("q=DEPOSIT", (4, 2)),
        ("category=payment&q=withdrawal", (3,)),
    ],
)
def test_filters(staff_client, agent, player, timeline, query, expected):
    response = staff_client(agent).get(f"{url(player.pk)}?{query}")

    assert response.status_code == 200
    assert ids(response) == [timeline[i].pk for i in expected]


@pytest.mark.parametrize("query", ["category=bets", "from=yesterday", "to=2026-13-01"])
def test_a_bad_filter_is_a_400_in_the_api_error_shape(staff_client, agent, player, timeline, query):
    response = staff_client(agent).get(f"{url(player.pk)}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_another_brands_player_answers_like_a_missing_one(staff_client, agent, other_brand):
    theirs = PlayerFactory(brand=other_brand)
    add_entry(theirs, minutes=0)
    client = staff_client(agent)

    foreign = client.get(url(theirs.pk))
    missing = client.get(url(999_999_999))
    too_long = client.get(url("9" * 19))

    assert foreign.status_code == missing.status_code == too_long.status_code == 404
    assert foreign.json() == missing.json()


@pytest.mark.parametrize(
    ("role", "own_brand", "status"),
    [
        ("Support agent", True, 200),
        ("Compliance officer", True, 200),
        ("Auditor", True, 200),
        ("Payments reviewer", True, 403),
        ("Brand admin", True, 403),
        ("Operator admin", True, 403),
        (None, True, 403),
        ("Support agent", False, 404),
    ],
)
def test_permission_matrix(
    staff_client, make_staff, brand, other_brand, player, timeline, role, own_brand, status
):
    user = make_staff(role, brands=[brand if own_brand else other_brand])

    response = staff_client(user).get(url(player.pk))

    assert response.status_code == status
    if status == 200:
        assert len(ids(response)) == 5


def test_anonymous_is_refused(api_client, player, timeline):
    assert api_client.get(url(player.pk)).status_code == 403


def test_the_selector_hides_players_of_other_brands(make_staff, other_brand, agent, player, timeline):
    outsider = make_staff("Support agent", brands=[other_brand])

    assert list(timeline_for(agent, player, category="payment")) == [timeline[3], timeline[2]]
    assert list(timeline_for(agent, player.pk, since=T0 + timedelta(minutes=30))) == [timeline[4]]
    assert list(timeline_for(outsider, player)) == []


# --- admin -----------------------------------------------------------------------------------


def test_admin_lists_one_players_timeline_of_the_users_brands_only(
    client, agent, brand, other_brand, player, timeline
):
    sibling = PlayerFactory(brand=brand)
    sibling_entry = add_entry(sibling, minutes=5, summary="Sibling login")
    theirs = PlayerFactory(brand=other_brand)
    foreign_entry = add_entry(theirs, minutes=5, summary="Foreign login")
    staff_login(client, agent)

    everything = client.get("/admin/timeline/timelineentry/")
    one_player = client.get(f"/admin/timeline/timelineentry/?player={player.pk}")
    foreign_player = client.get(f"/admin/timeline/timelineentry/?player={theirs.pk}")

    assert everything.status_code == one_player.status_code == foreign_player.status_code == 200
    assert set(everything.context["cl"].result_list) == {*timeline, sibling_entry}
    assert list(one_player.context["cl"].result_list) == [timeline[i] for i in (4, 3, 2, 1, 0)]
    assert list(foreign_player.context["cl"].result_list) == []
    assert client.get(f"/admin/timeline/timelineentry/{foreign_entry.pk}/change/").status_code == 302


def test_admin_is_read_only(client, agent, timeline):
    staff_login(client, agent)

    assert client.get("/admin/timeline/timelineentry/add/").status_code == 403
    detail = client.get(f"/admin/timeline/timelineentry/{timeline[0].pk}/change/")
    assert detail.status_code == 200
    assert detail.context["has_change_permission"] is False
    before = TimelineEntry.objects.filter(pk=timeline[0].pk).values_list("summary", flat=True).get()
    client.post(f"/admin/timeline/timelineentry/{timeline[0].pk}/change/", {"summary": "edited"})
    assert TimelineEntry.objects.get(pk=timeline[0].pk).summary == before
