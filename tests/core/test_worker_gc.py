"""Celery workers freeze their set-up objects once started (pam/celery.py), so the garbage
collector's full passes stop walking them at every event."""

import gc

import pytest
from celery import signals

from pam.celery import gc_freeze_long_lived


@pytest.fixture
def unfrozen():
    """Whatever a test freezes goes back to the collector afterwards."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("signal", [signals.worker_process_init, signals.worker_ready])
def test_a_started_worker_and_each_pool_process_freeze_what_is_alive(signal, settings, unfrozen):
    settings.WORKER_GC_FREEZE = True
    assert gc.get_freeze_count() == 0

    signal.send(sender=None)

    # Django, the apps and the test runner: well over ten thousand long-lived objects.
    assert gc.get_freeze_count() > 10_000


def test_it_can_be_turned_off(settings, unfrozen):
    settings.WORKER_GC_FREEZE = False

    frozen = gc_freeze_long_lived()
    signals.worker_process_init.send(sender=None)

    assert frozen == 0
    assert gc.get_freeze_count() == 0
