"""Responsible gaming: limits, their scheduled changes, time-outs and self-exclusions, and
what the wallet guard reads and keeps (one state row per player, per-period running totals).
"""

from django.db import models
from django.utils import timezone

from apps.players.models import Player
from apps.tenants.models import Brand


class Kind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit limit"
    LOSS = "loss", "Loss limit"
    WAGER = "wager", "Wager limit"
    SESSION = "session", "Session time limit (minutes)"


class Period(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    SESSION = "session", "Session"


# Money limits are tracked by the guard; a session limit is minutes, checked at the doors.
MONEY_KINDS = (Kind.DEPOSIT, Kind.LOSS, Kind.WAGER)
MONEY_PERIODS = (Period.DAY, Period.WEEK, Period.MONTH)


class Limit(models.Model):
    """A limit in force. Amounts in minor units of `currency` (minutes for session limits)."""

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="rg_limits")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    period = models.CharField(max_length=8, choices=Period.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, blank=True)
    set_by = models.CharField(max_length=80)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["player", "kind", "period"]
        constraints = [
            models.UniqueConstraint(fields=["player", "kind", "period"], name="rg_limit_unique"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="rg_limit_amount_non_negative"),
        ]
        permissions = [("set_limits", "Can set players' limits, time-outs and exclusions (with a reason)")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} per {self.period}: {self.amount} {self.currency}".strip()

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class LimitChange(models.Model):
    """A requested change of a limit: decreases are applied at once, increases (and removals)
    wait for the pack's cooling-off and are applied by limits_apply_due_task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        CANCELLED = "cancelled", "Cancelled"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="rg_limit_changes")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    period = models.CharField(max_length=8, choices=Period.choices)
    old_amount = models.BigIntegerField(null=True, blank=True)
    new_amount = models.BigIntegerField(null=True, blank=True, help_text="Empty: the limit is removed.")
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    effective_at = models.DateTimeField()
    rule = models.CharField(max_length=200, blank=True, help_text="The pack rule that set the delay.")
    requested_by = models.CharField(max_length=80)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["effective_at"], name="rg_change_due_idx", condition=models.Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        new = "none" if self.new_amount is None else self.new_amount
        return f"{self.kind}/{self.period}: {self.old_amount} → {new} ({self.status})"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class ExclusionKind(models.TextChoices):
    TIMEOUT = "timeout", "Time-out"
    SELF_EXCLUSION = "self_exclusion", "Self-exclusion"


class Exclusion(models.Model):
    """A time-out or a self-exclusion of one player account. `ends_at` empty: indefinite.

    An exclusion of every brand of the operator is one row per account of the same person
    (`scope` = operator, `origin` the exclusion the person asked for).
    """

    Kind = ExclusionKind

    class Scope(models.TextChoices):
        BRAND = "brand", "This brand"
        OPERATOR = "operator", "Every brand of the operator"

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="rg_exclusions")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.BRAND)
    origin = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    # Play resumes only after this cooling-off past the end (packs: self_exclusion.relax_cooling_off_hours).
    cooling_off_hours = models.PositiveIntegerField(default=0)
    requested_by = models.CharField(max_length=80)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["player", "ends_at"], name="rg_exclusion_player_idx")]

    def __str__(self) -> str:
        until = f"until {self.ends_at:%Y-%m-%d %H:%M}" if self.ends_at else "indefinite"
        return f"{self.get_kind_display()} of player {self.player_id} ({until})"

    @property
    def blocked_until(self):
        """When play may resume (None: indefinite)."""
        if self.ends_at is None:
            return None
        return self.ends_at + timezone.timedelta(hours=self.cooling_off_hours)

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class GuardState(models.Model):
    """What the wallet guard needs about a player, in one row read by primary key.

    Rewritten (under the player's guard lock, see guard.py) whenever a limit or an
    exclusion changes. A player without a row has no limits and no exclusion.
    """

    player = models.OneToOneField(Player, on_delete=models.CASCADE, primary_key=True, related_name="+")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    blocked_code = models.CharField(
        max_length=16, blank=True, help_text='"", "timed_out" or "self_excluded".'
    )
    blocked_until = models.DateTimeField(null=True, blank=True, help_text="Empty with a code: indefinite.")
    # {"span": "calendar"|"rolling", "tz": "...", "currency": "GBP",
    #  "deposit": {"day": 5000}, "loss": {...}, "wager": {...}}
    limits = models.JSONField(default=dict, blank=True)
    reality_check_minutes = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"guard state of player {self.player_id}"


class RunningTotal(models.Model):
    """The ledger's figure for one kind (deposit, loss, wager), player, currency and window.

    Calendar limits keep one row per period; rolling limits one row per bucket (an hour for
    a day's window, a day for a week's or a month's), summed over the window. Kept by the
    guard inside the wallet's transaction; reconcile_rg_totals proves each equals the ledger.
    """

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    period = models.CharField(max_length=8, choices=Period.choices)
    span = models.CharField(max_length=8, default="calendar", help_text="calendar or rolling")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["player", "kind", "period", "period_start", "currency"], name="rg_total_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.period} from {self.period_start:%Y-%m-%d %H:%M}: {self.total}"


class Refusal(models.Model):
    """A money movement or action the responsible-gaming rules refused (breach attempt).

    Written after the refused transaction has rolled back (refusals.py), so it survives it.
    """

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="+")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=24)
    code = models.CharField(max_length=32)
    amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    source = models.CharField(max_length=32, blank=True)
    game_ref = models.CharField(max_length=128, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["brand", "-occurred_at"], name="rg_refusal_brand_idx")]

    def __str__(self) -> str:
        return f"{self.action} refused ({self.code}) for player {self.player_id}"
