"""Races on PostgreSQL: threads released together by a barrier, each on its own connection."""

import threading
from collections import Counter
from datetime import date

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.core.models import Event
from apps.players import services
from apps.players.exceptions import AlreadyRegistered, StatusChangeRefused
from apps.players.models import Player
from tests.factories import PlayerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
# What each (old, new) status pair may be, per the django-fsm transitions on Player.
LEGAL_MOVES = {
    ("active", "suspended"),
    ("suspended", "active"),
    ("active", "closed"),
    ("suspended", "closed"),
    ("active", "self_excluded"),
    ("suspended", "self_excluded"),
}
TARGET = {"suspend": "suspended", "reactivate": "active", "close": "closed", "self_exclude": "self_excluded"}


@pytest.fixture(autouse=True)
def _transactional(transactional_db):
    """Every test here commits for real: the threads must see each other's writes."""


def run_together(calls) -> list[tuple[str, object]]:
    """Run each call in its own thread, all released at once; ("ok", result) or ("error", exc)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, object] | None] = [None] * len(calls)

    def work(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except Exception as exc:  # noqa: BLE001 - every outcome is kept for the test to judge
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes


def registration(brand, index: int, **same) -> dict:
    return {
        "brand": brand,
        "username": f"racer{index}",
        "email": f"racer{index}@example.com",
        "password": "correct-horse-battery",
        "first_name": "Race",
        "last_name": "Runner",
        "date_of_birth": date(1990, 1, 2),
        "country": "GB",
        "address_line": "1 High Street",
        "city": "London",
        "postcode": "SW1A 2AA",
        "mobile": "07400 123456",
        **same,
    }


@pytest.mark.parametrize(
    "clash",
    [
        pytest.param(lambda i: {"username": "racer" if i % 2 else "RACER"}, id="same-username"),
        pytest.param(
            lambda i: {"email": "racer@example.com" if i % 2 else "Racer@Example.COM"}, id="same-email"
        ),
    ],
)
def test_concurrent_registrations_of_one_name_create_exactly_one_player(brand, clash):
    # when
    outcomes = run_together(
        [lambda i=i: services.player_register(**registration(brand, i, **clash(i))) for i in range(THREADS)]
    )

    # then
    created = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert len(created) == 1
    assert len(refused) == THREADS - 1
    assert all(type(exc) is AlreadyRegistered for exc in refused), refused
    assert list(Player.objects.values_list("pk", flat=True)) == [created[0].pk]
    assert list(
        Event.objects.filter(type="players.player_registered").values_list("player_id", flat=True)
    ) == [created[0].pk]


def test_concurrent_registrations_over_http_answer_201_once_and_409_otherwise(brand):
    # given
    payload = {
        **registration(brand, 0),
        "brand": brand.code,
        "username": "racer",
        "date_of_birth": "1990-01-02",
    }

    def register(index):
        response = APIClient().post(
            "/api/v1/player/register", {**payload, "email": f"racer{index}@example.com"}, format="json"
        )
        return response.status_code, response.json()

    # when
    outcomes = run_together([lambda i=i: register(i) for i in range(THREADS)])

    # then
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    statuses = Counter(status for _, (status, _) in outcomes)
    assert statuses == {201: 1, 409: THREADS - 1}
    for _, (status, body) in outcomes:
        if status == 409:
            assert body["error"]["code"] == "already_registered"
    assert Player.objects.count() == 1


@pytest.mark.parametrize(
    "transitions",
    [
        pytest.param(["suspend", "close"] * (THREADS // 2), id="suspend-vs-close"),
        pytest.param(["suspend", "close", "self_exclude", "reactivate"] * (THREADS // 4), id="mixed"),
    ],
)
def test_concurrent_status_changes_apply_one_at_a_time(make_staff, brand, transitions):
    # given
    player = PlayerFactory(brand=brand)
    compliance = make_staff("Compliance officer", brands=[brand])

    # when
    outcomes = run_together(
        [
            lambda transition=transition: (
                services.player_status_change(
                    actor=compliance,
                    player=Player.objects.get(pk=player.pk),
                    transition=transition,
                    reason=f"race: {transition}",
                ).status
            )
            for transition in transitions
        ]
    )

    # then: the refused ones were refused as illegal, nothing else went wrong
    applied = [
        transition for transition, (kind, _) in zip(transitions, outcomes, strict=True) if kind == "ok"
    ]
    for kind, value in outcomes:
        if kind == "error":
            assert type(value) is StatusChangeRefused, value
            assert value.code == "illegal_transition"
    # ...one event per applied change, forming one unbroken chain of legal moves
    changes = [
        (e.payload["old_status"], e.payload["new_status"])
        for e in Event.objects.filter(type="players.status_changed", player_id=player.pk).order_by("pk")
    ]
    assert len(changes) == len(applied)
    assert Counter(new for _, new in changes) == Counter(TARGET[t] for t in applied)
    assert changes[0][0] == "active"
    for (_, new), (old, _) in zip(changes, changes[1:], strict=False):
        assert old == new
    assert all(move in LEGAL_MOVES for move in changes), changes
    # ...and ending in the one terminal status that won
    final = Player.objects.get(pk=player.pk)
    assert final.status == changes[-1][1]
    assert final.status in {"closed", "self_excluded"}
    assert sum(1 for t in applied if t in {"close", "self_exclude"}) == 1
