"""Traces: OpenTelemetry across HTTP (Django), Celery, PostgreSQL (psycopg) and Redis.

Set up once per process by this app's ready() (web servers, Celery workers, commands).
Tracing is on when OTEL_TRACES_ENABLED is true, which it is by default exactly when
OTEL_EXPORTER_OTLP_ENDPOINT is set: spans then go to that collector over OTLP/HTTP in
batches. Off, nothing is instrumented and `span()` costs one attribute lookup, so the wallet
pays nothing for tracing it does not export.

One trace follows a change from the request to its handlers. The outbox relay (core.relay)
hands events of many requests to Celery in one message, so each event carries the W3C
`traceparent` of the span that published it (`traceparent_current`), and the dispatcher
delivers it under a span whose parent is that one (`event_span`): the handlers of a Hub88
bet are in the bet's trace even when a batch of other requests' events came with it.
"""

import contextlib
import logging
import re
import threading

from django.conf import settings
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state = {"enabled": False, "provider": None}

# W3C trace context: version-traceid-parentid-flags, lower-case hex.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def tracing_enabled() -> bool:
    return _state["enabled"]


def tracing_setup(*, force: bool = False, span_processors=()) -> bool:
    """Install the tracer provider and the instrumentations once; True when tracing is on.

    Safe to call again (a second call only adds `span_processors`). `force` turns tracing
    on whatever the settings say (tests, with an in-memory exporter as a processor).
    """
    if not (force or settings.OTEL_TRACES_ENABLED):
        return False
    with _lock:
        provider = _state["provider"]
        if provider is None:
            provider = _provider()
            _state["provider"] = provider
        for processor in span_processors:
            provider.add_span_processor(processor)
        if not _state["enabled"]:
            _instrument(provider)
            _state["enabled"] = True
    return True


def tracing_teardown() -> None:
    """Remove the instrumentations (tests); the provider stays, as OpenTelemetry requires."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    with _lock:
        if not _state["enabled"]:
            return
        for instrumentor in (DjangoInstrumentor, CeleryInstrumentor, PsycopgInstrumentor, RedisInstrumentor):
            instrumentor().uninstrument()
        _state["enabled"] = False


def _provider():
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.OTEL_SERVICE_NAME}))
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # The exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself.
        # BatchSpanProcessor restarts its thread in a forked child (gunicorn, Celery prefork).
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # The global provider can be set once per process; the instrumentations use it.
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # pragma: no cover - set elsewhere first
        logger.warning("tracing: another tracer provider was installed first; using it")
        return trace.get_tracer_provider()
    return provider


def _instrument(provider) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # Health and metrics scrapes would be most of the traces and say nothing.
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls="healthz,readyz,metrics")
    # Both sides: the publisher's span is the parent of the task's run in the worker.
    CeleryInstrumentor().instrument(tracer_provider=provider)
    # skip_dep_check: psycopg[binary] satisfies it, but its distribution is named differently.
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    RedisInstrumentor().instrument(tracer_provider=provider)


def span(name: str, **attributes):
    """A span around a block when tracing is on; nothing at all when it is off."""
    if not _state["enabled"]:
        return contextlib.nullcontext()
    return trace.get_tracer("pam").start_as_current_span(name, attributes=attributes or None)


def trace_id_current() -> str | None:
    """The current span's trace id (32 hex digits), or None outside any recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def trace_id_of_traceparent(header: str | None) -> str | None:
    """The trace id of a W3C `traceparent` header, or None when it is not a valid one."""
    parsed = _parse(header)
    return parsed[1] if parsed else None


def _parse(header: str | None):
    if not header or len(header) > 128:
        return None
    match = _TRACEPARENT.match(header.strip())
    if match is None or match[1] == "ff" or match[2] == _ZERO_TRACE or match[3] == _ZERO_SPAN:
        return None
    return match.groups()


def traceparent_current() -> str:
    """The W3C traceparent of the current span ("" when tracing is off or no span is active)."""
    if not _state["enabled"]:
        return ""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _span_context_of(traceparent: str) -> SpanContext | None:
    parsed = _parse(traceparent)
    if parsed is None:
        return None
    return SpanContext(
        trace_id=int(parsed[1], 16),
        span_id=int(parsed[2], 16),
        is_remote=True,
        trace_flags=TraceFlags(int(parsed[3], 16)),
    )


@contextlib.contextmanager
def event_span(name: str, *, traceparent: str = "", **attributes):
    """A span for delivering one outbox event, in the trace of the change that published it.

    When the event's publishing span (`traceparent`) is in another trace than the current
    one (a relay batch, the sweep), the span's parent is the publisher and it links to the
    current span (the batch task); otherwise it is simply the current span's child.
    """
    if not _state["enabled"]:
        yield None
        return
    tracer = trace.get_tracer("pam")
    origin = _span_context_of(traceparent) if traceparent else None
    current = trace.get_current_span().get_span_context()
    if origin is None or (current.is_valid and current.trace_id == origin.trace_id):
        with tracer.start_as_current_span(name, attributes=attributes or None) as started:
            yield started
        return
    parent = trace.set_span_in_context(NonRecordingSpan(origin), otel_context.Context())
    links = [Link(current)] if current.is_valid else None
    with tracer.start_as_current_span(
        name, context=parent, links=links, attributes=attributes or None
    ) as started:
        yield started


@contextlib.contextmanager
def batch_span(name: str, traceparents: list[str]):
    """The span under which the relay publishes a batch: the child of the one publisher when
    every event of the batch comes from one trace (an idle process, one request's events),
    else a new trace linked to every publisher."""
    if not _state["enabled"]:
        yield None
        return
    tracer = trace.get_tracer("pam")
    origins = [origin for origin in map(_span_context_of, traceparents) if origin is not None]
    if origins and len({origin.trace_id for origin in origins}) == 1:
        parent = trace.set_span_in_context(NonRecordingSpan(origins[0]), otel_context.Context())
        with tracer.start_as_current_span(name, context=parent) as started:
            yield started
        return
    unique = list({(o.trace_id, o.span_id): o for o in origins}.values())[:128]
    with tracer.start_as_current_span(
        name, context=otel_context.Context(), links=[Link(o) for o in unique] or None
    ) as started:
        yield started
