"""The daily re-check through a real broker: a real Celery worker (not eager) runs the beat
tick and the run it hands on, against the fake GAMSTOP batch server over HTTP."""

import time

import pytest

from apps.exclusions.fakes import FakeGamstop
from apps.exclusions.models import BatchRun
from apps.exclusions.tasks import batch_tick_task
from apps.players.models import Player
from tests.core.test_celery_worker import other_sessions_on_test_database, running_worker, sessions_left_open
from tests.exclusions.batch_support import gamstop_config, open_sessions, players_bulk, session_and_token

DEADLINE_SECONDS = 30


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_runs_the_daily_recheck(brand, settings):
    settings.EXCLUSIONS_GAMSTOP_BATCH_SIZE = 100
    sessions_before = other_sessions_on_test_database()
    with FakeGamstop() as gamstop, running_worker():
        # given: 250 GB players, two excluded on GAMSTOP, each of those with a game session
        gamstop_config(brand, gamstop)
        players = players_bulk(brand, 250)
        excluded = [players[3], players[204]]
        gamstop.excluded = {p.email: "Y" for p in excluded}
        for player in excluded:
            session_and_token(Player.objects.get(pk=player.pk))

        # when: the beat's task goes through the broker
        batch_tick_task.delay()

        # then: the worker planned the run and worked it to the end
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not BatchRun.objects.filter(status=BatchRun.Status.DONE).exists():
            assert time.monotonic() < deadline, f"no finished run within {DEADLINE_SECONDS} s"
            time.sleep(0.1)

    # the worker left no session open on the test database
    assert sessions_left_open(sessions_before, wait_seconds=10) == {}
    run = BatchRun.objects.get()
    assert (run.players_total, run.chunks_total, run.chunks_done, run.hits, run.errors) == (250, 3, 3, 2, 0)
    assert len(gamstop.requests_to("/batch/v2")) == 3
    assert set(Player.objects.filter(status="self_excluded").values_list("pk", flat=True)) == {
        p.pk for p in excluded
    }
    assert open_sessions([p.pk for p in excluded]) == set()
