"""The daily re-check: every active player of a brand asked again of its national register.

Which register, and whether a brand is re-checked at all, comes from the brand's
jurisdiction pack: a register whose `at` names "daily" (GB: gamstop). A run is planned as
chunks of player ids (keyset pagination: first/last id, at most a batch of players each),
then worked chunk by chunk:

    BEGIN; lock the lowest pending chunk (FOR UPDATE SKIP LOCKED); read its players;
    ask the register; end the sessions of every Y; write the hits and the errors;
    mark the chunk done and add to the run's counters; COMMIT

so a chunk's results and its "done" commit together. A process killed mid-chunk rolls
back: the chunk is still pending and the next tick sends it again; finished chunks are
never sent again. Two workers on one run take different chunks (SKIP LOCKED).

What is stored: the chunk (players, hits, latency, attempts, error) summarises the
answers; a RegisterCheck row is written for every hit (Y) and for every player whose
check failed, so a 100,000-player brand does not add 100,000 rows a day for the N/P
answers that change nothing.

GAMSTOP: one batch request per chunk (up to 1000 persons, under 256 KB; a chunk whose
body would be larger is sent in as many requests as it takes). Spelpaus has no batch
login API, and its marketing API may only be used for marketing: a Spelpaus chunk asks
the login API (blocking-info) once per player, in smaller chunks.

Failures fail closed. A register error (after the client's own retries with backoff,
429 included) leaves the chunk pending and pauses the run: sending more to a register
that is down or limiting us only makes it worse; the next tick resumes with that chunk.
After EXCLUSIONS_BATCH_CHUNK_MAX_ATTEMPTS failed attempts the chunk is marked failed and
its players are treated as excluded until a check succeeds: their open game sessions
and API tokens are ended now, so they can only play again through a login, and every
login asks the register live (and is refused while it cannot answer). Their status is
not changed: nobody said they are excluded.

A Y: the player is marked self-excluded through the players' service (which revokes
their API tokens), their open game sessions are closed at once, and
exclusions.player_excluded_by_register is published. Self-excluded and closed players
are not re-checked (their statuses are final), so a later run does nothing more for them.
"""

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.compliance.packs import PackInvalid
from apps.core.actors import audit_as, system_actor
from apps.core.events import publish
from apps.exclusions.events import BatchChunkFailed, BatchRunFinished, PlayerExcludedByRegister
from apps.exclusions.exceptions import RegisterNotConfigured, RegisterUnavailable
from apps.exclusions.models import BatchChunk, BatchRun, Purpose, Register, RegisterCheck, RegisterConfig
from apps.exclusions.selectors import register_config_get, registers_of_brand
from apps.games.services import game_sessions_close_for_player
from apps.players.exceptions import StatusChangeRefused
from apps.players.models import Player
from apps.players.services import player_status_apply, player_tokens_revoke
from apps.tenants.models import Brand
from apps.tenants.selectors import brands_visible_to

logger = logging.getLogger(__name__)

# Players who can hold or regain a session. Self-excluded and closed are final statuses.
RECHECKED_STATUSES = (Player.Status.ACTIVE, Player.Status.SUSPENDED)
SUPPORTED_REGISTERS = (Register.GAMSTOP, Register.SPELPAUS)
# The fields a register needs; nothing else of the player is read.
PLAYER_FIELDS = (
    "id",
    "brand_id",
    "status",
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "postcode",
    "mobile",
    "national_id",
)


def _actor():
    return system_actor("exclusions-batch")


def chunk_size(register: str) -> int:
    if register == Register.GAMSTOP:
        return settings.EXCLUSIONS_GAMSTOP_BATCH_SIZE
    return settings.EXCLUSIONS_SPELPAUS_CHUNK_SIZE


def daily_registers(brand_id: int) -> list[str]:
    """The registers the brand's pack (with its overrides) asks to re-check daily."""
    return [
        e["register"]
        for e in registers_of_brand(brand_id)
        if "daily" in e["at"] and e["register"] in SUPPORTED_REGISTERS
    ]


def _players_of(brand_id: int) -> QuerySet[Player]:
    return Player.objects.filter(brand_id=brand_id, status__in=RECHECKED_STATUSES)


# --- planning ------------------------------------------------------------------------------


