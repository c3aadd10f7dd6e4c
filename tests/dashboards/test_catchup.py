"""Catch-up after a dropped connection: the endpoint returns exactly what the socket would
have delivered in the meantime, in event id order, once; scoped like the socket."""

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from apps.dashboards import selectors
from tests.dashboards.conftest import connected, socket
from tests.dashboards.test_consumers import raise_alert
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def catchup(user, **params):
    client = Client()
    staff_login(client, user)
    return client.get(reverse("admin:dashboards_dashboard_catchup"), params)


def test_catch_up_returns_exactly_the_missed_messages_in_order_without_duplicates(
    make_staff, brand, other_brand
):
    officer = make_staff("Compliance officer", brands=[brand])
    player = PlayerFactory(brand=brand)

    async def run():
        # One page stays connected throughout (what the socket delivers); the other drops.
        steady = await database_sync_to_async(socket)("streams=alerts", officer)
        await connected(steady)
        dropping = await database_sync_to_async(socket)("streams=alerts", officer)
        await connected(dropping)

        first = await database_sync_to_async(raise_alert)(brand, "before the drop", player=player)
        seen = await dropping.receive_json_from(timeout=3)
        assert seen["id"] == first
        await dropping.disconnect()

        missed = []
        for n in range(3):
            missed.append(await database_sync_to_async(raise_alert)(brand, f"missed {n}", player=player))
            await database_sync_to_async(raise_alert)(other_brand, f"not ours {n}")
        delivered = [await steady.receive_json_from(timeout=3) for _ in range(4)]
        assert await steady.receive_nothing(timeout=0.5)
        await steady.disconnect()
        return first, missed, delivered

    first, missed, delivered = async_to_sync(run)()

    page = catchup(officer, stream="alerts", after=first).json()
    assert [m["id"] for m in page["messages"]] == missed
    # The very messages the socket delivered, field for field.
    assert page["messages"] == delivered[1:]
    assert (page["last_id"], page["more"]) == (missed[-1], False)
    # Asking again from where it ended: nothing new, nothing repeated.
    again = catchup(officer, stream="alerts", after=page["last_id"]).json()
    assert again["messages"] == []
    assert again["last_id"] == missed[-1]


def test_catch_up_pages_through_a_long_gap(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])
    player = PlayerFactory(brand=brand)
    ids = [raise_alert(brand, f"n{n}", player=player) for n in range(5)]

    first = selectors.catchup(officer, stream="alerts", after=0, limit=2)
    second = selectors.catchup(officer, stream="alerts", after=first["last_id"], limit=2)
    third = selectors.catchup(officer, stream="alerts", after=second["last_id"], limit=2)
    pages = [first, second, third]
    assert [[m["id"] for m in p["messages"]] for p in pages] == [ids[:2], ids[2:4], ids[4:]]
    assert [p["more"] for p in pages] == [True, True, False]


def test_an_event_that_committed_after_a_newer_one_is_caught_up_with_the_overlap(make_staff, brand):
    """Ids are taken at insert, commits happen in any order: the page saw the newer event
    live; the older one became visible after. With the overlap it is still fetched (and
    the page drops the ids it already has)."""
    officer = make_staff("Compliance officer", brands=[brand])
    player = PlayerFactory(brand=brand)
    inserted, release, done = threading.Event(), threading.Event(), {}

    def slow_transaction():
        try:
            from apps.core.events import publish
            from apps.rules.events import AlertRaised
            from tests.dashboards.test_consumers import RULES

            with transaction.atomic():
                done["id"] = publish(
                    AlertRaised(
                        hit_id=1,
                        rule_id=1,
                        rule_name="slow",
                        player_id=player.pk,
                        brand_id=brand.pk,
                        severity="high",
                        text="late",
                    ),
                    actor=RULES,
                ).pk
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert inserted.wait(10)
    newer = raise_alert(brand, "fast", player=player)  # committed first, seen live
    release.set()
    thread.join(10)
    older = done["id"]
    assert older < newer

    plain = selectors.catchup(officer, stream="alerts", after=newer)
    assert plain["messages"] == []  # the gap the overlap exists for
    overlapping = selectors.catchup(officer, stream="alerts", after=newer, overlap_seconds=5)
    ids = [m["id"] for m in overlapping["messages"]]
    assert older in ids and ids == sorted(set(ids))


@pytest.mark.parametrize(
    ("role", "params", "status"),
    [
        ("Support agent", {"stream": "alerts"}, 403),
        ("Compliance officer", {"stream": "ops"}, 403),  # snapshots have no catch-up
        ("Compliance officer", {"stream": "nonsense"}, 403),
        ("Compliance officer", {"stream": "alerts", "after": "x"}, 400),
        ("Brand admin", {"stream": "queue"}, 403),
        ("Payments reviewer", {"stream": "queue"}, 200),
        ("Compliance officer", {"stream": "alerts", "brand": "OTHER"}, 403),
    ],
)
def test_catch_up_is_scoped_like_the_socket(make_staff, brand, other_brand, role, params, status):
    user = make_staff(role, brands=[brand])
    params = {k: (other_brand.pk if v == "OTHER" else v) for k, v in params.items()}
    raise_alert(other_brand, "not theirs")
    response = catchup(user, **params)
    assert response.status_code == status
    if status == 200:
        assert response.json()["messages"] == []


def test_catch_up_needs_a_staff_session(brand):
    response = Client().get(reverse("admin:dashboards_dashboard_catchup"), {"stream": "alerts"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
