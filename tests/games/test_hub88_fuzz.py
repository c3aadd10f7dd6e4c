"""No 500 on anything Hub88 (or anyone) could send, signed or not: a known status, and
nothing the adapter did not expect (RS_ERROR_UNKNOWN is fine when it is a decision, e.g. an
unknown user on /user/info, but never from an error that was logged as unexpected)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.games.conftest import money_state

STATUSES = {
    "RS_OK",
    "RS_ERROR_UNKNOWN",
    "RS_ERROR_INVALID_PARTNER",
    "RS_ERROR_INVALID_TOKEN",
    "RS_ERROR_TOKEN_EXPIRED",
    "RS_ERROR_INVALID_GAME",
    "RS_ERROR_WRONG_CURRENCY",
    "RS_ERROR_NOT_ENOUGH_MONEY",
    "RS_ERROR_USER_DISABLED",
    "RS_ERROR_INVALID_SIGNATURE",
    "RS_ERROR_WRONG_SYNTAX",
    "RS_ERROR_WRONG_TYPES",
    "RS_ERROR_DUPLICATE_TRANSACTION",
    "RS_ERROR_TRANSACTION_DOES_NOT_EXIST",
    "RS_ERROR_TRANSACTION_ROLLED_BACK",
}
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "user",
    "token",
    "request_uuid",
    "game_code",
    "currency",
    "transaction_uuid",
    "reference_transaction_uuid",
    "round",
    "round_closed",
    "amount",
    "is_free",
]


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(["info", "balance", "bet", "win", "rollback"]),
    changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=4),
    dropped=st.sets(st.sampled_from(FIELDS), max_size=2),
)
def test_any_signed_body_gets_a_known_status_and_unknown_ids_move_no_money(
    hub88, movement, wallet, caplog, endpoint, changes, dropped
):
    caplog.clear()
    kind = endpoint if endpoint in ("bet", "win", "rollback") else "bet"
    body = {**movement(kind, reference_transaction_uuid="not-a-bet"), **changes}
    for name in dropped:
        body.pop(name, None)
    before = money_state(wallet)
    reply = hub88(endpoint, raw=json.dumps(body).encode())
    assert reply.status in STATUSES, reply.body
    assert _surprises(caplog) == []
    if reply.status != "RS_OK" or endpoint in ("info", "balance"):
        assert money_state(wallet) == before


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_any_bytes_get_a_known_status(hub88, token, caplog, raw):
    caplog.clear()
    reply = hub88("bet", raw=raw)
    assert reply.status in STATUSES
    assert _surprises(caplog) == []


def _surprises(caplog) -> list[str]:
    """What the adapter logged as unexpected (errors, unmapped domain errors)."""
    return [
        r.getMessage() for r in caplog.records if r.name.startswith("apps.games") and r.levelname != "INFO"
    ]