def batch_run_start(*, brand: Brand, register: str, now=None) -> BatchRun:
    """Plan a run: one chunk per `chunk_size(register)` re-checked players, by id.

    The ids are read with keyset pagination (never the whole list). Idempotent while a run
    is in progress: the running one is returned (a partial unique constraint says at most
    one runs per brand and register).
    """
    if register not in SUPPORTED_REGISTERS:
        raise ValueError(f"no daily re-check for register {register!r}")
    now = now or timezone.now()
    size = chunk_size(register)
    try:
        with transaction.atomic():
            run = BatchRun.objects.create(register=register, brand=brand, started_at=now)
            chunks, players, last_id, index = [], 0, 0, 0
            while True:
                ids = list(
                    _players_of(brand.pk)
                    .filter(pk__gt=last_id)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:size]
                )
                if not ids:
                    break
                chunks.append(
                    BatchChunk(
                        run=run, index=index, first_player_id=ids[0], last_player_id=ids[-1], players=len(ids)
                    )
                )
                players, last_id, index = players + len(ids), ids[-1], index + 1
                if len(chunks) >= 500:
                    BatchChunk.objects.bulk_create(chunks)
                    chunks = []
            BatchChunk.objects.bulk_create(chunks)
            run.players_total, run.chunks_total = players, index
            run.save(update_fields=["players_total", "chunks_total"])
    except IntegrityError:
        running = BatchRun.objects.filter(
            brand=brand, register=register, status=BatchRun.Status.RUNNING
        ).first()
        if running is None:
            raise
        return running
    logger.info(
        "exclusions: %s re-check of brand %s planned: %s players, %s chunks",
        register,
        brand.code,
        players,
        index,
    )
    return run


# --- working a chunk -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkOutcome:
    chunk_index: int
    done: bool  # the chunk is finished (done or failed closed); False: pending, run paused
    hits: int = 0
    errors: int = 0


def _config(brand_id: int, register: str) -> RegisterConfig:
    config = register_config_get(brand_id=brand_id, register=register)
    if config is None:
        raise RegisterNotConfigured(f"{register}: no active configuration for this brand.")
    return config


def _gamstop_person(player: Player):
    from apps.exclusions.clients.gamstop import BatchPerson

    return BatchPerson(
        correlation_id=str(player.pk),
        first_name=player.first_name,
        last_name=player.last_name,
        date_of_birth=player.date_of_birth,
        email=player.email,
        postcode=player.postcode,
        mobile=player.mobile,
    )


def gamstop_ask_many(config: RegisterConfig, players: list[Player]) -> dict[int, tuple[str, str]]:
    """{player id: (Y/N/P, GAMSTOP's ms-request-id)}; players who cannot be sent as GAMSTOP
    requires (a field too short or long) are left out, so they fail closed, and do not take
    the rest of their batch with them. The client splits the batch under 1000 persons and
    256 KB per request. Raises RegisterUnavailable when GAMSTOP did not answer."""
    from apps.exclusions.clients import gamstop
    from apps.exclusions.exceptions import RegisterRequestInvalid

    persons = []
    for player in players:
        try:
            gamstop.person_fields(player)
        except RegisterRequestInvalid:
            continue
        persons.append(_gamstop_person(player))
    if not persons:
        return {}
    found = gamstop.batch_check_detailed(config, persons)
    return {int(key): (result.exclusion, result.reference) for key, result in found.items()}


def _ask_spelpaus(config: RegisterConfig, players: list[Player], run: BatchRun) -> dict[int, tuple[str, str]]:
    """Spelpaus' login API, one player at a time ("Y": blocked, "N": not blocked)."""
    from apps.exclusions.clients import spelpaus
    from apps.exclusions.exceptions import RegisterRequestInvalid

    answers: dict[int, tuple[str, str]] = {}
    for player in players:
        try:
            spelpaus.subject_id_of(player.national_id)
        except RegisterRequestInvalid:
            continue  # no usable personnummer: cannot be checked, fails closed
        answer = spelpaus.blocking_info(config, player.national_id, request_id=f"run{run.pk}-p{player.pk}")
        answers[player.pk] = ("Y" if answer.excluded else "N", answer.reference)
    return answers


def _ask(run: BatchRun, players: list[Player]) -> dict[int, tuple[str, str]]:
    """{player id: ("Y" | "N" | "P", reference)} for the players the register answered about.

    Raises RegisterUnavailable when the register (after the client's retries) did not answer.
    """
    config = _config(run.brand_id, run.register)
    if run.register == Register.GAMSTOP:
        return gamstop_ask_many(config, players)
    return _ask_spelpaus(config, players, run)


def _tokens_revoke(player_ids: list[int], now) -> int:
    return player_tokens_revoke(player_ids=player_ids, now=now)


def _player_exclude(run: BatchRun, player: Player, check: RegisterCheck, now) -> None:
    """A Y: self-excluded (the players' service revokes their API tokens), game sessions
    closed now, and exclusions.player_excluded_by_register published. Idempotent."""
    actor = _actor()
    _tokens_revoke([player.pk], now)
    # Already self-excluded or closed since the chunk was read: nothing more to mark.
    with contextlib.suppress(StatusChangeRefused):
        player_status_apply(
            actor=actor,
            player=player,
            transition="self_exclude",
            reason=f"Excluded on the {run.get_register_display()} register "
            f"(daily re-check, run {run.pk}, reference {check.reference or '-'}).",
        )
    game_sessions_close_for_player(player.pk, actor=actor)
    publish(
        PlayerExcludedByRegister(
            check_id=check.pk,
            brand_id=player.brand_id,
            player_id=player.pk,
            register=run.register,
            purpose=Purpose.DAILY,
            reference=check.reference,
        ),
        actor=actor,
    )


