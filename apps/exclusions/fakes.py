"""Fake GAMSTOP and Spelpaus registers: small real HTTP servers on 127.0.0.1 that speak the
public protocols (shared/docs/specs/exclusion-registers.md), for tests, the demo
(`manage.py fake_registers`) and the benchmark. Not for production.

    with FakeGamstop() as gamstop:                # port 0: any free port
        gamstop.excluded = {"ann@example.com": "Y"}  # keyed by email, lower-case; else "N"
        gamstop.fail_next(status=429, times=1, retry_after=0.1)
        ... RegisterConfig(base_url=gamstop.url, batch_url=gamstop.batch_url, api_key=gamstop.api_key)
        gamstop.requests                          # [(path, headers, body), ...] as received;
                                                  # header names lower-case

    with FakeSpelpaus() as spelpaus:
        spelpaus.blocked = {"198112189876"}       # 12-digit subject ids
        ... RegisterConfig(base_url=spelpaus.url, batch_url=spelpaus.marketing_url,
                           actor_id=spelpaus.actor_id, api_key=spelpaus.api_key)

Both validate their input as the protocols say (400 with the field errors), check the key
(403), answer 405 to anything but POST, and can be told to fail (`fail_next`: any status,
optionally with Retry-After), to answer garbage (`malformed_next`) or to be slow
(`delay_seconds`).
"""

import json
import re
import threading
import time
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

GAMSTOP_BATCH_MAX_PERSONS = 1000
GAMSTOP_BATCH_MAX_BYTES = 256 * 1024
SPELPAUS_BULK_MAX_ITEMS = 10000

_SUBJECT_ID = re.compile(r"\d{12}")


