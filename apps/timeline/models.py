"""The per-player timeline: one row per outbox event worth showing to staff.

A projection, never written by hand: handlers.py adds rows as events are delivered, and
`manage.py timeline_rebuild` replays the outbox through the same mapping (projection.py).
"""

from django.db import models
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
    # Unique: a redelivered (or replayed) event can never add a second entry.
    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="timeline_entry")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "timeline entries"
        indexes = [
            models.Index(fields=["player", "-occurred_at", "-id"], name="timeline_player_idx"),
            models.Index(
                fields=["player", "category", "-occurred_at", "-id"], name="timeline_player_category_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.category}: {self.summary}"