def _players_fail_closed(players: list[Player], now) -> None:
    """Unchecked players are treated as excluded until a check succeeds: no open session.

    Their next login asks the register live, which refuses them while it cannot answer.
    """
    actor = _actor()
    _tokens_revoke([p.pk for p in players], now)
    for player in players:
        game_sessions_close_for_player(player.pk, actor=actor)


def _check_row(
    run: BatchRun,
    player: Player,
    outcome: str,
    answer: str,
    latency_ms: int,
    error: str = "",
    reference: str = "",
):
    return RegisterCheck(
        brand_id=run.brand_id,
        player_id=player.pk,
        register=run.register,
        purpose=Purpose.DAILY,
        outcome=outcome,
        answer=answer,
        reference=reference[:128],
        request={"correlation-id": str(player.pk), "batch_run": run.pk},
        error=error[:500],
        latency_ms=latency_ms,
        correlation_id=str(player.pk),
        batch_run=run,
    )


def batch_chunk_process(run: BatchRun) -> ChunkOutcome | None:
    """Work the run's lowest pending chunk that no one else is working; None when none is left.

    One transaction: the chunk's row lock, the register's answer, the hits' exclusions, the
    check rows, the chunk's status and the run's counters commit together (or not at all,
    when the process dies: the chunk stays pending and is sent again, and only then).
    """
    now = timezone.now()
    actor = _actor()
    with transaction.atomic(), audit_as(actor):
        chunk = (
            BatchChunk.objects.select_for_update(skip_locked=True)
            .filter(run=run, status=BatchChunk.Status.PENDING)
            .order_by("index")
            .first()
        )
        if chunk is None:
            return None
        players = list(
            _players_of(run.brand_id)
            .filter(pk__gte=chunk.first_player_id, pk__lte=chunk.last_player_id)
            .order_by("pk")
            .only(*PLAYER_FIELDS)
        )
        chunk.attempts += 1
        started = time.monotonic()
        try:
            answers = _ask(run, players) if players else {}
        except RegisterUnavailable as exc:
            chunk.latency_ms = int((time.monotonic() - started) * 1000)
            return _chunk_failed(run, chunk, players, str(exc) or exc.__class__.__name__, now)
        chunk.latency_ms = int((time.monotonic() - started) * 1000)

        rows, hits, unanswered = [], 0, []
        for player in players:
            answer, reference = answers.get(player.pk, (None, ""))
            if answer == "Y":
                check = _check_row(
                    run, player, RegisterCheck.Outcome.EXCLUDED, "Y", chunk.latency_ms, reference=reference
                )
                check.save()
                _player_exclude(run, player, check, now)
                hits += 1
            elif answer not in ("N", "P"):
                unanswered.append(player)
                why = (
                    "cannot be sent to the register (missing or invalid fields)"
                    if answer is None
                    else "no answer"
                )
                rows.append(
                    _check_row(
                        run, player, RegisterCheck.Outcome.ERROR, answer or "", chunk.latency_ms, error=why
                    )
                )
        if unanswered:
            # A register that left someone out (or answered nonsense) has not cleared them.
            _players_fail_closed(unanswered, now)
        RegisterCheck.objects.bulk_create(rows)
        chunk.status, chunk.hits, chunk.error, chunk.finished_at = BatchChunk.Status.DONE, hits, "", now
        chunk.save(update_fields=["status", "hits", "error", "finished_at", "attempts", "latency_ms"])
        BatchRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + 1, hits=F("hits") + hits, errors=F("errors") + len(unanswered)
        )
    return ChunkOutcome(chunk.index, done=True, hits=hits, errors=len(unanswered))


