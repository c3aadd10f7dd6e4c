"""Spelpaus (Sweden): the login/registration check and the marketing checks.

The operator's actorId is in the path, its API key in the `authorization` header.
- blocking-info: POST {base_url}/blocking-info/{actorId} {requestId, subjectId}
  -> {isBlocked, requestId, responseId}
- marketing single: POST {batch_url}/marketing-single-subjectid/{actorId}, same shapes
- marketing bulk: POST {batch_url}/marketing-subjectid/{actorId}
  {requestId, items: [{itemId, subjectId}]} (up to 10000) -> {requestId, allowedItemIds, responseId}

subjectId is the 12-digit personal identity number (our stored YYYYMMDD-NNNN without the
dash). Answers are read strictly: isBlocked must be a JSON boolean, the requestId must be
ours, and allowed item ids must be ids we sent; anything else raises RegisterUnavailable.
"""

import re
import uuid

from apps.exclusions.clients import Answer, guarded_call, json_of, post
from apps.exclusions.exceptions import RegisterRequestInvalid, RegisterUnavailable

REGISTER = "spelpaus"
BULK_MAX_ITEMS = 10000
_SUBJECT_ID = re.compile(r"\d{12}")


def subject_id_of(national_id: str) -> str:
    """The 12-digit subjectId (YYYYMMDDNNNN) of a Swedish personnummer in any of its
    spellings (10 or 12 digits, with or without - or +)."""
    from stdnum.exceptions import ValidationError
    from stdnum.se import personnummer

    try:
        number = personnummer.compact(personnummer.validate(national_id or ""))
        born = personnummer.get_birth_date(number)
    except ValidationError as exc:
        raise RegisterRequestInvalid(
            "spelpaus: a valid personal identity number is required to check this person.",
            request={"invalid": "subjectId"},
        ) from exc
    subject_id = f"{born:%Y%m%d}{number[-4:]}"
    if not _SUBJECT_ID.fullmatch(subject_id):  # pragma: no cover - stdnum validated it
        raise RegisterRequestInvalid("spelpaus: not a 12-digit personal identity number.")
    return subject_id


def _headers(config) -> dict:
    if not config.api_key or not config.actor_id:
        raise RegisterUnavailable(
            "spelpaus: no actorId or API key is configured for this brand.", code="register_not_configured"
        )
    return {"authorization": config.api_key, "Content-Type": "application/json"}


def _single(config, url_base: str, path: str, subject_id: str, request_id: str) -> Answer:
    subject_id = subject_id_of(subject_id)
    headers = _headers(config)
    request = {"requestId": request_id, "subjectId": subject_id}
    url = f"{url_base.rstrip('/')}/{path}/{config.actor_id}"

    def ask() -> Answer:
        response, latency_ms = post(config, url, headers=headers, json=request)
        data = json_of(REGISTER, response)
        blocked = data.get("isBlocked") if isinstance(data, dict) else None
        if not isinstance(blocked, bool) or data.get("requestId") != request_id:
            raise RegisterUnavailable(
                "spelpaus: malformed answer (isBlocked must be true/false and requestId ours): "
                f"{str(data)[:200]}",
                request=request,
            )
        return Answer(
            excluded=blocked,
            answer="true" if blocked else "false",
            reference=str(data.get("responseId") or "")[:128],
            latency_ms=latency_ms,
            request=request,
        )

    try:
        return guarded_call(config, ask)
    except RegisterUnavailable as exc:
        exc.request = exc.request or request
        raise


def blocking_info(config, subject_id: str, *, request_id: str) -> Answer:
    """The registration/login check: is this person blocked? Raises RegisterUnavailable."""
    return _single(config, config.base_url, "blocking-info", subject_id, request_id)


def marketing_single(config, subject_id: str, *, request_id: str) -> Answer:
    """May this person be contacted with direct marketing? excluded=True means no."""
    return _single(
        config, config.batch_url or config.base_url, "marketing-single-subjectid", subject_id, request_id
    )


def marketing_bulk(config, items: list[tuple[str, str]]) -> set[str]:
    """The item ids of (item_id, subject_id) pairs that may be contacted.

    Sent in requests of up to 10000 items. An item whose subject id is not a valid
    12-digit number is never sent and never allowed. Raises RegisterUnavailable if any
    request fails (then nobody in the call may be contacted).
    """
    headers = _headers(config)
    url = f"{(config.batch_url or config.base_url).rstrip('/')}/marketing-subjectid/{config.actor_id}"
    sendable = []
    for item_id, subject_id in items:
        try:
            sendable.append({"itemId": str(item_id), "subjectId": subject_id_of(subject_id)})
        except RegisterRequestInvalid:
            continue  # cannot be checked: not allowed
    allowed: set[str] = set()
    for start in range(0, len(sendable), BULK_MAX_ITEMS):
        chunk = sendable[start : start + BULK_MAX_ITEMS]
        request_id = uuid.uuid4().hex

        def ask(chunk=chunk, request_id=request_id) -> set[str]:
            response, _latency = post(
                config, url, headers=headers, json={"requestId": request_id, "items": chunk}
            )
            data = json_of(REGISTER, response)
            ids = data.get("allowedItemIds") if isinstance(data, dict) else None
            sent = {item["itemId"] for item in chunk}
            if (
                not isinstance(ids, list)
                or data.get("requestId") != request_id
                or not all(isinstance(i, str) and i in sent for i in ids)
            ):
                raise RegisterUnavailable(f"spelpaus marketing: malformed answer: {str(data)[:200]}")
            return set(ids)

        allowed |= guarded_call(config, ask)
    return allowed
