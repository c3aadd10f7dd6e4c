"""The per-player timeline: one row per outbox event worth showing to staff.

A projection, never written by hand: handlers.py adds rows as events are delivered, and
`manage.py timeline_rebuild` replays the outbox through the same mapping (projection.py).

Retention (retention.py) and GDPR erasure (erasure.py) are the only other writers: they
purge entries, fold old game entries into monthly summaries (an entry without an event,
with its GameSummary), and anonymise what the law requires be kept. RetentionMark rows
remember what was removed, so neither a rebuild nor a late delivery brings it back.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import Event
from apps.players.models import Player
from apps.tenants.models import Brand


class TimelineEntry(models.Model):
    class Category(models.TextChoices):
        REGISTRATION = "registration", "Registration and account"
        LOGIN = "login", "Login"
        PAYMENT = "payment", "Payment"
        GAME = "game", "Game"
        BONUS = "bonus", "Bonus"
        LIMIT = "limit", "Limit"
        EXCLUSION = "exclusion", "Exclusion"
        REGISTER_CHECK = "register_check", "Register check"
        STAFF_ACTION = "staff_action", "Staff action"
        COMMUNICATION = "communication", "Communication"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="timeline_entries")
    # Denormalised from the player: brand scoping of the whole table without a join.
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="timeline_entries")
    occurred_at = models.DateTimeField()
    category = models.CharField(max_length=20, choices=Category.choices)
    summary = models.CharField(max_length=255)
    amount = models.BigIntegerField(null=True, blank=True, help_text="Minor units of `currency`.")
    currency = models.CharField(max_length=8, blank=True)
    source_type = models.CharField(max_length=64, blank=True, help_text="app_label.model the entry is about")
    source_id = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=100, blank=True)
    # Unique: a redelivered (or replayed) event can never add a second entry. Empty only on a
    # game summary (many events folded into one row; its GameSummary says which month).
    event = models.OneToOneField(
        Event, null=True, blank=True, on_delete=models.PROTECT, related_name="timeline_entry"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Set when a GDPR erasure rewrote the entry without the free text staff or players typed.
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "timeline entries"
        indexes = [
            models.Index(fields=["player", "-occurred_at", "-id"], name="timeline_player_idx"),
            models.Index(
                fields=["player", "category", "-occurred_at", "-id"], name="timeline_player_category_idx"
            ),
            # Retention walks one brand's category oldest first (retention.py).
            models.Index(fields=["brand", "category", "occurred_at"], name="timeline_retention_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.category}: {self.summary}"


Category = TimelineEntry.Category


class RetentionAction(models.TextChoices):
    KEEP = "keep", "Keep"
    SUMMARISE = "summarise", "Summarise"
    PURGE = "purge", "Purge"


class RetentionPolicy(models.Model):
    """How long one category of timeline entries is kept, and what happens then.

    Three levels, the most specific wins (retention.policies_effective): a brand's own row,
    then its jurisdiction's row, then the default row (no brand, no jurisdiction). A
    category without any row is kept: nothing is removed that no policy allows.

    - purge: entries older than `after_days` are deleted.
    - summarise (game only): entries older than `after_days` become one summary entry per
      player, month and currency (rounds, sessions, bet and win totals).
    - keep: never removed while the player is a customer. `after_days` is the legal period
      (AML record keeping) counted from the end of the relationship, i.e. the player's GDPR
      erasure: entries are kept anonymised for that long after it, then purged.

    Default and jurisdiction rows are the platform's (superusers); a brand's row is its
    admins', and may not keep less than its jurisdiction requires (retention.policy_check).
    """

    Action = RetentionAction

    category = models.CharField(max_length=20, choices=Category.choices)
    jurisdiction = models.CharField(
        max_length=8, blank=True, help_text="Empty: every jurisdiction without its own row."
    )
    brand = models.ForeignKey(
        Brand,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A brand's own rule (wins over its jurisdiction's). Empty: a platform rule.",
    )
    action = models.CharField(max_length=10, choices=RetentionAction.choices)
    after_days = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(36_500)],
        help_text="Purge/summarise: the entry's age. Keep: the legal period after the erasure.",
    )
    legal_basis = models.CharField(max_length=200, blank=True, help_text="Why this period (law, policy).")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "jurisdiction", "brand_id"]
        verbose_name_plural = "retention policies"
        constraints = [
            models.UniqueConstraint(
                fields=["category", "brand"],
                condition=Q(brand__isnull=False),
                name="timeline_retention_one_per_brand",
            ),
            models.UniqueConstraint(
                fields=["category", "jurisdiction"],
                condition=Q(brand__isnull=True),
                name="timeline_retention_one_per_jurisdiction",
            ),
            models.CheckConstraint(
                condition=Q(brand__isnull=True) | Q(jurisdiction=""),
                name="timeline_retention_brand_or_jurisdiction",
            ),
            models.CheckConstraint(
                condition=~Q(action="summarise") | Q(category="game"),
                name="timeline_retention_summarise_game_only",
            ),
            models.CheckConstraint(
                condition=Q(action__in=["keep", "summarise", "purge"]), name="timeline_retention_action_valid"
            ),
        ]

    def __str__(self) -> str:
        where = self.brand.code if self.brand_id else (self.jurisdiction or "default")
        return f"{self.category} ({where}): {self.action} after {self.after_days} days"

    def get_additional_data(self) -> dict:
        if self.brand_id:
            return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}
        return {"operator_id": None, "brand_id": None}


class RetentionMark(models.Model):
    """What retention removed, so that nothing adds it back (a rebuild, a late delivery).

    A brand mark (no player): entries of the brand's category that occurred before `before`
    were purged or summarised. A player mark (`before` empty): every entry of the player's
    category was purged (GDPR erasure, or the legal period after it ended). Written before
    or with the removal it announces; only ever widened.
    """

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=20, choices=Category.choices)
    player = models.ForeignKey(Player, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "category"],
                condition=Q(player__isnull=True),
                name="timeline_mark_one_per_brand",
            ),
            models.UniqueConstraint(
                fields=["player", "category"],
                condition=Q(player__isnull=False),
                name="timeline_mark_one_per_player",
            ),
            models.CheckConstraint(
                condition=Q(player__isnull=True, before__isnull=False)
                | Q(player__isnull=False, before__isnull=True),
                name="timeline_mark_brand_or_player",
            ),
        ]

    def __str__(self) -> str:
        if self.player_id:
            return f"{self.category} of player {self.player_id}: purged"
        return f"{self.category} of brand {self.brand_id}: removed before {self.before:%Y-%m-%d}"


class GameSummary(models.Model):
    """A player's game entries of one month and currency, folded into one timeline entry.

    Totals only grow by what each summarising batch removes, in the batch's transaction, so
    a repeated or concurrent run never counts an entry twice. A round corrected after its
    entry was summarised adds only the change (retention._summarise).
    """

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="+")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The first day of the month (UTC).")
    currency = models.CharField(max_length=8)
    currency_exponent = models.PositiveSmallIntegerField(default=2)
    entries = models.PositiveIntegerField(default=0, help_text="Timeline entries folded in.")
    sessions = models.PositiveIntegerField(default=0)
    rounds = models.PositiveIntegerField(default=0)
    bet_total = models.BigIntegerField(default=0, help_text="Minor units.")
    win_total = models.BigIntegerField(default=0, help_text="Minor units.")
    # Deleting the summary entry (a purge, an erasure) deletes the totals with it.
    entry = models.OneToOneField(
        TimelineEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="game_summary"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "player_id"]
        verbose_name_plural = "game summaries"
        constraints = [
            models.UniqueConstraint(
                fields=["player", "month", "currency"], name="timeline_game_summary_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"games of player {self.player_id} in {self.month:%Y-%m} ({self.currency})"


class ErasureRequest(models.Model):
    """A GDPR erasure (right to be forgotten) of one player, and what it did.

    Processing (erasure.erasure_request_process) anonymises the player's personal data,
    purges the timeline categories the law does not require and anonymises the rest.
    `retained_fields` are personal fields kept because the law requires them (a self-excluded
    person must still be recognised at registration); they are erased once the exclusion ends.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="erasure_requests")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, help_text="The data subject's request (how it reached us).")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    retained_fields = models.JSONField(default=list, blank=True)
    retained_released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the retained fields were erased too."
    )
    entries_purged = models.PositiveIntegerField(default=0)
    entries_anonymised = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("process_erasure", "Can process GDPR erasure requests")]
        constraints = [
            # One request at a time per player: a second "add" finds the open one.
            models.UniqueConstraint(
                fields=["player"],
                condition=Q(status__in=["pending", "processing"]),
                name="timeline_one_open_erasure_per_player",
            ),
        ]
        indexes = [models.Index(fields=["status", "processed_at"], name="timeline_erasure_status_idx")]

    def __str__(self) -> str:
        return f"erasure of player {self.player_id} ({self.status})"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class PurgeRecord(models.Model):
    """Every removal from the timeline, with who, why, up to when and how many rows.

    - age: a policy's run over one brand's category (entries older than `cutoff`).
    - erased: entries of erased players (the legal period after the erasure has ended, or
      what a late delivery added after the erasure).
    - erasure: one GDPR erasure of one player (every category; `erasure` says which).

    Counts grow batch by batch in the batches' own transactions, so an interrupted run's
    record is exact, and the run that resumes it carries on the same record.
    """

    class Kind(models.TextChoices):
        AGE = "age", "Retention by age"
        ERASED = "erased", "Entries of erased players"
        ERASURE = "erasure", "GDPR erasure"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    jurisdiction = models.CharField(max_length=8, blank=True)
    category = models.CharField(max_length=20, blank=True, choices=Category.choices)
    policy = models.ForeignKey(
        RetentionPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=10, blank=True, choices=RetentionAction.choices)
    after_days = models.PositiveIntegerField(null=True, blank=True)
    cutoff = models.DateTimeField(null=True, blank=True, help_text="Entries older than this were removed.")
    erasure = models.ForeignKey(
        ErasureRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="purge_records"
    )
    rows_removed = models.PositiveIntegerField(default=0)
    rows_summarised = models.PositiveIntegerField(default=0)
    rows_anonymised = models.PositiveIntegerField(default=0)
    summaries_written = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=100)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One run in progress per brand, category and kind: a second worker (or the next
            # beat tick) joins it instead of starting another with another cutoff.
            models.UniqueConstraint(
                fields=["brand", "category", "kind"],
                condition=Q(status="running", erasure__isnull=True),
                name="timeline_one_running_purge",
            ),
        ]

    def __str__(self) -> str:
        what = self.category or "all categories"
        return f"{self.get_kind_display()} of {what} ({self.status})"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}
