"""A re-check killed mid-run (SIGKILL, mid-chunk) is resumed by the next tick: the chunks that
finished are never sent again, the one in flight is sent again, the end state is right."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.exclusions.batch import batch_tick
from apps.exclusions.fakes import FakeGamstop
from apps.exclusions.models import BatchRun
from apps.players.models import Player
from tests.exclusions.batch_support import (
    batch_bodies,
    gamstop_config,
    live_tokens,
    open_sessions,
    players_bulk,
    session_and_token,
)

BASE_DIR = Path(__file__).resolve().parents[2]
CHUNK = 200
# The child process: a beat tick's work, in-process, on the test database.
CHILD = "import django; django.setup(); from apps.exclusions.batch import batch_tick; batch_tick()"


def _child_env() -> dict:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pam.settings",
            "PAM_IGNORE_DOTENV": "1",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "EXCLUSIONS_GAMSTOP_BATCH_SIZE": str(CHUNK),
            "EXCLUSIONS_BREAKER_FAILURES": "50",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_chunk_resumes_without_resending_finished_chunks(brand, settings):
    settings.EXCLUSIONS_GAMSTOP_BATCH_SIZE = CHUNK
    with FakeGamstop() as gamstop:
        # given: 1,000 players in 5 chunks of 200, one excluded in each chunk, each with a session
        gamstop_config(brand, gamstop)
        players = players_bulk(brand, 1000)
        ids = [p.pk for p in players]
        excluded = ids[50::200]
        gamstop.excluded = {f"p{ids.index(i)}@example.com": "Y" for i in excluded}
        for player in Player.objects.filter(pk__in=[*excluded, ids[1], ids[999]]):
            session_and_token(player)
        # GAMSTOP is slow: the third request is still waiting for its answer when the kill comes
        gamstop.delay_seconds = 0.5

        # when: a worker process runs the tick and is killed (SIGKILL) during the third request
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", CHILD], cwd=BASE_DIR, env=_child_env(), stderr=subprocess.PIPE
        )
        try:
            _wait_for(lambda: len(gamstop.requests) == 3 or child.poll() is not None, 60, "three requests")
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
            child.stderr.close()
        # the killed worker's database session (and its chunk lock) goes with it
        _wait_for(lambda: _other_sessions() == 0, 10, "the killed worker's session to end")

        # then: two chunks finished, the third rolled back with its results
        run = BatchRun.objects.get()
        assert (run.status, run.chunks_done, run.hits) == ("running", 2, 2)
        statuses = list(run.chunks.values_list("status", flat=True))
        assert statuses == ["done", "done", "pending", "pending", "pending"]
        assert Player.objects.filter(status=Player.Status.SELF_EXCLUDED).count() == 2
        assert open_sessions([excluded[2]]) == {excluded[2]}

        # when: the next tick (in this process)
        sent_before = len(gamstop.requests)
        gamstop.delay_seconds = 0
        [resumed] = batch_tick()

        # then: only the unfinished chunks were sent (the one in flight again), never the first two
        after = batch_bodies(gamstop)[sent_before:]
        assert [sorted(int(p["correlation-id"]) for p in body) for body in after] == [
            ids[400:600],
            ids[600:800],
            ids[800:1000],
        ]
        assert batch_bodies(gamstop)[2] == batch_bodies(gamstop)[sent_before]  # the in-flight chunk, again
        assert resumed.pk == run.pk
        assert (resumed.status, resumed.chunks_done, resumed.hits, resumed.errors) == ("done", 5, 5, 0)
        # every excluded player is self-excluded without a session or token; the others keep theirs
        now_excluded = Player.objects.filter(status=Player.Status.SELF_EXCLUDED).values_list("pk", flat=True)
        assert set(now_excluded) == set(excluded)
        assert open_sessions(excluded) == set()
        assert live_tokens(excluded) == set()
        assert open_sessions([ids[1], ids[999]]) == {ids[1], ids[999]}