def _chunk_failed(run: BatchRun, chunk: BatchChunk, players: list[Player], error: str, now) -> ChunkOutcome:
    """The register did not answer for this chunk: try again later, or, after the last
    attempt, fail its players closed. Runs inside the chunk's transaction."""
    chunk.error = error[:500]
    if chunk.attempts < settings.EXCLUSIONS_BATCH_CHUNK_MAX_ATTEMPTS:
        chunk.save(update_fields=["attempts", "error", "latency_ms"])
        logger.warning(
            "exclusions: %s chunk %s of run %s failed (attempt %s): %s; the run pauses",
            run.register,
            chunk.index,
            run.pk,
            chunk.attempts,
            error,
        )
        return ChunkOutcome(chunk.index, done=False)
    _players_fail_closed(players, now)
    RegisterCheck.objects.bulk_create(
        [_check_row(run, p, RegisterCheck.Outcome.ERROR, "", chunk.latency_ms, error=error) for p in players]
    )
    chunk.status, chunk.finished_at = BatchChunk.Status.FAILED, now
    chunk.save(update_fields=["status", "finished_at", "attempts", "error", "latency_ms"])
    BatchRun.objects.filter(pk=run.pk).update(
        chunks_done=F("chunks_done") + 1, errors=F("errors") + len(players)
    )
    publish(
        BatchChunkFailed(
            brand_id=run.brand_id,
            register=run.register,
            batch_run_id=run.pk,
            chunk_index=chunk.index,
            players=len(players),
            attempts=chunk.attempts,
            error=chunk.error,
        ),
        actor=_actor(),
    )
    logger.error(
        "exclusions: %s chunk %s of run %s failed %s times; its %s players failed closed",
        run.register,
        chunk.index,
        run.pk,
        chunk.attempts,
        len(players),
    )
    return ChunkOutcome(chunk.index, done=True, errors=len(players))


def batch_run_finish(run: BatchRun, *, now=None) -> bool:
    """Mark the run done when no chunk is pending (one that another worker holds is still
    pending). Publishes exclusions.batch_run_finished once. True if this call finished it."""
    now = now or timezone.now()
    with transaction.atomic(), audit_as(_actor()):
        if BatchChunk.objects.filter(run=run, status=BatchChunk.Status.PENDING).exists():
            return False
        if not BatchRun.objects.filter(pk=run.pk, status=BatchRun.Status.RUNNING).update(
            status=BatchRun.Status.DONE, finished_at=now
        ):
            return False
        run.refresh_from_db()
        publish(
            BatchRunFinished(
                brand_id=run.brand_id,
                register=run.register,
                batch_run_id=run.pk,
                players=run.players_total,
                chunks=run.chunks_total,
                hits=run.hits,
                errors=run.errors,
            ),
            actor=_actor(),
        )
    return True


def batch_run_resume(run: BatchRun, *, max_chunks: int | None = None) -> BatchRun:
    """Work the run's pending chunks until none is left, a chunk fails (the run pauses until
    the next tick) or `max_chunks` were worked. Safe to repeat and to run concurrently."""
    worked = 0
    while max_chunks is None or worked < max_chunks:
        outcome = batch_chunk_process(run)
        if outcome is None:
            batch_run_finish(run)
            break
        worked += 1
        if not outcome.done:
            break
    run.refresh_from_db()
    return run


# --- the schedule --------------------------------------------------------------------------


def batch_runs_due(*, now=None) -> list[BatchRun]:
    """The runs to work now: every running run, and a new one per brand and daily register
    whose last run started EXCLUSIONS_BATCH_EVERY_HOURS ago or more (or that never ran).

    With runs every 20 hours (default), ticks every 15 minutes and a failing chunk failed
    closed after 3 attempts, every player is re-checked (or loses their session) within 24 h.
    """
    now = now or timezone.now()
    every = timedelta(hours=settings.EXCLUSIONS_BATCH_EVERY_HOURS)
    runs = []
    for brand in Brand.objects.filter(active=True).order_by("pk"):
        try:
            registers = daily_registers(brand.pk)
        except PackInvalid:
            logger.error("exclusions: brand %s has no valid jurisdiction pack; no re-check", brand.code)
            continue
        for register in registers:
            if (
                settings.EXCLUSIONS_UNCONFIGURED == "skip"
                and register_config_get(brand_id=brand.pk, register=register) is None
            ):
                # Development and demo data only (settings refuse "skip" without DEBUG).
                logger.warning(
                    "exclusions: %s is not configured for brand %s; re-check skipped", register, brand.code
                )
                continue
            running = BatchRun.objects.filter(
                brand=brand, register=register, status=BatchRun.Status.RUNNING
            ).first()
            if running is not None:
                runs.append(running)
                continue
            last = BatchRun.objects.filter(brand=brand, register=register).order_by("-started_at").first()
            if last is None or last.started_at <= now - every:
                runs.append(batch_run_start(brand=brand, register=register, now=now))
    return runs


def batch_tick(*, now=None) -> list[BatchRun]:
    """One beat tick, in-process: plan what is due and work every due run."""
    return [batch_run_resume(run) for run in batch_runs_due(now=now)]


# --- reads ---------------------------------------------------------------------------------


def batch_runs_visible_to(user) -> QuerySet[BatchRun]:
    return BatchRun.objects.filter(brand__in=brands_visible_to(user))


def batch_chunks_visible_to(user) -> QuerySet[BatchChunk]:
    return BatchChunk.objects.filter(run__brand__in=brands_visible_to(user))
