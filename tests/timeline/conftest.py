"""Fixtures of the timeline tests: a registered player (through the service, so the outbox
has its events) and `live`, a block after which every handler has run."""

from datetime import date

import pytest

from apps.players.services import player_register
from apps.timeline.models import TimelineEntry

PASSWORD = "correct-horse-2026"


@pytest.fixture
def live(django_capture_on_commit_callbacks):
    """`with live():` commits run their after-commit dispatch, as with eager Celery."""

    def block():
        return django_capture_on_commit_callbacks(execute=True)

    return block


@pytest.fixture
def register(live):
    def make(brand, username="alice", **kwargs):
        fields = {
            "brand": brand,
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "first_name": "Alice",
            "last_name": "Example",
            "date_of_birth": date(1990, 5, 17),
            "country": brand.jurisdiction,
            "address_line": "1 High Street",
            "city": "London",
            "postcode": "SW1A 2AA",
            "mobile": "+447400123456",
            **kwargs,
        }
        with live():
            return player_register(**fields)

    return make


@pytest.fixture
def alice(register, brand):
    return register(brand)


def entries_of(player, **filters):
    return list(TimelineEntry.objects.filter(player=player, **filters).order_by("id"))


def entry_rows(queryset=None):
    """Entries as comparable tuples (what rebuild must reproduce), in event order."""
    queryset = TimelineEntry.objects.all() if queryset is None else queryset
    return list(
        queryset.order_by("event_id").values_list(
            "event_id",
            "player_id",
            "brand_id",
            "occurred_at",
            "category",
            "summary",
            "amount",
            "currency",
            "source_type",
            "source_id",
            "actor",
        )
    )
