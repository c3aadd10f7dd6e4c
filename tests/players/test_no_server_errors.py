"""No 500 on anything a client can send, and every error in the one JSON shape.

Bodies are sent as raw bytes (JSON escapes everything, lone surrogates included), so
what reaches the server is exactly what an HTTP client could send.
"""

import json
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.players.models import Player
from tests.factories import PLAYER_PASSWORD, PlayerFactory
from tests.helpers.staff import staff_login

REGISTER_URL = "/api/v1/player/register"
LOGIN_URL = "/api/v1/player/login"
PROFILE_URL = "/api/v1/player/profile"
STAFF_PLAYERS_URL = "/api/v1/staff/players/"

REGISTER_FIELDS = [
    "brand",
    "username",
    "email",
    "password",
    "first_name",
    "last_name",
    "date_of_birth",
    "country",
    "address_line",
    "city",
    "postcode",
    "mobile",
    "national_id",
    "currency",
    "marketing_opt_in",
]
LOGIN_FIELDS = ["brand", "login", "password"]
PROFILE_FIELDS = ["address_line", "city", "postcode", "mobile", "marketing_opt_in"]

# Any text at all, lone surrogates and control characters included.
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
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.text(min_size=100, max_size=5000),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.dates().map(date.isoformat),
    st.sampled_from(
        [
            "2024-02-30",
            "0000-01-01",
            "9999-12-31",
            "1990-13-01",
            "1990-01-02T00:00:00Z",
            "",
            " ",
            "\x00",
            "ǅ" * 64,
            "ß" * 20,
            "ﬃ" * 100,
            "+44 7400 123456",
            "+999 1234",
            "٠٧٤٠٠١٢٣٤٥٦",
            "811218-9876",
            "19811218+9876",
            "brand-a",
            "GBP",
            "EUR",
            "alice@example.com",
            "1e309",
            "NaN",
            "true",
        ]
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        "application/json; charset=rot13",
        "application/json; charset=zlib",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-32",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "text/plain",
        "application/xml",
        "",
    ]
) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)

QUICK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

pytestmark = pytest.mark.django_db


def assert_answered_as_a_client_error_or_success(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json", response.content[:500]
        body = response.json()
        assert list(body) == ["error"]
        assert isinstance(body["error"]["code"], str)
        assert body["error"]["code"]
        assert isinstance(body["error"]["message"], str)
        assert set(body["error"]) <= {"code", "message", "fields", "details"}
        if "fields" in body["error"]:
            assert isinstance(body["error"]["fields"], dict)


def send_json(client, method: str, url: str, body) -> object:
    return client.generic(method, url, json.dumps(body), content_type="application/json")


@pytest.fixture
def clients(brand, player, token_for, player_client, make_staff):
    """Alice's player API client, and a compliance officer's client with a player to act on."""
    staff = APIClient()
    staff_login(staff, make_staff("Compliance officer", brands=[brand]))
    target = PlayerFactory(brand=brand, username="target")
    return {"player": player_client(token_for(player)), "staff": staff, "target": target}


@QUICK
@given(
    changes=st.dictionaries(st.sampled_from([*REGISTER_FIELDS, "unexpected"]), FIELD_VALUES, max_size=4),
    dropped=st.sets(st.sampled_from(REGISTER_FIELDS), max_size=3),
)
def test_register_with_arbitrary_field_values(api_client, register_payload, changes, dropped):
    # given
    body = {**register_payload(), **changes}
    for name in dropped:
        body.pop(name, None)

    # when
    response = send_json(api_client, "POST", REGISTER_URL, body)

    # then
    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(
    changes=st.dictionaries(st.sampled_from([*LOGIN_FIELDS, "unexpected"]), FIELD_VALUES, max_size=3),
    dropped=st.sets(st.sampled_from(LOGIN_FIELDS), max_size=2),
)
def test_login_with_arbitrary_field_values(api_client, player, changes, dropped):
    # given
    body = {"brand": "brand-a", "login": "alice", "password": PLAYER_PASSWORD, **changes}
    for name in dropped:
        body.pop(name, None)

    # when
    response = send_json(api_client, "POST", LOGIN_URL, body)

    # then
    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(changes=st.dictionaries(st.sampled_from([*PROFILE_FIELDS, "first_name", "status"]), FIELD_VALUES))
def test_profile_patch_with_arbitrary_field_values(clients, changes):
    # when
    response = send_json(clients["player"], "PATCH", PROFILE_URL, changes)

    # then
    assert_answered_as_a_client_error_or_success(response)
    assert response.status_code != 401  # the token stayed good: this exercised the view


@QUICK
@given(body=JSON_VALUES, target=st.sampled_from(["register", "login", "profile", "status"]))
def test_arbitrary_json_documents(api_client, clients, body, target):
    # given
    client, method, url = {
        "register": (api_client, "POST", REGISTER_URL),
        "login": (api_client, "POST", LOGIN_URL),
        "profile": (clients["player"], "PATCH", PROFILE_URL),
        "status": (clients["staff"], "POST", f"{STAFF_PLAYERS_URL}{clients['target'].pk}/status/"),
    }[target]

    # when
    response = send_json(client, method, url, body)

    # then
    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(
    body=st.binary(max_size=2000) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    content_type=CONTENT_TYPES,
    method=st.sampled_from(["POST", "PATCH", "PUT"]),
    target=st.sampled_from(["register", "login", "profile", "status"]),
)
def test_arbitrary_bytes_and_content_types(api_client, clients, body, content_type, method, target):
    # given
    client, url = {
        "register": (api_client, REGISTER_URL),
        "login": (api_client, LOGIN_URL),
        "profile": (clients["player"], PROFILE_URL),
        "status": (clients["staff"], f"{STAFF_PLAYERS_URL}{clients['target'].pk}/status/"),
    }[target]

    # when
    response = client.generic(method, url, body, content_type=content_type)

    # then
    assert_answered_as_a_client_error_or_success(response)


@QUICK
@given(
    params=st.dictionaries(
        st.sampled_from(["brand", "status", "kyc_status", "username", "cursor", "page_size", "other"]),
        st.text(st.characters(codec="utf-8"), max_size=40) | st.integers().map(str),
        max_size=4,
    ),
    detail=st.none()
    | st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=30),
)
def test_staff_player_reads_with_arbitrary_query_parameters(clients, params, detail):
    # given
    url = STAFF_PLAYERS_URL if detail is None else f"{STAFF_PLAYERS_URL}{detail}/"

    # when
    response = clients["staff"].get(url, params)

    # then
    assert_answered_as_a_client_error_or_success(response)


