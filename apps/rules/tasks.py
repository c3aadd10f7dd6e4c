"""BeAware's scheduled and queued work: backtests, message delivery, old facts."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apps.rules.backtest import backtest_run
from apps.rules.catalogue import MAX_WINDOW_SECONDS
from apps.rules.models import Fact, Message

logger = logging.getLogger(__name__)
PURGE_BATCH = 10_000


@shared_task
def backtest_run_task(run_id: int) -> None:
    backtest_run(run_id)


@shared_task
def message_deliver_task(message_id: int) -> None:
    """Send a queued message once: the row is claimed (queued -> sent) before sending, so a
    repeated task sends nothing twice; a failed send is marked failed for staff to see."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .select_related("player")
            .filter(pk=message_id, status=Message.Status.QUEUED)
            .first()
        )
        if message is None:
            return
        if message.channel == Message.Channel.INBOX:
            # The in-account inbox is this row: the player API lists sent messages.
            message.status = Message.Status.SENT
        else:
            try:
                send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.player.email])
                message.status = Message.Status.SENT
            except OSError:
                logger.warning("message %s could not be sent", message.pk, exc_info=True)
                message.status = Message.Status.FAILED
        message.sent_at = timezone.now() if message.status == Message.Status.SENT else None
        message.save(update_fields=["status", "sent_at"])


@shared_task
def facts_purge_task() -> int:
    """Delete facts older than the longest window any rule may read, a batch at a time."""
    cutoff = timezone.now() - timedelta(seconds=MAX_WINDOW_SECONDS) - timedelta(days=1)
    removed = 0
    while True:
        ids = list(Fact.objects.filter(occurred_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            return removed
        removed += Fact.objects.filter(pk__in=ids).delete()[0]
