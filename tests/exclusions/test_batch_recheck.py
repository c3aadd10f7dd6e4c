"""The daily re-check against the fake GAMSTOP batch server over real HTTP: 5,000 players,
every newly excluded one loses their sessions and tokens, the rest are untouched; 429s are
backed off; a register that never answers fails its chunk's players closed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import Event
from apps.exclusions.batch import batch_run_start, batch_runs_due, batch_tick
from apps.exclusions.fakes import FakeGamstop
from apps.exclusions.models import BatchChunk, BatchRun, RegisterCheck
from apps.players.models import Player
from tests.exclusions.batch_support import (
    batch_bodies,
    gamstop_config,
    live_tokens,
    open_sessions,
    players_bulk,
    sent_ids,
    session_and_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.EXCLUSIONS_RETRIES = 3
    settings.EXCLUSIONS_BACKOFF_SECONDS = 0.01
    settings.EXCLUSIONS_RETRY_MAX_SECONDS = 2
    settings.EXCLUSIONS_BREAKER_FAILURES = 50
    settings.EXCLUSIONS_BATCH_CHUNK_MAX_ATTEMPTS = 3


@pytest.fixture
def gamstop():
    with FakeGamstop() as fake:
        yield fake


def _events(event_type: str) -> list[Event]:
    return list(Event.objects.filter(type=event_type).order_by("pk"))


def test_recheck_of_5000_players_ends_the_sessions_of_every_newly_excluded_one(brand, gamstop):
    # given: 5,000 GB players; 40 are now excluded on GAMSTOP (Y), 30 were once (P)
    gamstop_config(brand, gamstop)
    players = players_bulk(brand, 5000)
    ids = [p.pk for p in players]
    excluded = ids[7::125]  # 40 players, spread over every chunk
    lapsed = ids[11::167]
    gamstop.excluded = {f"p{ids.index(i)}@example.com": "Y" for i in excluded}
    gamstop.excluded |= {f"p{ids.index(i)}@example.com": "P" for i in lapsed}
    # one excluded player is suspended (still re-checked); closed and self-excluded players are not
    Player.objects.filter(pk=excluded[0]).update(status=Player.Status.SUSPENDED)
    Player.objects.filter(pk__in=ids[-3:]).update(status=Player.Status.CLOSED)
    Player.objects.filter(pk__in=ids[-6:-3]).update(status=Player.Status.SELF_EXCLUDED)
    # the excluded, some lapsed and some others hold a game session and an API token
    others = ids[100:4990:200]
    watched = [*excluded[1:], *lapsed[:10], *others]
    for player in Player.objects.filter(pk__in=watched):
        session_and_token(player)

    # when: the beat tick runs
    [run] = batch_tick()

    # then: one request per chunk of at most 1000 persons, every re-checked player once
    assert [len(body) for body in batch_bodies(gamstop)] == [1000, 1000, 1000, 1000, 994]
    assert sorted(sent_ids(gamstop)) == ids[:-6]
    assert (run.status, run.players_total, run.chunks_total, run.chunks_done) == ("done", 4994, 5, 5)
    assert (run.hits, run.errors) == (40, 0)
    assert list(run.chunks.values_list("status", "players", "hits")) == [
        ("done", 1000, 8),
        ("done", 1000, 8),
        ("done", 1000, 8),
        ("done", 1000, 8),
        ("done", 994, 8),
    ]
    # every excluded player is self-excluded, with no open session and no live token
    assert set(Player.objects.filter(status=Player.Status.SELF_EXCLUDED).values_list("pk", flat=True)) == {
        *excluded,
        *ids[-6:-3],
    }
    assert open_sessions(excluded) == set()
    assert live_tokens(excluded) == set()
    # the others (lapsed included) are untouched
    untouched = [*lapsed[:10], *others]
    assert open_sessions(untouched) == set(untouched)
    assert live_tokens(untouched) == set(untouched)
    assert Player.objects.filter(pk__in=untouched, status=Player.Status.ACTIVE).count() == len(untouched)
    # every hit is stored with GAMSTOP's reference, and announced
    checks = RegisterCheck.objects.filter(batch_run=run)
    assert sorted(checks.values_list("player_id", flat=True)) == sorted(excluded)
    assert {(c.purpose, c.outcome, c.answer) for c in checks} == {("daily", "excluded", "Y")}
    assert all(len(c.reference) == 36 for c in checks)
    hits = _events("exclusions.player_excluded_by_register")
    assert sorted(e.payload["player_id"] for e in hits) == sorted(excluded)
    assert {e.actor for e in hits} == {"system:exclusions-batch"}
    closed = _events("games.sessions_closed")
    assert sorted(e.payload["player_id"] for e in closed) == sorted(excluded[1:])
    [finished] = _events("exclusions.batch_run_finished")
    assert finished.payload | {} == {
        "brand_id": brand.pk,
        "register": "gamstop",
        "batch_run_id": run.pk,
        "players": 4994,
        "chunks": 5,
        "hits": 40,
        "errors": 0,
    }

    # when: the next tick comes before the run is due again
    gamstop.reset()
    assert batch_tick() == []
    assert gamstop.requests == []

    # when: the next run is due (20 hours later)
    BatchRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=20))
    events_before = Event.objects.count()
    [second] = batch_tick()

    # then: the excluded players are not asked again and nothing more happens to them
    assert (second.status, second.players_total, second.hits) == ("done", 4994 - 40, 0)
    assert not set(sent_ids(gamstop)) & set(excluded)
    assert Event.objects.count() == events_before + 1  # the run's own "finished" only


def test_a_429_is_backed_off_and_retried_by_the_client(brand, gamstop):
    # given: GAMSTOP limits the first two requests
    gamstop_config(brand, gamstop)
    players_bulk(brand, 1500)
    gamstop.fail_next(status=429, times=2, retry_after=0.05)

    # when
    [run] = batch_tick()

    # then: the first chunk was sent three times (two refused), then everything once
    bodies = batch_bodies(gamstop)
    assert [len(body) for body in bodies] == [1000, 1000, 1000, 500]
    assert bodies[0] == bodies[1] == bodies[2]
    assert (run.status, run.chunks_done, run.errors) == ("done", 2, 0)
    assert list(run.chunks.values_list("attempts", flat=True)) == [1, 1]


def test_a_chunk_still_limited_after_the_retries_stays_pending_and_the_run_pauses(brand, gamstop):
    # given: GAMSTOP answers 429 to every attempt the client makes (3)
    gamstop_config(brand, gamstop)
    players_bulk(brand, 2500)
    gamstop.fail_next(status=429, times=3)

    # when: a tick
    [run] = batch_tick()

    # then: the run paused at its first chunk; nothing further was sent
    assert len(gamstop.requests) == 3
    assert (run.status, run.chunks_done, run.errors) == ("running", 0, 0)
    first = run.chunks.get(index=0)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "429" in first.error
    assert RegisterCheck.objects.count() == 0

    # when: the next tick, GAMSTOP answering again
    gamstop.reset()
    [resumed] = batch_tick()

    # then: the same run finished, each chunk sent once
    assert resumed.pk == run.pk
    assert [len(body) for body in batch_bodies(gamstop)] == [1000, 1000, 500]
    assert (resumed.status, resumed.chunks_done) == ("done", 3)
    assert list(resumed.chunks.values_list("status", "attempts", "error")) == [
        ("done", 2, ""),
        ("done", 1, ""),
        ("done", 1, ""),
    ]


def test_a_chunk_the_register_never_answers_fails_its_players_closed(brand, gamstop, settings):
    # given: GAMSTOP fails the first chunk on both of its attempts (3 tries each), then recovers
    settings.EXCLUSIONS_BATCH_CHUNK_MAX_ATTEMPTS = 2
    settings.EXCLUSIONS_GAMSTOP_BATCH_SIZE = 10
    gamstop_config(brand, gamstop)
    players = players_bulk(brand, 25)
    for player in players[:2] + players[12:13]:
        session_and_token(player)
    gamstop.fail_next(status=500, times=6)

    # when: two ticks
    batch_tick()
    [run] = batch_tick()

    # then: the first chunk failed after two attempts; its players lost their sessions and
    # tokens but keep their status (nobody said they are excluded); the rest were checked
    chunks = list(run.chunks.values_list("index", "status", "attempts"))
    assert chunks == [(0, "failed", 2), (1, "done", 1), (2, "done", 1)]
    assert (run.status, run.chunks_done, run.errors, run.hits) == ("done", 3, 10, 0)
    first_ten = [p.pk for p in players[:10]]
    errors = RegisterCheck.objects.filter(batch_run=run)
    assert sorted(errors.values_list("player_id", flat=True)) == first_ten
    assert {(c.outcome, c.error) for c in errors} == {("error", "gamstop: answered HTTP 500.")}
    assert open_sessions([players[0].pk, players[1].pk, players[12].pk]) == {players[12].pk}
    assert live_tokens([players[0].pk, players[1].pk, players[12].pk]) == {players[12].pk}
    assert Player.objects.filter(status=Player.Status.ACTIVE).count() == 25
    [failed] = _events("exclusions.batch_chunk_failed")
    payload = failed.payload
    assert (payload["chunk_index"], payload["players"], payload["attempts"]) == (0, 10, 2)


def test_a_player_who_cannot_be_sent_fails_closed_alone(brand, gamstop):
    # given: one player's first name is too short for GAMSTOP (2 to 20 characters)
    gamstop_config(brand, gamstop)
    players = players_bulk(brand, 5)
    Player.objects.filter(pk=players[2].pk).update(first_name="A")
    for player in players:
        session_and_token(player)

    # when
    [run] = batch_tick()

    # then: the others were checked in one request; that player's session ended
    assert sorted(sent_ids(gamstop)) == sorted(p.pk for p in players if p.pk != players[2].pk)
    assert (run.status, run.errors, run.hits) == ("done", 1, 0)
    [error] = RegisterCheck.objects.filter(batch_run=run)
    assert (error.player_id, error.outcome) == (players[2].pk, "error")
    assert open_sessions([p.pk for p in players]) == {p.pk for p in players} - {players[2].pk}


def test_only_brands_whose_pack_names_a_daily_register_are_rechecked(brand, other_brand, gamstop):
    # given: a GB brand (gamstop at daily) and a Swedish one (spelpaus, not daily)
    gamstop_config(brand, gamstop)
    players_bulk(brand, 3)
    players_bulk(other_brand, 3, prefix="se")

    # when
    runs = batch_runs_due()

    # then
    assert [(r.brand_id, r.register, r.players_total) for r in runs] == [(brand.pk, "gamstop", 3)]


def test_starting_a_run_while_one_runs_returns_the_running_one(brand, gamstop):
    gamstop_config(brand, gamstop)
    players_bulk(brand, 3)
    first = batch_run_start(brand=brand, register="gamstop")

    again = batch_run_start(brand=brand, register="gamstop")

    assert again.pk == first.pk
    assert BatchRun.objects.count() == 1
    assert BatchChunk.objects.count() == 1


def test_a_spelpaus_run_asks_the_login_api_per_player(other_brand, settings):
    # given: a Swedish brand re-checked against Spelpaus (when its pack names "daily"), in
    # chunks of 2; one of three players is blocked, one has no personnummer
    from apps.exclusions.fakes import FakeSpelpaus
    from tests.exclusions.batch_support import spelpaus_config

    settings.EXCLUSIONS_SPELPAUS_CHUNK_SIZE = 2
    with FakeSpelpaus() as spelpaus:
        spelpaus_config(other_brand, spelpaus)
        allowed, blocked, unknown = players_bulk(other_brand, 3, prefix="se")
        Player.objects.filter(pk=allowed.pk).update(national_id="19900517-1237")
        Player.objects.filter(pk=blocked.pk).update(national_id="19811218-9876")
        spelpaus.blocked = {"198112189876"}
        for player in Player.objects.filter(brand=other_brand):
            session_and_token(player)

        # when
        run = batch_run_start(brand=other_brand, register="spelpaus")
        from apps.exclusions.batch import batch_run_resume

        run = batch_run_resume(run)

        # then: one blocking-info request per askable player; the blocked one is excluded,
        # the one without a personnummer fails closed, the other is untouched
        paths = [path for path, _headers, _body in spelpaus.requests]
        assert paths == [f"/blocking-info/{spelpaus.actor_id}"] * 2
        assert (run.status, run.chunks_total, run.hits, run.errors) == ("done", 2, 1, 1)
        assert Player.objects.get(pk=blocked.pk).status == Player.Status.SELF_EXCLUDED
        assert open_sessions([allowed.pk, blocked.pk, unknown.pk]) == {allowed.pk}
        checks = RegisterCheck.objects.filter(batch_run=run).order_by("player_id")
        assert [(c.player_id, c.outcome, c.answer) for c in checks] == [
            (blocked.pk, "excluded", "Y"),
            (unknown.pk, "error", ""),
        ]
