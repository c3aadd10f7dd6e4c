"""django-axes locks an admin account after AXES_FAILURE_LIMIT failed logins (database handler)."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from tests.factories import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN_URL = "/admin/login/?next=/admin/"
LOCKOUT_MESSAGE = "Account locked: too many login attempts. Please try again later."
BAD_CREDENTIALS = "Please enter the correct username and password for a staff account."


@pytest.fixture
def officer(make_staff, brand):
    return make_staff("Compliance officer", brands=[brand], username="officer")


def _login(client: Client, username: str, password: str, ip: str = "127.0.0.1"):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _signed_in(client: Client):
    return client.session.get("_auth_user_id")


def test_settings_use_the_database_handler_and_a_limit_of_five():
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.AXES_FAILURE_LIMIT == 5


def test_right_password_is_refused_once_the_failure_limit_is_reached(officer):
    client = Client()
    # Given four failed logins: each is the login form again with its error
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "officer", "wrong-password")
        assert response.status_code == 200
        assert BAD_CREDENTIALS in response.content.decode()
    # When the fifth fails
    response = _login(client, "officer", "wrong-password")
    # Then axes answers with its lockout response
    assert response.status_code == 429
    assert response.content.decode() == LOCKOUT_MESSAGE
    attempt = AccessAttempt.objects.get(username="officer", ip_address="127.0.0.1")
    assert attempt.failures_since_start == 5
    # And even the right password is refused, without signing in
    response = _login(client, "officer", STAFF_PASSWORD)
    assert response.status_code == 429
    assert response.content.decode() == LOCKOUT_MESSAGE
    assert _signed_in(client) is None
    # And the admin stays closed to this client
    assert client.get("/admin/").status_code == 302


def test_right_password_before_the_limit_signs_in_and_resets_the_count(officer):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "officer", "wrong-password").status_code == 200

    response = _login(client, "officer", STAFF_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert _signed_in(client) == str(officer.pk)
    # AXES_RESET_ON_SUCCESS: the earlier failures no longer count
    assert AccessAttempt.objects.filter(username="officer").count() == 0
    other = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(other, "officer", "wrong-password").status_code == 200
    assert _login(other, "officer", STAFF_PASSWORD).status_code == 302


def test_lockout_is_per_username_and_address(officer, make_staff, brand):
    # Given the officer is locked out from 127.0.0.1
    make_staff("Support agent", brands=[brand], username="colleague")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "officer", "wrong-password")
    assert _login(client, "officer", STAFF_PASSWORD).status_code == 429
    # Then a colleague on the same address still signs in
    assert _login(Client(), "colleague", STAFF_PASSWORD).status_code == 302
    # And the officer from another address too (the lock is on the pair)
    other_address = Client()
    assert _login(other_address, "officer", STAFF_PASSWORD, ip="192.0.2.10").status_code == 302
    assert _signed_in(other_address) == str(officer.pk)
