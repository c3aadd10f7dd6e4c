"""BeAware: rules compliance officers write, and what they did.

A Rule is the stable identity (brand, name, enabled, priority); what it says lives in
immutable RuleVersions, so every hit names the exact text that fired and an edit never
rewrites history. Facts are the engine's own compact copy of the events its aggregates
count; hits, cooldowns, risk markers, review tasks and messages are what rules did.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import Event
from apps.players.models import Player
from apps.tenants.models import Brand


class _BrandAudited:
    """Audit rows carry the brand, so the audit log is brand-scoped too (core.admin)."""

    def get_additional_data(self) -> dict:
        brand = self.rule.brand if isinstance(self, RuleVersion) else self.brand
        return {"operator_id": brand.operator_id, "brand_id": brand.pk}


class Rule(_BrandAudited, models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="rules")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=False, help_text="Only enabled rules are evaluated live.")
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower runs first.")
    stop_processing = models.BooleanField(
        default=False, help_text="When this rule fires, rules of lower priority skip this event."
    )
    current_version = models.ForeignKey(
        "RuleVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["brand", "priority", "name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="rules_rule_brand_name_uniq")]
        permissions = [
            ("enable_rule", "Can enable and disable rules"),
            ("run_backtest", "Can dry-run and backtest rules"),
        ]

    def __str__(self) -> str:
        return self.name


class RuleVersion(_BrandAudited, models.Model):
    """What a rule says, as of one edit. Never changed after insert."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    triggers = models.JSONField(help_text="Event types that run the rule.")
    condition = models.TextField()
    actions = models.JSONField(help_text="What the rule does when it fires, in order.")
    cooldown_seconds = models.PositiveIntegerField(
        default=86400, help_text="After firing for a player, the rule stays quiet for them this long."
    )
    note = models.CharField(max_length=255, blank=True, help_text="Why this version.")
    created_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rule", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="rules_version_rule_number_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.rule} v{self.number}"


class Fact(models.Model):
    """One counted event of a player (a deposit, a bet...), for the windowed aggregates.
    Written by the engine as events arrive; unique by event, so a redelivery adds nothing."""

    event_id = models.BigIntegerField(unique=True)
    player_id = models.BigIntegerField()
    brand_id = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=40, decimal_places=18, help_text="Major units.")
    occurred_at = models.DateTimeField()
    night = models.BooleanField(help_text="At 00:00-05:59 at the brand.")

    class Meta:
        # Covering: the aggregates statement reads a player's window from the index alone.
        indexes = [
            models.Index(
                fields=["player_id", "occurred_at"],
                include=["kind", "amount", "night", "event_id"],
                name="rules_fact_player_time_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} at {self.occurred_at:%Y-%m-%d %H:%M}"


class RuleCooldown(models.Model):
    """When the rule last fired for the player; claimed by one conditional upsert."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+")
    player_id = models.BigIntegerField()
    last_fired_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "player_id"], name="rules_cooldown_rule_player_uniq")
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id}, player {self.player_id}: {self.last_fired_at:%Y-%m-%d %H:%M}"


class RuleHit(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="hits")
    version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="hits")
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="rule_hits")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, related_name="+", help_text="What triggered it."
    )
    fired_at = models.DateTimeField(help_text="When the triggering event happened.")
    values = models.JSONField(default=dict, help_text="The aggregates the condition read.")
    outcomes = models.JSONField(default=list, help_text="Each action and what came of it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "event"], name="rules_hit_rule_event_uniq")]
        indexes = [models.Index(fields=["player", "-fired_at"], name="rules_hit_player_idx")]

    def __str__(self) -> str:
        return f"{self.rule} hit player {self.player_id}"


class RiskMarker(_BrandAudited, models.Model):
    class Level(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="risk_markers")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    marker = models.CharField(max_length=64)
    level = models.CharField(max_length=6, choices=Level.choices, default=Level.MEDIUM)
    hit = models.ForeignKey(RuleHit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.CharField(max_length=100, blank=True)
    clear_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["player"], name="rules_marker_active_idx", condition=Q(cleared_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"{self.marker} ({self.level})"


class ReviewTask(_BrandAudited, models.Model):
    """Work for a person: a compliance queue item a rule opened."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="review_tasks")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    queue = models.CharField(max_length=32)
    title = models.CharField(max_length=255)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    hit = models.ForeignKey(RuleHit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["status", "created_at"]
        indexes = [models.Index(fields=["brand", "queue", "status"], name="rules_task_queue_idx")]
        permissions = [("work_review_task", "Can take and close rule review tasks")]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    """A message a rule sent the player (safer-gambling interaction)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        INBOX = "inbox", "In-account inbox"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="rule_messages")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.QUEUED)
    hit = models.ForeignKey(RuleHit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


class BacktestRun(models.Model):
    """A dry run of one rule version over past events: who it would have hit, how often."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="backtests")
    version = models.ForeignKey(RuleVersion, on_delete=models.CASCADE, related_name="backtests")
    days = models.PositiveSmallIntegerField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    events_scanned = models.BigIntegerField(default=0)
    events_triggering = models.BigIntegerField(default=0)
    hits = models.BigIntegerField(default=0)
    players_hit = models.IntegerField(default=0)
    duration_ms = models.IntegerField(default=0)
    results = models.JSONField(
        default=dict, help_text="Players hit (most hits first) with their counts, hits per day."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"backtest of {self.rule} over {self.days} days"
