"""No 500 on anything a client can send to the payments API, every error in the one JSON
shape, and nothing written by a refused request. Also: the endpoints are in the schema."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.payments.models import Payment, PaymentAccount, ReviewAction
from apps.players import services as player_services
from apps.wallet.models import Wallet
from tests.factories import PLAYER_PASSWORD
from tests.helpers.staff import staff_login
from tests.payments.conftest import STARTING_CASH

pytestmark = pytest.mark.django_db

WITHDRAW_URL = "/api/v1/player/payments/withdrawals"
DEPOSIT_URL = "/api/v1/player/payments/deposits"
STAFF_URL = "/api/v1/staff/payments/"

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)
HOSTILE_AMOUNTS = st.sampled_from(
    [
        "0",
        "0.00",
        "-1",
        "-0.01",
        "12.345",
        "12.5000000000000000000000000000000001",
        "1e3",
        "1E-2",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e309",
        "9" * 19,
        "9" * 30,
        "9" * 5000,
        "92233720368547758.07",
        "92233720368547758.08",
        "٣٤",
        "１２.５０",
        " 12.50 ",
        "12.50\x00",
        ".5",
        "5.",
        "",
        "0x10",
        "1_000",
    ]
)
AMOUNTS = HOSTILE_AMOUNTS | JSON_VALUES | st.decimals(allow_nan=False, allow_infinity=False).map(str)
IBANS = (
    st.sampled_from(
        [
            "GB29NWBK60161331926819",
            "GB28NWBK60161331926819",
            "XX00",
            "ǅ" * 20,
            "ﬃ" * 30,
            "gb29 nwbk 6016 1331 9268 19",
        ]
    )
    | ANY_TEXT
)
PLAYER_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "amount": AMOUNTS,
        "currency": st.sampled_from(["GBP", "EUR", "SEK", "XYZ", "gbp", ""]) | JSON_VALUES,
        "method": st.sampled_from(["bank_transfer", "card", "crypto", ""]) | JSON_VALUES,
        "account": st.fixed_dictionaries({}, optional={"iban": IBANS | JSON_VALUES}) | JSON_VALUES,
        "unexpected": JSON_VALUES,
    },
)
STAFF_BODIES = st.fixed_dictionaries(
    {}, optional={"reason": JSON_VALUES | st.text(min_size=490, max_size=600)}
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-16",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "",
    ]
)

QUICK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def assert_answered_as_a_client_error_or_success(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json", response.content[:500]
        body = response.json()
        assert list(body) == ["error"]
        assert isinstance(body["error"]["code"], str) and body["error"]["code"]
        assert isinstance(body["error"]["message"], str)
        assert set(body["error"]) <= {"code", "message", "fields", "details"}
        if "fields" in body["error"]:
            assert isinstance(body["error"]["fields"], dict)


def send_json(client, method: str, url: str, body):
    return client.generic(method, url, json.dumps(body), content_type="application/json")


@pytest.fixture
def as_player(player, funded_wallet):
    _, key, _ = player_services.player_login(
        brand_code=player.brand.code, login=player.username, password=PLAYER_PASSWORD
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def as_reviewer(reviewer):
    client = APIClient()
    staff_login(client, reviewer)
    return client


def money_of(wallet) -> tuple[int, int]:
    wallet = Wallet.objects.get(pk=wallet.pk)
    return wallet.cash, wallet.reserved


@QUICK
@given(body=PLAYER_BODIES, url=st.sampled_from([WITHDRAW_URL, DEPOSIT_URL]))
def test_player_posts_with_hostile_fields(as_player, funded_wallet, policy, body, url):
    # given (examples share the database: compare with what was there before this one)
    before = (Payment.objects.count(), PaymentAccount.objects.count(), money_of(funded_wallet))

    # when
    response = send_json(as_player, "POST", url, body)

    # then
    assert_answered_as_a_client_error_or_success(response)
    assert response.status_code != 401  # the token stayed good: this exercised the view
    if response.status_code >= 400:
        assert (Payment.objects.count(), PaymentAccount.objects.count(), money_of(funded_wallet)) == before
    assert sum(money_of(funded_wallet)) == STARTING_CASH  # nothing credited or lost, at most reserved


@QUICK
@given(
    body=JSON_VALUES,
    url=st.sampled_from(
        [WITHDRAW_URL, DEPOSIT_URL, f"{WITHDRAW_URL}/1/cancel", f"{WITHDRAW_URL}/{'9' * 18}/cancel"]
    ),
)
def test_player_posts_of_arbitrary_json_documents(as_player, policy, body, url):
    response = send_json(as_player, "POST", url, body)

    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(
    body=st.binary(max_size=2000) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    content_type=CONTENT_TYPES,
    method=st.sampled_from(["POST", "PATCH", "PUT", "DELETE", "GET"]),
    url=st.sampled_from([WITHDRAW_URL, DEPOSIT_URL, "/api/v1/player/payments"]),
)
def test_player_arbitrary_bytes_and_methods(as_player, policy, body, content_type, method, url):
    response = as_player.generic(method, url, body, content_type=content_type)

    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(
    body=STAFF_BODIES | JSON_VALUES,
    decision=st.sampled_from(["claim", "unclaim", "approve", "reject", "escalate"]),
)
def test_staff_decisions_with_hostile_bodies(as_reviewer, withdrawal, policy, body, decision):
    # given: a fresh item in the queue for each example
    payment = withdrawal(amount=100)

    # when
    response = send_json(as_reviewer, "POST", f"{STAFF_URL}{payment.pk}/{decision}/", body)

    # then
    assert_answered_as_a_client_error_or_success(response)
    if response.status_code >= 400:
        assert list(ReviewAction.objects.filter(payment=payment).values_list("action", flat=True)) == [
            "flagged"
        ]


@QUICK
@given(
    params=st.dictionaries(
        st.sampled_from(["brand", "kind", "status", "queue", "flag", "cursor", "page_size", "other"]),
        st.text(st.characters(codec="utf-8"), max_size=40) | st.integers().map(str),
        max_size=4,
    ),
    url=st.sampled_from([STAFF_URL, f"{STAFF_URL}review-queue/"]),
)
def test_staff_reads_with_arbitrary_query_parameters(as_reviewer, withdrawal, policy, params, url):
    response = as_reviewer.get(url, params)

    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(params=st.dictionaries(st.sampled_from(["cursor", "page_size"]), st.text(max_size=40), max_size=2))
def test_player_list_with_arbitrary_query_parameters(as_player, params):
    response = as_player.get("/api/v1/player/payments", params)

    assert_answered_as_a_client_error_or_success(response)


@pytest.mark.parametrize(
    "amount",
    [
        "0",
        "0.00",
        "-5",
        "-0.01",
        "12.345",
        "1e2",
        "NaN",
        "9" * 40,
        "92233720368547758.08",
        10,
        12.5,
        True,
        None,
        [],
        {},
    ],
)
@pytest.mark.parametrize("url", [WITHDRAW_URL, DEPOSIT_URL])
def test_bad_amounts_are_a_400_on_the_amount(as_player, funded_wallet, policy, amount, url):
    # when
    body = {"amount": amount, "currency": "GBP", "account": {"iban": "GB29NWBK60161331926819"}}
    response = send_json(as_player, "POST", url, body)

    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"amount"}
    assert not Payment.objects.exists() and not PaymentAccount.objects.exists()
    assert money_of(funded_wallet) == (STARTING_CASH, 0)


@pytest.mark.parametrize("url", [WITHDRAW_URL, DEPOSIT_URL])
def test_deeply_nested_json_is_a_400(as_player, policy, url):
    body = b'{"amount": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    response = as_player.generic("POST", url, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert not Payment.objects.exists()


def test_the_schema_lists_the_payments_endpoints(api_client):
    # when
    response = api_client.get("/api/schema/", {"format": "json"})

    # then
    paths = response.json()["paths"]
    assert {
        "/api/v1/player/payments": {"get"},
        "/api/v1/player/payments/withdrawals": {"post"},
        "/api/v1/player/payments/withdrawals/{payment_id}/cancel": {"post"},
        "/api/v1/player/payments/deposits": {"post"},
        "/api/v1/staff/payments/": {"get"},
        "/api/v1/staff/payments/review-queue/": {"get"},
        "/api/v1/staff/payments/{id}/": {"get"},
        "/api/v1/staff/payments/{id}/claim/": {"post"},
        "/api/v1/staff/payments/{id}/unclaim/": {"post"},
        "/api/v1/staff/payments/{id}/approve/": {"post"},
        "/api/v1/staff/payments/{id}/reject/": {"post"},
        "/api/v1/staff/payments/{id}/escalate/": {"post"},
    } == {path: set(paths[path]) - {"parameters"} for path in paths if "/payments" in path}
    assert paths["/api/v1/player/payments"]["get"]["security"] == [{"playerToken": []}]
    player_payment = response.json()["components"]["schemas"]["PlayerPayment"]["properties"]
    assert "risk_flags" not in player_payment and "queue" not in player_payment