class _BadRequest(Exception):
    def __init__(self, errors: dict):
        self.errors = errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each answer on a kept-alive
    # connection would wait for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    fake: "FakeRegister"  # set on the per-server subclass

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # quiet: tests and the demo read the fake's own request log

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.fake._record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        # Decided on arrival: a slow answer still sleeping must not take a failure queued
        # for a later request.
        failure = self.fake._next_failure()
        if self.fake.delay_seconds:
            time.sleep(self.fake.delay_seconds)
        try:
            if failure is not None:
                status, retry_after = failure
                if status == "malformed":
                    self._send(200, self.fake.malformed_body(self.path), {})
                    return
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                self._send(status, b'{"error": "fake failure"}', headers, "application/json")
                return
            status, payload, headers = self.fake.answer(self.path, self.headers, body)
            self._send(status, payload, headers, "application/json" if payload[:1] in (b"{", b"[") else None)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to answer to

    def _refuse_method(self):
        self._send(405, b"Method Not Allowed", {"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _send(self, status: int, payload: bytes, headers: dict, content_type: str | None = None):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type or "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeRegister:
    """A threaded HTTP server in a daemon thread; subclasses answer the protocol."""

    default_api_key = "fake-key"

    def __init__(self, *, port: int = 0, api_key: str | None = None):
        self.port = port
        self.api_key = api_key or self.default_api_key
        self.delay_seconds = 0.0
        self.keep_bodies = True  # the benchmark turns this off, so the fake's memory stays flat
        self.requests: list[tuple[str, dict, bytes]] = []
        self._failures: list[tuple[int | str, float | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self):
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- control --------------------------------------------------------------------------
    def fail_next(self, status: int = 500, times: int = 1, *, retry_after: float | None = None) -> None:
        """Answer the next `times` requests with `status` (and Retry-After, if given)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def malformed_next(self, times: int = 1) -> None:
        """Answer the next `times` requests with HTTP 200 and an answer the protocol does not allow."""
        with self._lock:
            self._failures.extend([("malformed", None)] * times)

    def requests_to(self, path_prefix: str) -> list[tuple[str, dict, bytes]]:
        with self._lock:
            return [request for request in self.requests if request[0].startswith(path_prefix)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()
        self.delay_seconds = 0.0

    def _record(self, path: str, headers: dict, body: bytes) -> None:
        with self._lock:
            self.requests.append((path, headers, body if self.keep_bodies else b""))

    def _next_failure(self):
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    # --- protocol (subclasses) ------------------------------------------------------------
    def answer(self, path: str, headers, body: bytes) -> tuple[int, bytes, dict]:
        raise NotImplementedError

    def malformed_body(self, path: str) -> bytes:
        return b"<html>not what the protocol says</html>"


def _json(value) -> bytes:
    return json.dumps(value).encode()


def _length(errors: dict, fields: dict, name: str, low: int, high: int, value: str | None = None) -> None:
    value = fields.get(name) if value is None else value
    if value is None:
        errors[name] = "missing"
    elif not isinstance(value, str) or not low <= len(value) <= high:
        errors[name] = f"must be {low} to {high} characters"


def _gamstop_person_errors(fields: dict) -> dict:
    errors: dict = {}
    _length(errors, fields, "firstName", 2, 20)
    _length(errors, fields, "lastName", 2, 20)
    born = fields.get("dateOfBirth")
    try:
        if not isinstance(born, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", born):
            raise ValueError
        date.fromisoformat(born)
    except ValueError:
        errors["dateOfBirth"] = "must be yyyy-mm-dd"
    _length(errors, fields, "email", 0, 254)
    postcode = fields.get("postcode")
    _length(
        errors, fields, "postcode", 5, 10, postcode.replace(" ", "") if isinstance(postcode, str) else None
    )
    _length(errors, fields, "mobile", 0, 14)
    return errors


class FakeGamstop(FakeRegister):
    """GAMSTOP: single check (form POST to /v2, answer in X-Exclusion / X-Unique-Id) and the
    batch check (JSON POST to {batch_url}/v2; batch_url is this server's /batch).

    `excluded` maps an email (lower-case) to "Y" or "P"; everyone else is "N".
    """

    default_api_key = "fake-gamstop-key"

    def __init__(self, *, port: int = 0, api_key: str | None = None, excluded: dict | None = None):
        super().__init__(port=port, api_key=api_key)
        self.excluded: dict[str, str] = dict(excluded or {})

    @property
    def batch_url(self) -> str:
        return f"{self.url}/batch"

    def exclusion_of(self, email: str) -> str:
        return self.excluded.get((email or "").strip().lower(), "N")

    def answer(self, path, headers, body):
        if headers.get("X-API-Key") != self.api_key:
            return 403, b"Forbidden", {}
        if path == "/v2":
            return self._single(headers, body)
        if path == "/batch/v2":
            return self._batch(body)
        return 404, b"Not Found", {}

    def _single(self, headers, body):
        if not (headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return 400, b"expected application/x-www-form-urlencoded", {}
        if len(headers.get("X-Trace-Id") or "") > 36:
            return 400, b"X-Trace-Id: at most 36 characters", {}
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields = {name: values[-1] for name, values in parsed.items()}
        errors = _gamstop_person_errors(fields)
        if errors:
            return 400, _json(errors), {}
        return 200, b"", {"X-Exclusion": self.exclusion_of(fields["email"]), "X-Unique-Id": str(uuid.uuid4())}

    def _batch(self, body):
        if len(body) > GAMSTOP_BATCH_MAX_BYTES:
            return 400, _json({"error": f"request larger than {GAMSTOP_BATCH_MAX_BYTES} bytes"}), {}
        try:
            persons = json.loads(body)
        except ValueError:
            return 400, _json({"error": "not JSON"}), {}
        if not isinstance(persons, list) or not persons:
            return 400, _json({"error": "expected a non-empty array of persons"}), {}
        if len(persons) > GAMSTOP_BATCH_MAX_PERSONS:
            return 400, _json({"error": f"at most {GAMSTOP_BATCH_MAX_PERSONS} persons per request"}), {}
        seen, answers = set(), []
        for index, person in enumerate(persons):
            if not isinstance(person, dict):
                return 400, _json({str(index): "not an object"}), {}
            errors = _gamstop_person_errors(person)
            correlation_id = person.get("correlation-id")
            if correlation_id is not None:
                if not isinstance(correlation_id, str) or correlation_id in seen:
                    errors["correlation-id"] = "must be a unique string"
                seen.add(correlation_id)
            if errors:
                return 400, _json({str(index): errors}), {}
            answers.append(
                {
                    "correlation-id": correlation_id,
                    "ms-request-id": str(uuid.uuid4()),
                    "exclusion": self.exclusion_of(person["email"]),
                }
            )
        return 200, _json(answers), {}

    def malformed_body(self, path):
        # Single: HTTP 200 without X-Exclusion. Batch: not the array the protocol promises.
        return b'{"unexpected": true}'


class FakeSpelpaus(FakeRegister):
    """Spelpaus: blocking-info (login/registration), marketing single and bulk checks.

    `blocked` holds 12-digit subject ids; `actor_id` is the operator's id in the path and
    `api_key` the value the `authorization` header must carry. The marketing API is this
    server's /marketing (marketing_url).
    """

    default_api_key = "fake-spelpaus-key"

    def __init__(
        self, *, port: int = 0, api_key: str | None = None, actor_id: str = "fake-actor", blocked=()
    ):
        super().__init__(port=port, api_key=api_key)
        self.actor_id = actor_id
        self.blocked: set[str] = set(blocked)

    @property
    def marketing_url(self) -> str:
        return f"{self.url}/marketing"

    def answer(self, path, headers, body):
        routes = {
            f"/blocking-info/{self.actor_id}": self._single,
            f"/marketing/marketing-single-subjectid/{self.actor_id}": self._single,
            f"/marketing/marketing-subjectid/{self.actor_id}": self._bulk,
        }
        if headers.get("authorization") != self.api_key:
            return 403, _json({"error": "bad authorization or actorId"}), {}
        route = routes.get(path)
        if route is None:
            known = any(path.startswith(prefix.rsplit("/", 1)[0] + "/") for prefix in routes)
            return (403, _json({"error": "unknown actorId"}), {}) if known else (404, b"Not Found", {})
        try:
            data = json.loads(body)
        except ValueError:
            return 400, b"body: not JSON", {}
        if not isinstance(data, dict):
            return 400, b"body: expected an object", {}
        try:
            return route(data)
        except _BadRequest as bad:
            return 400, _json({"errors": bad.errors}), {}

    @staticmethod
    def _request_id(data: dict) -> str:
        request_id = data.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise _BadRequest({"requestId": "required"})
        return request_id

    def _single(self, data):
        request_id = self._request_id(data)
        subject_id = data.get("subjectId")
        if not isinstance(subject_id, str) or not _SUBJECT_ID.fullmatch(subject_id):
            raise _BadRequest({"subjectId": "must be a 12-digit personal identity number"})
        answer = {
            "isBlocked": subject_id in self.blocked,
            "requestId": request_id,
            "responseId": str(uuid.uuid4()),
        }
        return 200, _json(answer), {}

    def _bulk(self, data):
        request_id = self._request_id(data)
        items = data.get("items")
        if not isinstance(items, list) or not items:
            raise _BadRequest({"items": "required, a non-empty array"})
        if len(items) > SPELPAUS_BULK_MAX_ITEMS:
            raise _BadRequest({"items": f"at most {SPELPAUS_BULK_MAX_ITEMS} items"})
        allowed = []
        for index, item in enumerate(items):
            item_id = item.get("itemId") if isinstance(item, dict) else None
            subject_id = item.get("subjectId") if isinstance(item, dict) else None
            if not isinstance(item_id, str) or not item_id:
                raise _BadRequest({f"items[{index}].itemId": "required"})
            if not isinstance(subject_id, str) or not _SUBJECT_ID.fullmatch(subject_id):
                raise _BadRequest(
                    {f"items[{index}].subjectId": "must be a 12-digit personal identity number"}
                )
            if subject_id not in self.blocked:
                allowed.append(item_id)
        answer = {"requestId": request_id, "allowedItemIds": allowed, "responseId": str(uuid.uuid4())}
        return 200, _json(answer), {}

    def malformed_body(self, path):
        # isBlocked as a string: a client that reads it loosely would let the person through.
        return b'{"isBlocked": "maybe", "requestId": "?", "responseId": "r"}'
