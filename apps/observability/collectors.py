"""Gauges read at scrape time: outbox lag, review queue and SLA breaches, broker queue depth.

Each source is asked through its app's public functions (core.outbox.outbox_lag,
payments.selectors.review_queue_stats) in a transaction with a short statement timeout; a
source that fails is reported as `pam_scrape_error{source=...} 1` instead of failing the
whole scrape.
"""

import contextlib
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


class ScrapeCollector:
    def collect(self):
        errors = GaugeMetricFamily(
            "pam_scrape_error", "1 when a source of this scrape could not be read.", labels=["source"]
        )
        for source, read in (("outbox", _outbox), ("review_queue", _review_queue), ("broker", _broker)):
            try:
                families = list(read())
            except Exception:  # noqa: BLE001 - one source down must not hide the others
                logger.exception("metrics: %s could not be read", source)
                errors.add_metric([source], 1)
                continue
            errors.add_metric([source], 0)
            yield from families
        yield errors


@contextlib.contextmanager
def _bounded():
    """A transaction whose statements give up after METRICS_QUERY_TIMEOUT_MS (PostgreSQL)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)",
                    [str(settings.METRICS_QUERY_TIMEOUT_MS)],
                )
        yield


def _outbox():
    from apps.core.outbox import outbox_lag

    with _bounded():
        lag = outbox_lag()
    yield GaugeMetricFamily(
        "pam_outbox_oldest_undispatched_age_seconds",
        "Age of the oldest event not yet delivered to all its handlers (0 when none).",
        value=lag["oldest_undispatched_seconds"],
    )
    yield GaugeMetricFamily(
        "pam_outbox_undispatched_events",
        "Events not yet delivered to all their handlers (capped).",
        value=lag["undispatched_events"],
    )
    deliveries = GaugeMetricFamily(
        "pam_outbox_deliveries_waiting",
        "Handler deliveries waiting for a retry (pending) or given up on (dead), capped.",
        labels=["status"],
    )
    deliveries.add_metric(["pending"], lag["pending_deliveries"])
    deliveries.add_metric(["dead"], lag["dead_deliveries"])
    yield deliveries


def _review_queue():
    from apps.payments.models import Queue
    from apps.payments.selectors import review_queue_stats

    with _bounded():
        stats = review_queue_stats(now=timezone.now())
    items = GaugeMetricFamily(
        "pam_payments_review_queue_items", "Payments waiting for or under review, by queue.", labels=["queue"]
    )
    breached = GaugeMetricFamily(
        "pam_payments_review_sla_breached_items",
        "Payments under review past their SLA deadline, by queue.",
        labels=["queue"],
    )
    # Every queue always, so a queue that empties reads 0 rather than vanishing.
    for queue in sorted({*(q.value or "none" for q in Queue), *stats}):
        row = stats.get(queue, {"items": 0, "breached": 0})
        items.add_metric([queue], row["items"])
        breached.add_metric([queue], row["breached"])
    yield items
    yield breached


def _broker():
    """Messages waiting in each Celery queue; nothing when Celery runs eagerly (no broker)."""
    from pam.celery import app as celery_app

    if celery_app.conf.task_always_eager:
        return
    depth = GaugeMetricFamily(
        "pam_celery_queue_messages", "Messages waiting in a Celery queue of the broker.", labels=["queue"]
    )
    timeout = settings.READINESS_TIMEOUT_SECONDS
    queues = sorted(celery_app.amqp.queues) or [celery_app.conf.task_default_queue]
    with celery_app.connection_for_read(connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        channel = conn.default_channel
        for queue in queues:
            # passive: only asks; a queue that does not exist yet has no messages.
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
            except conn.channel_errors:
                depth.add_metric([queue], 0)
                continue
            depth.add_metric([queue], declared.message_count)
    yield depth
