"""GAMSTOP (Great Britain): the single check and the batch check.

Single: POST form-encoded to {base_url}/v2 with the person's six fields, X-API-Key, and
X-Trace-Id (our correlation id); the answer is in the headers: X-Exclusion Y (excluded),
N (not registered) or P (lapsed: allowed), and X-Unique-Id (GAMSTOP's reference).
Batch: POST JSON to {batch_url}/v2, an array of up to 1000 persons (under 256 KB), each
with a correlation-id; the answer is an array of {correlation-id, ms-request-id, exclusion}.

Fields are checked against the protocol's lengths before anything is sent; a person who
cannot be sent as GAMSTOP requires is not truncated (a changed name could match nobody)
but refused with RegisterRequestInvalid, so that check fails closed.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from apps.core.correlation import correlation_id_ensure
from apps.exclusions.clients import Answer, guarded_call, json_of, post
from apps.exclusions.exceptions import RegisterRequestInvalid, RegisterUnavailable

REGISTER = "gamstop"
EXCLUSIONS = ("Y", "N", "P")
BATCH_MAX_PERSONS = 1000
BATCH_MAX_BYTES = 256 * 1024
TRACE_ID_MAX = 36


@dataclass(frozen=True)
class BatchPerson:
    correlation_id: str  # unique within a request; our key for the answer (e.g. the player id)
    first_name: str
    last_name: str
    date_of_birth: object  # date
    email: str
    postcode: str
    mobile: str = ""

    @classmethod
    def of(cls, person, correlation_id: str) -> "BatchPerson":
        """From an apps.compliance.registers.Person (or anything with the same fields)."""
        return cls(
            correlation_id=correlation_id,
            first_name=person.first_name,
            last_name=person.last_name,
            date_of_birth=person.date_of_birth,
            email=person.email,
            postcode=person.postcode,
            mobile=person.mobile,
        )


@dataclass(frozen=True)
class BatchResult:
    exclusion: str  # Y / N / P
    reference: str  # ms-request-id


def _checked(name: str, value: str, low: int, high: int) -> str:
    if not low <= len(value) <= high:
        raise RegisterRequestInvalid(
            f"gamstop: {name} must be {low} to {high} characters to be checked (it is {len(value)}).",
            request={"invalid": name},
        )
    return value


def person_fields(person) -> dict:
    """The six protocol fields of a person, validated; RegisterRequestInvalid if one cannot be sent."""
    born = person.date_of_birth
    return {
        "firstName": _checked("firstName", (person.first_name or "").strip(), 2, 20),
        "lastName": _checked("lastName", (person.last_name or "").strip(), 2, 20),
        "dateOfBirth": born.isoformat() if hasattr(born, "isoformat") else str(born or ""),
        "email": _checked("email", (person.email or "").strip(), 0, 254),
        # Spaces are not significant to GAMSTOP; sent without them.
        "postcode": _checked("postcode", (person.postcode or "").replace(" ", "").upper(), 5, 10),
        "mobile": _checked("mobile", (person.mobile or "").replace(" ", ""), 0, 14),
    }


def _headers(config) -> dict:
    if not config.api_key:
        raise RegisterUnavailable(
            "gamstop: no API key is configured for this brand.", code="register_not_configured"
        )
    return {"X-API-Key": config.api_key}


def single_check(config, person, *, trace_id: str) -> Answer:
    """Ask GAMSTOP about one person. Y is excluded; N and P are not. Raises RegisterUnavailable."""
    fields = person_fields(person)
    trace_id = (trace_id or "")[:TRACE_ID_MAX]
    request = {**fields, "trace_id": trace_id}
    headers = {**_headers(config), "X-Trace-Id": trace_id} if trace_id else _headers(config)
    url = f"{config.base_url.rstrip('/')}/v2"

    def ask() -> Answer:
        response, latency_ms = post(config, url, headers=headers, data=fields)
        exclusion = response.headers.get("X-Exclusion", "")
        if exclusion not in EXCLUSIONS:
            raise RegisterUnavailable(
                f"gamstop: X-Exclusion is {exclusion!r}, not Y, N or P.", request=request
            )
        return Answer(
            excluded=exclusion == "Y",
            answer=exclusion,
            reference=response.headers.get("X-Unique-Id", "")[:128],
            latency_ms=latency_ms,
            request=request,
        )

    try:
        return guarded_call(config, ask)
    except RegisterUnavailable as exc:
        exc.request = exc.request or request
        raise


def _batch_item(person: BatchPerson) -> dict:
    return {"correlation-id": person.correlation_id, **person_fields(person)}


def _requests(items: list[dict]) -> Iterator[tuple[list[dict], bytes]]:
    """Split into requests within both limits (1000 persons and 256 KB each)."""
    start = 0
    while start < len(items):
        end = min(start + BATCH_MAX_PERSONS, len(items))
        body = json.dumps(items[start:end]).encode()
        while len(body) >= BATCH_MAX_BYTES and end - start > 1:
            end = start + (end - start) // 2
            body = json.dumps(items[start:end]).encode()
        yield items[start:end], body
        start = end


def batch_check_detailed(config, persons: list[BatchPerson]) -> dict[str, BatchResult]:
    """Ask GAMSTOP's batch host about many persons: correlation-id -> BatchResult.

    Sent in as few requests as the limits allow (a list of up to 1000 ordinary persons is
    one request). Every correlation-id must come back exactly once with Y, N or P, or the
    whole call raises RegisterUnavailable (nothing is read as "not excluded"). A person
    who cannot be sent raises RegisterRequestInvalid before anything is sent.
    """
    ids = [person.correlation_id for person in persons]
    if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
        raise RegisterRequestInvalid("gamstop batch: correlation ids must be unique, non-empty strings.")
    items = [_batch_item(person) for person in persons]
    # Our correlation id for GAMSTOP's audit log, as on single checks (at most 36 characters).
    trace_id = correlation_id_ensure()[:TRACE_ID_MAX]
    headers = {**_headers(config), "Content-Type": "application/json", "X-Trace-Id": trace_id}
    url = f"{(config.batch_url or config.base_url).rstrip('/')}/v2"
    results: dict[str, BatchResult] = {}
    for chunk, body in _requests(items):
        sent = {item["correlation-id"] for item in chunk}

        def ask(body=body, sent=sent) -> dict[str, BatchResult]:
            response, _latency = post(config, url, headers=headers, content=body)
            answers = json_of(REGISTER, response)
            if not isinstance(answers, list):
                raise RegisterUnavailable("gamstop batch: the answer is not an array.")
            found: dict[str, BatchResult] = {}
            for answer in answers:
                if not isinstance(answer, dict):
                    raise RegisterUnavailable("gamstop batch: an answer is not an object.")
                correlation_id, exclusion = answer.get("correlation-id"), answer.get("exclusion")
                if correlation_id not in sent or correlation_id in found or exclusion not in EXCLUSIONS:
                    raise RegisterUnavailable(
                        f"gamstop batch: unexpected answer {json.dumps(answer)[:200]} "
                        "(unknown or repeated correlation-id, or exclusion not Y/N/P)."
                    )
                found[correlation_id] = BatchResult(exclusion, str(answer.get("ms-request-id") or "")[:128])
            if len(found) != len(sent):
                raise RegisterUnavailable(
                    f"gamstop batch: {len(sent) - len(found)} persons were not answered."
                )
            return found

        results.update(guarded_call(config, ask))
    return results


def batch_check(config, persons: list[BatchPerson]) -> dict[str, str]:
    """correlation-id -> "Y" / "N" / "P" for every person (see batch_check_detailed)."""
    return {key: result.exclusion for key, result in batch_check_detailed(config, persons).items()}
