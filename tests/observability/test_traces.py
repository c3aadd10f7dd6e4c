"""One trace from a Hub88 bet's HTTP request through the wallet, the outbox's Celery task and
the event handlers: eagerly, through a real broker and worker, and across a relay batch."""

import json

import pytest
from django.db import transaction
from django.test import Client

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.core.models import Event
from apps.core.tasks import event_dispatch_batch_task
from apps.games.providers.hub88 import signing
from apps.observability import tracing
from tests.core.test_celery_worker import running_worker, wait_until_dispatched
from tests.core.urls import ButtonPressed
from tests.games.conftest import ENDPOINTS
from tests.observability.conftest import named, trace_ids

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
HANDLER = "outbox.handler apps.games.handlers.games_round_on_wallet_movement"


def post_bet(keys, body, **headers):
    """Hub88's bet call over HTTP (signed raw body), with extra headers (traceparent)."""
    raw = json.dumps(body).encode()
    response = Client().post(
        ENDPOINTS["bet"],
        data=raw,
        content_type="application/json",
        headers={"X-Hub88-Signature": signing.sign(raw, keys.hub88_private), **headers},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "RS_OK", response.content
    return response


def bet_event(body) -> Event:
    from apps.wallet.models import LedgerTransaction

    txn = LedgerTransaction.objects.get(source="hub88", external_id=body["transaction_uuid"])
    return Event.objects.get(type="wallet.bet_placed", payload__transaction_id=txn.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hub88_bet_is_one_trace_from_the_request_to_the_handlers_eager_celery(spans, keys, movement):
    # given: Hub88 sends its trace context with the bet
    body = movement("bet")
    spans.clear()  # the fixtures' own queries

    # when
    response = post_bet(keys, body, traceparent=TRACEPARENT)

    # then: every span of the bet is in Hub88's trace, and the correlation id is that trace
    finished = spans.get_finished_spans()
    server = [s for s in finished if s.kind.name == "SERVER"]
    assert len(server) == 1
    assert server[0].attributes["pam.correlation_id"] == TRACE_ID
    assert named(finished, "wallet.bet_place")
    assert named(finished, "run/apps.core.tasks.event_dispatch_task")
    assert named(finished, "outbox.dispatch wallet.bet_placed")
    assert named(finished, HANDLER)
    assert any(s.attributes.get("db.system") == "postgresql" for s in finished)
    assert trace_ids(finished) == {TRACE_ID}
    assert response["X-Correlation-ID"] == TRACE_ID
    assert response["X-Request-ID"] == TRACE_ID
    assert bet_event(body).correlation_id == TRACE_ID
    # the handler's span is under the dispatch, which is under the task, under the request
    by_id = {s.context.span_id: s for s in finished}
    handler = named(finished, HANDLER)[0]
    chain = []
    current = handler
    while current.parent is not None and current.parent.span_id in by_id:
        current = by_id[current.parent.span_id]
        chain.append(current.name)
    assert chain[0] == "outbox.dispatch wallet.bet_placed"
    assert "run/apps.core.tasks.event_dispatch_task" in chain
    assert current is server[0]


@pytest.mark.django_db(transaction=True)
def test_without_a_traceparent_the_request_starts_the_trace_and_its_id_is_the_correlation_id(
    spans, keys, movement
):
    body = movement("bet")
    spans.clear()

    response = post_bet(keys, body)

    finished = spans.get_finished_spans()
    (trace_id,) = trace_ids(finished)
    assert trace_id != TRACE_ID
    assert response["X-Correlation-ID"] == trace_id
    assert bet_event(body).correlation_id == trace_id
    assert named(finished, HANDLER)


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hub88_bet_is_one_trace_across_the_relay_the_broker_and_a_real_worker(spans, keys, movement):
    body = movement("bet")
    with running_worker():
        spans.clear()
        # when: the bet commits; its event goes to the relay, the broker and the worker
        post_bet(keys, body, traceparent=TRACEPARENT)
        event = wait_until_dispatched(bet_event(body))

    finished = spans.get_finished_spans()
    # then: the relay's publish, the Celery message both sides and the handlers are in the
    # bet's trace (a bet has batch handlers only: each is one span for the whole batch)
    for name in (
        "outbox.relay publish",
        "apply_async/apps.core.tasks.event_dispatch_batch_task",
        "run/apps.core.tasks.event_dispatch_batch_task",
        "outbox.dispatch wallet.bet_placed",
        HANDLER,
        "outbox.handler apps.rules.handlers.rules_on_event",
    ):
        assert {f"{s.context.trace_id:032x}" for s in named(finished, name)} == {TRACE_ID}, name
    assert event.correlation_id == TRACE_ID
    # and the worker's spans are children of the publisher's (the context crossed the broker)
    run = named(finished, "run/apps.core.tasks.event_dispatch_batch_task")[0]
    publish_span = named(finished, "apply_async/apps.core.tasks.event_dispatch_batch_task")[0]
    assert run.parent.span_id == publish_span.context.span_id


@pytest.mark.django_db(transaction=True)
def test_a_relay_batch_of_two_requests_events_delivers_each_in_its_own_trace(spans):
    # given: two changes, each in its own trace, committed
    published = []
    for name in ("first", "second"):
        with tracing.span(f"request {name}"), transaction.atomic():
            event = publish(ButtonPressed(button=name), actor=system_actor("test"))
            published.append((event.pk, tracing.traceparent_current()))
    origins = [traceparent.split("-")[1] for _, traceparent in published]
    assert origins[0] != origins[1]
    Event.objects.update(dispatched_at=None)
    spans.clear()

    # when: one batch task carries both (as the relay sends them), run outside both traces
    event_dispatch_batch_task.apply(args=[[pk for pk, _ in published], [tp for _, tp in published]])

    # then: each event's dispatch is in its publisher's trace, linked to the batch task's run
    finished = spans.get_finished_spans()
    (run,) = named(finished, "run/apps.core.tasks.event_dispatch_batch_task")
    dispatches = named(finished, "outbox.dispatch test.correlation_button_pressed")
    assert sorted(f"{s.context.trace_id:032x}" for s in dispatches) == sorted(origins)
    for dispatch in dispatches:
        assert [link.context.span_id for link in dispatch.links] == [run.context.span_id]
    assert run.context.trace_id not in {int(origin, 16) for origin in origins}


def test_tracing_off_costs_nothing_and_sends_no_traceparent():
    # (the suite runs with tracing off unless a test turns it on)
    assert not tracing.tracing_enabled()
    assert tracing.traceparent_current() == ""
    with tracing.span("anything") as span:
        assert span is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (TRACEPARENT, TRACE_ID),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),  # all-zero trace id: invalid
        (f"00-{TRACE_ID}-{'0' * 16}-01", None),  # all-zero parent
        (f"ff-{TRACE_ID}-00f067aa0ba902b7-01", None),  # version ff: invalid
        (f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01", None),  # upper case: not W3C
        ("garbage", None),
        ("", None),
    ],
)
def test_traceparent_parsing(header, expected):
    assert tracing.trace_id_of_traceparent(header) == expected
