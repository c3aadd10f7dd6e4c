"""The Prometheus endpoint: who may read it, and figures that move when things happen."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.core.models import Event, EventDelivery
from apps.payments.models import Status
from apps.wallet.exceptions import InsufficientFunds
from apps.wallet.services import bet_place, deposit_credit, wallet_get_or_create
from tests.core.test_celery_worker import celery_configured
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login
from tests.payments.conftest import PROVIDER
from tests.payments.states import D, W, lenient_policy, payment_in

TOKEN = "scrape-token-0123456789"

FAMILIES = {
    "pam_http_requests",
    "pam_http_request_duration_seconds",
    "pam_wallet_operations",
    "pam_register_checks",
    "pam_register_check_duration_seconds",
    "pam_outbox_deliveries",
    "pam_payments_review_sla_escalations",
    "pam_outbox_oldest_undispatched_age_seconds",
    "pam_outbox_undispatched_events",
    "pam_outbox_deliveries_waiting",
    "pam_payments_review_queue_items",
    "pam_payments_review_sla_breached_items",
    "pam_scrape_error",
}


@pytest.fixture
def gb_player(brand):
    return PlayerFactory(brand=brand, kyc_status="verified")


@pytest.fixture
def funded(gb_player):
    """gb_player's GBP wallet with 1,000.00 in it."""
    wallet = wallet_get_or_create(player=gb_player, currency_code="GBP")
    deposit_credit(
        wallet=wallet, amount=100_000, source="test", external_id=f"fund-{gb_player.pk}", actor=PROVIDER
    )
    return wallet


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token=TOKEN) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape; also the family names."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples, families = {}, set()
    for family in text_string_to_metric_families(response.content.decode()):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    samples["__families__"] = families
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_refused(client, metrics_token):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"pam_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer é"])
def test_a_wrong_token_is_refused(client, metrics_token, header):
    response = client.get("/metrics", headers={"Authorization": header})

    assert response.status_code == 401
    assert b"pam_" not in response.content


@pytest.mark.django_db
def test_without_a_configured_token_no_bearer_is_accepted(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


@pytest.mark.django_db
def test_staff_without_superuser_are_refused_and_superusers_may_look(client, make_staff, brand, superuser):
    staff_login(
        client, make_staff("Brand admin", brands=[brand]), backend="django.contrib.auth.backends.ModelBackend"
    )
    assert client.get("/metrics").status_code == 403

    staff_login(client, superuser)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"pam_http_requests_total" in response.content


# --- content ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_family_is_there_and_requests_are_counted_by_view(client, metrics_token):
    client.get("/healthz")
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")

    after = scrape(client)

    assert after["__families__"] >= FAMILIES
    labels = {"view": "healthz", "method": "GET", "status": "200"}
    assert (
        value(after, "pam_http_requests_total", **labels) - value(before, "pam_http_requests_total", **labels)
        == 2
    )
    assert value(after, "pam_http_request_duration_seconds_count", view="healthz", method="GET") >= 3
    # an unknown path is one label, not one per path
    client.get("/api/v1/nothing/12345")
    assert value(scrape(client), "pam_http_requests_total", view="unmatched", method="GET", status="404") >= 1


@pytest.mark.django_db
def test_wallet_operations_are_counted_by_outcome(client, metrics_token, funded):
    before = scrape(client)

    bet_place(wallet=funded, amount=100, source="test", external_id="m-1", actor=PROVIDER)
    bet_place(wallet=funded, amount=100, source="test", external_id="m-1", actor=PROVIDER)  # replay
    with pytest.raises(InsufficientFunds):
        bet_place(wallet=funded, amount=10**9, source="test", external_id="m-2", actor=PROVIDER)

    after = scrape(client)

    def moved(outcome):
        name = "pam_wallet_operations_total"
        return value(after, name, kind="bet_place", outcome=outcome) - value(
            before, name, kind="bet_place", outcome=outcome
        )

    assert (moved("ok"), moved("replayed"), moved("insufficient_funds")) == (1, 1, 1)


@pytest.mark.django_db
def test_outbox_lag_and_waiting_deliveries_are_read_at_scrape_time(client, metrics_token):
    assert value(scrape(client), "pam_outbox_oldest_undispatched_age_seconds") == 0

    # given: an event that was never dispatched, two minutes old, and a dead delivery
    old = Event.objects.create(
        type="test.lagging", occurred_at=timezone.now() - timedelta(seconds=120), actor="x"
    )
    Event.objects.create(type="test.lagging", actor="x")
    EventDelivery.objects.create(event=old, handler="tests.dead", status=EventDelivery.Status.DEAD)
    EventDelivery.objects.create(event=old, handler="tests.waiting", status=EventDelivery.Status.PENDING)

    samples = scrape(client)

    assert 120 <= value(samples, "pam_outbox_oldest_undispatched_age_seconds") < 180
    assert value(samples, "pam_outbox_undispatched_events") == 2
    assert value(samples, "pam_outbox_deliveries_waiting", status="dead") == 1
    assert value(samples, "pam_outbox_deliveries_waiting", status="pending") == 1
    assert value(samples, "pam_scrape_error", source="outbox") == 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_review_queue_size_and_sla_breaches_per_queue(
    client, metrics_token, brand, gb_player, funded, reviewer
):
    lenient_policy(brand, sla_minutes=240, senior_sla_minutes=480)
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=5), tick=False):
        payment_in(D, Status.FLAGGED, player=gb_player, reviewer=reviewer)  # due 1 h ago
    payment_in(W, Status.PENDING_REVIEW, player=gb_player, reviewer=reviewer)  # due in 4 h

    samples = scrape(client)

    assert value(samples, "pam_payments_review_queue_items", queue="standard") == 2
    assert value(samples, "pam_payments_review_sla_breached_items", queue="standard") == 1
    assert value(samples, "pam_payments_review_queue_items", queue="senior") == 0


@pytest.mark.redis
@pytest.mark.django_db
def test_celery_queue_depth_is_read_from_the_broker(client, metrics_token, settings):
    from apps.core.tasks import outbox_sweep_task
    from apps.rules.tasks import facts_purge_task

    with celery_configured(broker_url=settings.REDIS_URL, task_always_eager=False) as app:
        app.control.purge()
        # no worker: the messages wait in their queues (the outbox's has its own)
        outbox_sweep_task.delay()
        outbox_sweep_task.delay()
        facts_purge_task.delay()
        try:
            samples = scrape(client)
        finally:
            app.control.purge()

    assert value(samples, "pam_celery_queue_messages", queue="outbox") == 2
    assert value(samples, "pam_celery_queue_messages", queue="celery") == 1
    assert value(samples, "pam_scrape_error", source="broker") == 0


@pytest.mark.django_db
def test_a_broker_that_is_down_is_an_error_of_its_source_not_of_the_scrape(client, metrics_token):
    from tests.core.test_celery_worker import closed_port

    with celery_configured(broker_url=f"redis://127.0.0.1:{closed_port()}/0", task_always_eager=False):
        samples = scrape(client)

    assert value(samples, "pam_scrape_error", source="broker") == 1
    assert value(samples, "pam_scrape_error", source="outbox") == 0
