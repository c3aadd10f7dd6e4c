"""GDPR erasure of a player (the right to be forgotten): personal data anonymised, the
timeline purged where the law allows it and anonymised where the law requires it be kept.

Decisions:

- Kept: the categories whose policy for the player's brand is "keep" (by default payments,
  bonuses, limits, exclusions, register checks, staff actions, registration: the AML
  records and the responsible-gaming history). GDPR art. 17(3)(b) leaves out of erasure
  what a legal obligation requires be kept. Their entries are rewritten without the free
  text people typed (redaction.py); amounts, dates, references, codes and actor labels
  (ids, never names) stay. After the policy's `after_days` from the erasure (the end of
  the relationship, from which the AML period runs) the retention run purges them.
- Purged: every other category (logins, communications, game play and its summaries, by
  default), at once. Player marks make that permanent: no rebuild or late delivery brings
  them back (retention.entries_admitted).
- The player's personal data: players.services.player_personal_data_erase (anonymised
  values, password unusable, marketing off, sessions ended, account closed). A player
  with a self-exclusion in force keeps e-mail, date of birth and national id: they are
  what a new registration of the same person is matched on
  (responsible_gaming.interface.person_excluded), and an excluded person must stay excluded
  (operators must refuse a self-excluded person for the whole exclusion, e.g. UKGC LCCP
  social responsibility code 3.5.3; to be confirmed per licence by compliance: the specs
  in shared/docs say nothing about it). They are erased by `erasures_sweep` once the
  exclusion has ended. A national register's exclusion needs nothing kept: the register
  itself recognises the person.
- Permission: timeline.add_erasurerequest to ask, timeline.process_erasure to process,
  each on the player's brand, checked by the services (admin and task are doors). A
  refusal changes nothing.
- Recorded: the request (who asked, who processed, counts, what was retained), a
  PurgeRecord of kind "erasure", the audit log of the player's change, and the events
  timeline.erasure_requested / timeline.erasure_completed.
- Resumable and idempotent: the first step commits the request as processing (player
  anonymised, marks written); entries then go in batches, each its own transaction; a
  crash leaves a processing request that processing again finishes. A completed request
  is returned unchanged.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.actors import actor_label, audit_as
from apps.core.events import publish
from apps.core.models import Event
from apps.players.models import Player
from apps.players.services import player_personal_data_erase
from apps.responsible_gaming.interface import restriction_of
from apps.tenants.exceptions import AccessDenied
from apps.tenants.permissions import user_can
from apps.timeline.events import ErasureCompleted, ErasureRequested, ErasureRetainedReleased
from apps.timeline.exceptions import ErasureAlreadyRequested, ErasureRefused
from apps.timeline.models import ErasureRequest, PurgeRecord, RetentionMark, TimelineEntry
from apps.timeline.redaction import entry_redacted
from apps.timeline.retention import (
    BATCH_SIZE,
    KEEP,
    SYSTEM,
    entries_delete,
    player_marks_write,
    policies_effective,
)

Status = ErasureRequest.Status
# What responsible_gaming.person_excluded matches a new registration on.
EXCLUSION_IDENTIFIERS = ("email", "date_of_birth", "national_id")
# How long after an erasure the sweep still looks for entries a racing delivery wrote raw.
LATE_ENTRY_DAYS = 7


def erasure_request_check(*, actor, player: Player, reason: str) -> str:
    """Why a request would be refused, raised (AccessDenied, ErasureRefused,
    ErasureAlreadyRequested); else the cleaned reason. For forms, and the service itself."""
    if not user_can(actor, "timeline.add_erasurerequest", brand_id=player.brand_id):
        raise AccessDenied("You may not request the erasure of this player.")
    reason = (reason or "").strip()
    if not reason:
        raise ErasureRefused("Say how the request reached us (the reason).", code="reason_required")
    if ErasureRequest.objects.filter(player=player, status=Status.COMPLETED).exists():
        raise ErasureRefused("This player's data is already erased.", code="already_erased")
    if ErasureRequest.objects.filter(player=player, status__in=[Status.PENDING, Status.PROCESSING]).exists():
        raise ErasureAlreadyRequested()
    return reason


def erasure_request_create(*, actor, player: Player, reason: str) -> ErasureRequest:
    """Record a player's erasure request (timeline.add_erasurerequest on the player's brand).

    Refused: no reason, a player already erased; a second open request for the same player
    is a conflict (ErasureAlreadyRequested; the unique constraint settles a race).
    Publishes timeline.erasure_requested.
    """
    reason = erasure_request_check(actor=actor, player=player, reason=reason)
    with transaction.atomic(), audit_as(actor):
        try:
            with transaction.atomic():
                erasure = ErasureRequest.objects.create(
                    player=player, brand_id=player.brand_id, reason=reason[:500], requested_by=actor
                )
        except IntegrityError as exc:
            raise ErasureAlreadyRequested() from exc
        publish(
            ErasureRequested(erasure_id=erasure.pk, player_id=player.pk, brand_id=player.brand_id),
            actor=actor,
        )
    return erasure


def retained_fields_for(player: Player, *, now: datetime | None = None) -> list[str]:
    """The personal fields the law requires be kept now: the exclusion identifiers while a
    self-exclusion is in force, else none."""
    if restriction_of(player.pk, now=now) == "self_excluded":
        return [name for name in EXCLUSION_IDENTIFIERS if getattr(player, name) not in (None, "")]
    return []


def erasure_request_process(
    *, actor, erasure: ErasureRequest, batch_size: int = BATCH_SIZE, now: datetime | None = None
) -> ErasureRequest:
    """Carry out an erasure request (timeline.process_erasure on the player's brand).

    Anonymises the player, purges the timeline categories the brand's policies do not keep
    and anonymises the entries of the others, in batches. Idempotent (a completed request
    is returned unchanged) and resumable (a processing request is finished). Locks the
    request, then the player (players service), in that order. Publishes
    timeline.erasure_completed once.
    """
    if not user_can(actor, "timeline.process_erasure", brand_id=erasure.brand_id):
        raise AccessDenied("You may not process erasure requests of this brand.")
    with transaction.atomic(), audit_as(actor):
        locked = (
            ErasureRequest.objects.select_for_update().select_related("player", "brand").get(pk=erasure.pk)
        )
        if locked.status == Status.COMPLETED:
            return locked
        if locked.status == Status.PENDING:
            _erasure_start(actor, locked, now=now)
    record = PurgeRecord.objects.get(erasure=locked, kind=PurgeRecord.Kind.ERASURE)
    purged = set(RetentionMark.objects.filter(player_id=locked.player_id).values_list("category", flat=True))
    left = TimelineEntry.objects.filter(player_id=locked.player_id)
    while True:
        done = 0
        while batch := _purge_batch(locked, record, purged, batch_size):
            done += batch
        while batch := _redact_batch(locked, record, purged, batch_size):
            done += batch
        if not (
            left.filter(category__in=purged).exists()
            or left.exclude(category__in=purged).filter(redacted_at__isnull=True).exists()
        ):
            break
        if not done:
            # Another worker (a second click, a retried task) holds the rest in a batch not
            # yet committed: it finishes the request.
            locked.refresh_from_db()
            return locked
    return _erasure_finish(actor, locked, record, sorted(purged))


def _erasure_start(actor, erasure: ErasureRequest, *, now) -> None:
    """Inside the request's lock: mark the purged categories, anonymise the player, and
    open the request's PurgeRecord. Commits with the request's move to processing."""
    player, brand = erasure.player, erasure.brand
    categories = [c for c, effective in policies_effective(brand).items() if effective.action != KEEP]
    for category in categories:
        player_marks_write(brand_id=brand.pk, player_ids=[player.pk], category=category)
    retained = retained_fields_for(player, now=now)
    player_personal_data_erase(
        actor=actor, player=player, keep=retained, reason=f"GDPR erasure (request {erasure.pk})"
    )
    erasure.status = Status.PROCESSING
    erasure.processed_by = actor
    erasure.started_at = timezone.now()
    erasure.retained_fields = retained
    erasure.save(update_fields=["status", "processed_by", "started_at", "retained_fields"])
    PurgeRecord.objects.create(
        kind=PurgeRecord.Kind.ERASURE,
        brand=brand,
        jurisdiction=brand.jurisdiction,
        erasure=erasure,
        actor=actor_label(actor),
    )


def _purge_batch(erasure: ErasureRequest, record: PurgeRecord, categories: set[str], batch_size: int) -> int:
    if not categories:
        return 0
    with transaction.atomic():
        ids = list(
            TimelineEntry.objects.filter(player_id=erasure.player_id, category__in=categories)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("occurred_at", "id")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return 0
        removed = entries_delete(ids)
        PurgeRecord.objects.filter(pk=record.pk).update(rows_removed=F("rows_removed") + removed)
        ErasureRequest.objects.filter(pk=erasure.pk).update(entries_purged=F("entries_purged") + removed)
        return len(ids)


def entries_redact(entries: list[TimelineEntry]) -> int:
    """Rewrite these entries without their event's free text, marked redacted; how many."""
    events = Event.objects.in_bulk([e.event_id for e in entries if e.event_id is not None])
    now = timezone.now()
    for entry in entries:
        event = events.get(entry.event_id)
        redacted = entry_redacted(event) if event is not None else None
        if redacted is not None:
            entry.summary = redacted.summary
        entry.redacted_at = now
    TimelineEntry.objects.bulk_update(entries, ["summary", "redacted_at"])
    return len(entries)


def _redact_batch(erasure: ErasureRequest, record: PurgeRecord, purged: set[str], batch_size: int) -> int:
    with transaction.atomic():
        entries = list(
            TimelineEntry.objects.filter(player_id=erasure.player_id, redacted_at__isnull=True)
            .exclude(category__in=purged)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("occurred_at", "id")
            .only("pk", "event_id", "summary")[:batch_size]
        )
        if not entries:
            return 0
        done = entries_redact(entries)
        PurgeRecord.objects.filter(pk=record.pk).update(rows_anonymised=F("rows_anonymised") + done)
        ErasureRequest.objects.filter(pk=erasure.pk).update(entries_anonymised=F("entries_anonymised") + done)
        return done


def _erasure_finish(actor, erasure: ErasureRequest, record: PurgeRecord, purged: list[str]) -> ErasureRequest:
    with transaction.atomic(), audit_as(actor):
        locked = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
        if locked.status != Status.PROCESSING:
            return locked  # another worker finished it
        now = timezone.now()
        locked.status = Status.COMPLETED
        locked.processed_at = now
        locked.save(update_fields=["status", "processed_at"])
        PurgeRecord.objects.filter(pk=record.pk, status=PurgeRecord.Status.RUNNING).update(
            status=PurgeRecord.Status.FINISHED, finished_at=now
        )
        publish(
            ErasureCompleted(
                erasure_id=locked.pk,
                player_id=locked.player_id,
                brand_id=locked.brand_id,
                entries_purged=locked.entries_purged,
                entries_anonymised=locked.entries_anonymised,
                categories_purged=purged,
                retained_fields=list(locked.retained_fields),
            ),
            actor=actor,
        )
    return locked


def erasures_sweep(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """The erasures' follow-up, run with retention (system:retention): erase retained
    identifiers whose self-exclusion has ended, and anonymise entries a delivery racing an
    erasure wrote raw. Idempotent. Counts of both."""
    now = now or timezone.now()
    released = 0
    holding = ErasureRequest.objects.filter(
        status=Status.COMPLETED, retained_released_at__isnull=True
    ).exclude(retained_fields=[])
    for erasure in holding.select_related("player").order_by("pk"):
        if restriction_of(erasure.player_id, now=now) == "self_excluded":
            continue
        with transaction.atomic(), audit_as(SYSTEM):
            locked = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
            if locked.retained_released_at is not None:
                continue
            fields = list(locked.retained_fields)
            player_personal_data_erase(
                actor=SYSTEM, player=erasure.player, keep=(), reason=f"GDPR erasure (request {locked.pk})"
            )
            locked.retained_fields = []
            locked.retained_released_at = timezone.now()
            locked.save(update_fields=["retained_fields", "retained_released_at"])
            publish(
                ErasureRetainedReleased(
                    erasure_id=locked.pk, player_id=locked.player_id, brand_id=locked.brand_id, fields=fields
                ),
                actor=SYSTEM,
            )
        released += 1
    redacted = 0
    recent = ErasureRequest.objects.filter(
        status=Status.COMPLETED, processed_at__gte=now - timedelta(days=LATE_ENTRY_DAYS)
    ).values("player_id")
    while True:
        with transaction.atomic():
            entries = list(
                TimelineEntry.objects.filter(player_id__in=recent, redacted_at__isnull=True)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("id")
                .only("pk", "event_id", "summary")[:batch_size]
            )
            if not entries:
                break
            redacted += entries_redact(entries)
    return {"released": released, "redacted": redacted}
