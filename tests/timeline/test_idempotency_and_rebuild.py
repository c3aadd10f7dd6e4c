"""Redelivery adds nothing; a rebuild from the outbox gives exactly the live timeline."""

import io

import pytest
from django.core.management import call_command

from apps.core.actors import system_actor
from apps.core.models import Event
from apps.core.outbox import event_dispatch
from apps.responsible_gaming import services as rg
from apps.timeline.handlers import timeline_entry_on_event
from apps.timeline.models import TimelineEntry
from apps.timeline.services import timeline_rebuild
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.timeline.conftest import entry_rows

PROVIDER = system_actor("test-provider")
pytestmark = pytest.mark.django_db


def test_the_handler_called_twice_adds_one_entry(alice):
    event = Event.objects.get(type="players.player_registered", player_id=alice.pk)
    assert TimelineEntry.objects.filter(event=event).count() == 1

    timeline_entry_on_event([event])
    timeline_entry_on_event([event])

    assert TimelineEntry.objects.filter(event=event).count() == 1


def test_a_forced_redispatch_of_the_outbox_adds_nothing(alice):
    event = Event.objects.get(type="players.player_registered", player_id=alice.pk)
    Event.objects.filter(pk=event.pk).update(dispatched_at=None)

    assert event_dispatch(event_id=event.pk, force=True) is True
    assert event_dispatch(event_id=event.pk, force=True) is True

    assert TimelineEntry.objects.filter(player=alice).count() == 1


@pytest.fixture
def history(alice, register, brand, live):
    """Two players' worth of live history: registration, deposits, a limit, a time-out."""
    bob = register(brand, username="bob", mobile="+447400654321")
    wallet = wallet_get_or_create(player=alice, currency_code="GBP")
    with live():
        deposit_credit(wallet=wallet, amount=1_000, source="test", external_id="h-1", actor=PROVIDER)
    with live():
        deposit_credit(wallet=wallet, amount=2_000, source="test", external_id="h-2", actor=PROVIDER)
    with live():
        rg.limit_set(actor=alice, player=alice, kind="deposit", period="week", amount=50_000)
    with live():
        rg.timeout_start(actor=bob, player=bob, hours=24, reason="break")
    return alice, bob


def test_rebuild_from_the_outbox_equals_the_live_timeline(history):
    live_rows = entry_rows()
    assert len(live_rows) == 6  # two registrations, two deposits, a limit, a time-out

    TimelineEntry.objects.all().delete()
    out = io.StringIO()
    call_command("timeline_rebuild", "--batch-size", "2", stdout=out)

    assert out.getvalue() == "timeline entries added: 6\n"
    assert entry_rows() == live_rows


def test_rebuild_over_a_complete_timeline_adds_nothing(history):
    live_rows = entry_rows()

    added = timeline_rebuild()

    assert added == 0
    assert entry_rows() == live_rows


def test_rebuild_of_one_player_touches_only_that_player(history):
    alice, bob = history
    live_rows = entry_rows()
    TimelineEntry.objects.all().delete()

    added = timeline_rebuild(player_id=bob.pk)

    assert added == 2
    assert entry_rows() == [row for row in live_rows if row[1] == bob.pk]
    assert not TimelineEntry.objects.filter(player=alice).exists()


def test_rebuild_fills_in_what_live_delivery_missed(history):
    alice, _ = history
    live_rows = entry_rows()
    TimelineEntry.objects.filter(player=alice, category="payment").delete()

    added = timeline_rebuild(player_id=alice.pk)

    assert added == 2
    assert entry_rows() == live_rows
