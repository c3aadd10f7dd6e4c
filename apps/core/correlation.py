"""Correlation ids: one id follows a request through its events, tasks, logs and audit rows.

The id comes from the caller's X-Correlation-ID header when it is well formed, else from
its X-Request-ID (the same thing under another common name), else from the trace id of its
W3C `traceparent`, else it is the trace id of the request's own span (tracing on) or a new
one. It rides along to Celery tasks in a task header, so the work a request causes carries
the request's id, and is sent to the registers we call (apps.exclusions.clients).
"""

import logging
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

_correlation_id: ContextVar[str | None] = ContextVar("pam_correlation_id", default=None)

HEADER = "X-Correlation-ID"
REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "pam_correlation_id"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def correlation_id_new() -> str:
    return uuid.uuid4().hex


def correlation_id_clean(candidate: str | None) -> str:
    """Return the candidate if it is a safe id, else a new id (never trust a header blindly)."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline, which would
    # let "abc\n" through into response headers (a 500), events and log lines.
    if candidate and _VALID.fullmatch(candidate):
        return candidate
    return correlation_id_new()


def correlation_id_valid(candidate: str | None) -> bool:
    return bool(candidate) and _VALID.fullmatch(candidate) is not None


def correlation_id_get() -> str | None:
    return _correlation_id.get()


def correlation_id_ensure() -> str:
    """The current id, making and setting one if there is none (jobs, shells)."""
    current = _correlation_id.get()
    if current is None:
        current = correlation_id_new()
        _correlation_id.set(current)
    return current


def correlation_id_set(value: str | None):
    """Set the current id; returns a token for correlation_id_reset."""
    return _correlation_id.set(value)


def correlation_id_reset(token) -> None:
    _correlation_id.reset(token)


@contextmanager
def correlation_id_of(value: str | None):
    """Run the block under `value` (an event's correlation id), when it has one."""
    token = correlation_id_set(value) if value else None
    try:
        yield
    finally:
        if token is not None:
            correlation_id_reset(token)


class CorrelationIdLogFilter(logging.Filter):
    """Adds `correlation_id` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation_id.get() or "-"
        return True


def connect_celery_signals() -> None:
    """Carry the id from the publishing process into the task that runs elsewhere."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    @before_task_publish.connect(weak=False)
    def _attach(headers=None, **kwargs):
        if headers is not None:
            headers[TASK_HEADER] = correlation_id_ensure()

    @task_prerun.connect(weak=False)
    def _restore(task=None, **kwargs):
        if task is None:
            return
        # A worker gets the id from the header; an eager task keeps its caller's id.
        value = getattr(task.request, TASK_HEADER, None) or correlation_id_get()
        task.request.pam_cid_token = correlation_id_set(correlation_id_clean(value))

    @task_postrun.connect(weak=False)
    def _clear(task=None, **kwargs):
        token = getattr(task.request, "pam_cid_token", None) if task is not None else None
        if token is not None:
            correlation_id_reset(token)