# --- cases a generator is unlikely to reach ------------------------------------------


@pytest.mark.parametrize("depth", [100, 900, 990, 1000, 5000, 200_000])
@pytest.mark.parametrize("opening, closing", [(b"[", b"]"), (b'{"a":', b"}")], ids=["arrays", "objects"])
@pytest.mark.parametrize("url", [REGISTER_URL, LOGIN_URL])
def test_deeply_nested_json_is_a_client_error(api_client, brand, url, depth, opening, closing):
    # given
    inner = opening * depth + b"1" + closing * depth
    body = b'{"brand": ' + inner + b', "login": "alice", "password": "x"}'

    # when
    response = api_client.generic("POST", url, body, content_type="application/json")

    # then
    assert_answered_as_a_client_error_or_success(response)
    assert response.status_code == 400
    assert not Player.objects.exists()


def test_deeply_nested_json_is_answered_as_malformed(api_client, brand):
    # when
    response = api_client.generic(
        "POST", REGISTER_URL, b"[" * 5000 + b"]" * 5000, content_type="application/json"
    )

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "malformed_request",
            "message": "JSON parse error - the document is nested too deeply.",
        }
    }


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b'{"brand": "' + b"a" * 3_000_000 + b'"}'),
        ("application/x-www-form-urlencoded", b"brand=" + b"a" * 3_000_000),
    ],
    ids=["json", "form"],
)
def test_a_body_over_the_upload_limit_is_413_in_json(api_client, brand, content_type, body):
    # when
    response = api_client.generic("POST", REGISTER_URL, body, content_type=content_type)

    # then
    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "request_too_large", "message": "The request body is too large."}
    }
    assert not Player.objects.exists()


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(1200)).encode()),
        (
            "multipart/form-data; boundary=xx",
            b"".join(
                b'--xx\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i for i in range(1200)
            )
            + b"--xx--\r\n",
        ),
    ],
    ids=["form", "multipart"],
)
def test_too_many_form_fields_is_a_json_400(api_client, brand, content_type, body):
    # when
    response = api_client.generic("POST", REGISTER_URL, body, content_type=content_type)

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "malformed_request", "message": "The request has too many fields or files."}
    }
    assert not Player.objects.exists()


def test_lone_surrogates_are_refused_as_invalid(api_client, register_payload):
    # given
    body = json.dumps(register_payload(first_name="\ud800", password="pass\udfffword-long"))

    # when
    response = api_client.generic("POST", REGISTER_URL, body, content_type="application/json")

    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"first_name", "password"}
    assert not Player.objects.exists()
