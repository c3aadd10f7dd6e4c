"""Structured logs: one JSON object per line, with the correlation id and the trace.

Stdlib logging with a JSON formatter (no second logging API to learn): every existing
`logging.getLogger(__name__)` call logs structured lines as it is. Fields: timestamp (UTC,
ISO 8601), level, logger, message, correlation_id, trace_id and span_id (when a span is
recording), exception (with a traceback), and whatever a call passed in `extra=`.
pam/settings.py picks it (LOG_FORMAT=json, the default unless DEBUG) or the plain format.
"""

import json
import logging
from datetime import UTC, datetime

from opentelemetry import trace

from apps.core.correlation import correlation_id_get

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Ours, written above; and Django's request object (its path is in the message already).
_OURS = frozenset({"correlation_id", "trace_id", "span_id", "request"})


class TraceContextLogFilter(logging.Filter):
    """Adds `correlation_id`, `trace_id` and `span_id` to every record (ids "" when none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            # Django logs a request's 4xx/5xx answer after the middleware has finished (the id
            # is no longer current) but passes the request along: its id is on it.
            request_cid = getattr(getattr(record, "request", None), "correlation_id", None)
            record.correlation_id = request_cid or correlation_id_get() or "-"
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None) or correlation_id_get() or "-",
        }
        trace_id = getattr(record, "trace_id", "")
        if trace_id:
            entry["trace_id"] = trace_id
            entry["span_id"] = record.span_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _OURS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
