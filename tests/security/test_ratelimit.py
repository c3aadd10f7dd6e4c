"""Rate limits (apps/security/ratelimit.py): leaky buckets per player, staff user, provider
integration and login address; 429 + Retry-After in the API's error shape, the providers'
own error forms, and one bucket shared by several processes through Redis."""

import base64
import json
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from apps.players import services as player_services
from apps.security.ratelimit import bucket_hit, client_ip
from tests.factories import PLAYER_PASSWORD, PlayerFactory
from tests.helpers.staff import staff_login
from tests.security.conftest import PIQ_IP, PIQ_PASSWORD, PIQ_USERNAME

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
PROFILE = "/api/v1/player/profile"
PLAYER_LOGIN = "/api/v1/player/login"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


def _limit(settings, kind: str, limit: int, per_seconds: float = 60.0, burst: int | None = None):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, kind: (limit, per_seconds, burst or limit)}


def _player_client(player) -> APIClient:
    _, key, _ = player_services.player_login(
        brand_code=player.brand.code, login=player.username, password=PLAYER_PASSWORD
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


# --- Player API ------------------------------------------------------------------------


def test_player_api_answers_429_with_retry_after_past_the_limit(settings, brand):
    # 3 a minute: the bucket refills one unit every 20 s, so a 4th call at once is refused.
    _limit(settings, "player", 3)
    client = _player_client(PlayerFactory(brand=brand))

    assert [client.get(PROFILE).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(PROFILE)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 20
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"]


def test_burst_above_the_sustained_rate(settings, brand):
    # 1 a minute sustained, 4 at once.
    _limit(settings, "player", 1, burst=4)
    client = _player_client(PlayerFactory(brand=brand))

    assert [client.get(PROFILE).status_code for _ in range(5)] == [200, 200, 200, 200, 429]


def test_one_players_bucket_does_not_limit_another(settings, brand):
    _limit(settings, "player", 2)
    alice = _player_client(PlayerFactory(brand=brand, username="alice"))
    bob = _player_client(PlayerFactory(brand=brand, username="bob"))

    assert [alice.get(PROFILE).status_code for _ in range(3)] == [200, 200, 429]
    assert [bob.get(PROFILE).status_code for _ in range(2)] == [200, 200]
    assert bob.get(PROFILE).status_code == 429


def test_unauthenticated_calls_are_not_counted_against_a_player(settings, brand):
    _limit(settings, "player", 2)
    player = PlayerFactory(brand=brand)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert {stranger.get(PROFILE).status_code for _ in range(5)} == {401}
    client = _player_client(player)
    assert [client.get(PROFILE).status_code for _ in range(2)] == [200, 200]


# --- Logins, per client address --------------------------------------------------------


def _player_login(client, player, password, ip, **extra):
    return client.post(
        PLAYER_LOGIN,
        {"brand": player.brand.code, "login": player.username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
        **extra,
    )


def test_player_login_is_limited_per_address(settings, brand):
    _limit(settings, "login", 2)
    player = PlayerFactory(brand=brand)
    client = APIClient()

    assert _player_login(client, player, "wrong", "203.0.113.5").status_code != 429
    assert _player_login(client, player, "wrong", "203.0.113.5").status_code != 429
    refused = _player_login(client, player, PLAYER_PASSWORD, "203.0.113.5")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    # A forged X-Forwarded-For is not believed (no trusted proxy is configured) ...
    forged = _player_login(
        client, player, PLAYER_PASSWORD, "203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.77"
    )
    assert forged.status_code == 429
    # ... and another address has its own bucket.
    assert _player_login(client, player, PLAYER_PASSWORD, "203.0.113.6").status_code == 200


def test_admin_login_is_limited_per_address(settings, make_staff, brand):
    _limit(settings, "login", 2)
    make_staff("Compliance officer", brands=[brand], username="officer")
    client = Client()

    for _ in range(2):
        response = client.post(ADMIN_LOGIN, {"username": "officer", "password": "x"}, REMOTE_ADDR="192.0.2.9")
        assert response.status_code == 200  # the form again, with its error
    refused = client.post(ADMIN_LOGIN, {"username": "officer", "password": "x"}, REMOTE_ADDR="192.0.2.9")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in refused
    # Reading the login page is not a login attempt.
    assert client.get(ADMIN_LOGIN, REMOTE_ADDR="192.0.2.9").status_code == 200


def test_client_address_behind_a_trusted_proxy(settings, rf):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    behind = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1, 10.0.0.3")
    direct = rf.get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="6.6.6.6")

    # The nearest address the trusted proxies saw, not what the client wrote further left.
    assert client_ip(behind) == "198.51.100.1"
    assert client_ip(direct) == "198.51.100.9"


# --- Staff: one bucket for the admin and the staff API ---------------------------------


def test_staff_user_shares_one_bucket_between_admin_and_api(settings, make_staff, brand):
    _limit(settings, "staff", 3)
    officer = make_staff("Compliance officer", brands=[brand], username="officer")
    other = make_staff("Compliance officer", brands=[brand], username="other")
    client = Client()
    staff_login(client, officer)

    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/staff/brands/").status_code == 200
    assert client.get("/admin/").status_code == 200
    api_refused = client.get("/api/v1/staff/brands/")
    admin_refused = client.get("/admin/")

    assert api_refused.status_code == admin_refused.status_code == 429
    assert api_refused.json()["error"]["code"] == admin_refused.json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in api_refused and "Retry-After" in admin_refused
    colleague = Client()
    staff_login(colleague, other)
    assert colleague.get("/admin/").status_code == 200


# --- Provider doors: their protocols' own error forms ----------------------------------


def test_hub88_over_the_limit_answers_200_rs_error_unknown_signed(settings, hub88, token):
    _limit(settings, "provider", 2)
    balance = {"request_uuid": str(uuid.uuid4()), "token": token, "game_code": "clt_dragonrising"}

    # Forged calls do not spend the integration's bucket ...
    assert {hub88("balance", balance, sign_with="stranger").status for _ in range(5)} == {
        "RS_ERROR_INVALID_SIGNATURE"
    }
    # ... Hub88's own do, and past the limit get the protocol's temporary failure.
    assert [hub88("balance", balance).status for _ in range(2)] == ["RS_OK", "RS_OK"]
    refused = hub88("balance", balance)  # HTTP 200 (asserted by the fixture)

    assert refused.status == "RS_ERROR_UNKNOWN"
    assert refused.body["request_uuid"] == balance["request_uuid"]
    assert refused.signed


def test_a_hub88_bet_over_the_limit_moves_no_money_and_writes_nothing(settings, hub88, wallet, movement):
    from apps.core.models import Event
    from apps.wallet.models import LedgerEntry

    _limit(settings, "provider", 1)
    assert hub88("bet", movement("bet")).status == "RS_OK"
    wallet.refresh_from_db()
    before = (wallet.cash, wallet.bonus, LedgerEntry.objects.count(), Event.objects.count())

    refused = hub88("bet", movement("bet"))

    assert refused.status == "RS_ERROR_UNKNOWN"
    wallet.refresh_from_db()
    assert (wallet.cash, wallet.bonus, LedgerEntry.objects.count(), Event.objects.count()) == before


def _piq(body: dict, *, password: str = PIQ_PASSWORD):
    auth = "Basic " + base64.b64encode(f"{PIQ_USERNAME}:{password}".encode()).decode()
    response = Client().post(
        "/integrations/paymentiq/verifyuser",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": auth},
        REMOTE_ADDR=PIQ_IP,
    )
    return response.status_code, response.json()


def test_paymentiq_over_the_limit_answers_its_own_error_shape(settings, piq_integration, brand):
    _limit(settings, "provider", 2)
    player = PlayerFactory(brand=brand)
    body = {"sessionId": "no-such-session", "userId": str(player.pk)}

    # Wrong credentials do not spend the integration's bucket.
    assert {_piq(body, password="wrong")[0] for _ in range(5)} == {401}
    answers = [_piq(body) for _ in range(3)]

    assert [a[1].get("errCode") != "rate_limited" for a in answers[:2]] == [True, True]
    status, refused = answers[2]
    assert status == 200
    assert refused["success"] is False
    assert refused["errCode"] == "rate_limited"
    assert refused["errMsg"]


# --- Storage: Redis shared by processes, memory without Redis --------------------------

WORKER = """
import os, sys
import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pam.settings")
django.setup()
from apps.security.ratelimit import bucket_hit

print("ready", flush=True)
sys.stdin.readline()  # go
print(sum(bucket_hit("provider", sys.argv[1]).allowed for _ in range(int(sys.argv[2]))), flush=True)
"""


def _two_processes_hit(redis_url: str, key: str, attempts: int) -> list[int]:
    """Two Django processes take `attempts` units each from the same bucket, started together."""
    env = {**os.environ, "REDIS_URL": redis_url, "RATE_LIMIT_PROVIDER": "10/m", "RATE_LIMITS_ENABLED": "true"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, key, str(attempts)],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        return [int(worker.communicate(timeout=60)[0].strip()) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


@pytest.mark.redis
def test_leaky_bucket_is_shared_by_two_processes_through_redis():
    # 10 a minute (one unit back every 6 s): two processes asking 30 times each at once get
    # 10 between them, not 10 each.
    admitted = _two_processes_hit(settings.REDIS_URL, f"shared-{uuid.uuid4()}", 30)

    assert sum(admitted) == 10, admitted
    # The same run with each process's own in-memory bucket admits 10 each: what the shared
    # store prevents.
    assert _two_processes_hit("", f"local-{uuid.uuid4()}", 30) == [10, 10]


def test_in_memory_bucket_without_redis(settings):
    settings.REDIS_URL = ""
    _limit(settings, "provider", 3)
    key = f"mem-{uuid.uuid4()}"

    verdicts = [bucket_hit("provider", key) for _ in range(4)]

    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 1 <= verdicts[3].retry_after <= 20
    assert bucket_hit("provider", f"{key}-other").allowed


def test_switched_off(settings):
    settings.RATE_LIMITS_ENABLED = False
    _limit(settings, "provider", 1)
    key = f"off-{uuid.uuid4()}"

    assert all(bucket_hit("provider", key).allowed for _ in range(5))
