"""National self-exclusion registers: configuration per brand, every check we made, the
daily batch re-check runs and their chunks, and marketing exports with what they removed.

Which register applies to a brand, and when it is asked, comes from its jurisdiction pack
(compliance: exclusion_registers); a RegisterConfig only says how to reach it.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.players.models import Player
from apps.tenants.models import Brand


class Register(models.TextChoices):
    GAMSTOP = "gamstop", "GAMSTOP (GB)"
    SPELPAUS = "spelpaus", "Spelpaus (SE)"


class Purpose(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    LOGIN = "login", "Login"
    MARKETING = "marketing", "Marketing"
    DAILY = "daily", "Daily re-check"
    MANUAL = "manual", "Manual check"


class RegisterConfig(models.Model):
    """How a brand reaches a register. The API key is a secret: write-only in the admin."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="register_configs")
    register = models.CharField(max_length=16, choices=Register.choices)
    active = models.BooleanField(default=True)
    base_url = models.URLField(help_text="GAMSTOP single-check host / Spelpaus login API base.")
    batch_url = models.URLField(blank=True, help_text="GAMSTOP batch host / Spelpaus marketing API base.")
    actor_id = models.CharField(max_length=64, blank=True, help_text="Spelpaus actorId.")
    api_key = models.CharField(max_length=512, blank=True)
    timeout_seconds = models.FloatField(default=5.0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "register"], name="exclusions_one_config_per_brand_register"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_register_display()} for {self.brand}"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class RegisterCheck(models.Model):
    """One question to a register and its answer (or the error that failed it closed)."""

    class Outcome(models.TextChoices):
        EXCLUDED = "excluded", "Excluded"  # GAMSTOP Y, Spelpaus isBlocked / not allowed
        ALLOWED = "allowed", "Allowed"  # GAMSTOP N, Spelpaus not blocked
        LAPSED = "lapsed", "Previously excluded (allowed)"  # GAMSTOP P
        ERROR = "error", "Error (failed closed)"

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    player = models.ForeignKey(
        Player, on_delete=models.PROTECT, null=True, blank=True, related_name="register_checks"
    )
    register = models.CharField(max_length=16, choices=Register.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    answer = models.CharField(
        max_length=32, blank=True, help_text="The register's raw answer (Y/N/P, true/false)."
    )
    reference = models.CharField(max_length=128, blank=True, help_text="X-Unique-Id / responseId.")
    request = models.JSONField(
        default=dict, blank=True, help_text="What was sent (personal data: masked in the admin)."
    )
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    correlation_id = models.CharField(max_length=64, blank=True)
    actor = models.CharField(
        max_length=64, blank=True, help_text="Who asked: player:ID, staff:ID (check now), system:NAME."
    )
    batch_run = models.ForeignKey(
        "BatchRun", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["player", "-created_at"], name="exclusions_check_player_idx")]
        permissions = [("check_now", "Can check a player against the self-exclusion registers now")]

    def __str__(self) -> str:
        return f"{self.register} {self.purpose}: {self.outcome}"


class BatchRun(models.Model):
    """A daily re-check of every active player of one register, in chunks (resumable)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    register = models.CharField(max_length=16, choices=Register.choices)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    players_total = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # At most one run in progress per brand and register: a second start (two beat
            # ticks, two workers) finds the running one instead of planning another.
            models.UniqueConstraint(
                fields=["brand", "register"],
                condition=models.Q(status="running"),
                name="exclusions_one_running_batch_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.register} re-check of {self.brand} ({self.status})"


class BatchChunk(models.Model):
    """Up to a register's batch size of players (by id range), sent as one request."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BatchRun, on_delete=models.PROTECT, related_name="chunks")
    index = models.PositiveIntegerField()
    first_player_id = models.BigIntegerField()
    last_player_id = models.BigIntegerField()
    players = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(
        default=0, help_text="The register's answer time (last attempt)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="exclusions_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id} ({self.status})"


class MarketingExport(models.Model):
    """A list of contactable players produced for a campaign; what was removed, and why."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=200)
    candidates = models.PositiveIntegerField(default=0)
    included = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("export_marketing", "Can export contactable players for marketing")]

    def __str__(self) -> str:
        return f"marketing export #{self.pk} of {self.brand}"


class MarketingRemoval(models.Model):
    export = models.ForeignKey(MarketingExport, on_delete=models.PROTECT, related_name="removals")
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=32, help_text="self_excluded, opted_out, register_refused, ...")

    def __str__(self) -> str:
        return f"{self.player_id} removed: {self.reason}"
