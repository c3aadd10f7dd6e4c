"""Shared-kernel models: currencies and the transactional outbox of domain events."""

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Currency(models.Model):
    """An ISO 4217 (or crypto) currency and the number of decimal places of its minor unit."""

    code = models.CharField(max_length=8, primary_key=True, validators=[RegexValidator(r"^[A-Z0-9]{3,8}$")])
    name = models.CharField(max_length=64)
    exponent = models.PositiveSmallIntegerField(validators=[MaxValueValidator(18)])

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self) -> str:
        return self.code


class Event(models.Model):
    """A domain event, written in the same transaction as the change it announces.

    Rows are never changed after insert except `dispatched_at`, which the dispatcher sets
    once every subscribed handler has run. `id` orders events and is the cursor that
    consumers (timeline rebuild, live dashboards' catch-up) resume from.
    """

    type = models.CharField(max_length=100, db_index=True)
    # Plain ids rather than foreign keys: the kernel must not depend on the domain apps,
    # and events outlive the rows they mention (an erased player keeps its events).
    brand_id = models.BigIntegerField(null=True, blank=True)
    player_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    occurred_at = models.DateTimeField(default=timezone.now)
    correlation_id = models.CharField(max_length=64, blank=True)
    actor = models.CharField(
        max_length=100, help_text="Who caused it: staff:ID, player:ID, system:NAME, provider:NAME"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["player_id", "id"], name="core_event_player_idx"),
            models.Index(fields=["brand_id", "id"], name="core_event_brand_idx"),
            models.Index(
                fields=["occurred_at"],
                name="core_event_undispatched_idx",
                condition=Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type}"


class EventDelivery(models.Model):
    """The delivery of one event to one handler: the handler's idempotency record.

    A handler's database writes commit in the same transaction that marks its delivery
    done, so a redelivered event is skipped by handlers that already ran.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        DEAD = "dead", "Dead (gave up; needs a person)"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    handler = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "event deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="core_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="core_delivery_due_idx",
                condition=Q(status="pending"),
            ),
            # Dead deliveries wait for a person: counted by the metrics endpoint, listed by the admin.
            models.Index(fields=["event"], name="core_delivery_dead_idx", condition=Q(status="dead")),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.handler} ({self.status})"
