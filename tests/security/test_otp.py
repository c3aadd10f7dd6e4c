"""The staff second factor (issue 9): required at every staff door (admin pages, staff API,
the dashboards' websocket), the enrolment, the verify page (app code or recovery code),
wrong codes counted toward the lockout, and the device reset."""

import re
from base64 import b32decode
from urllib.parse import unquote

import pytest
from asgiref.sync import async_to_sync
from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from apps.players.services import player_login
from tests.factories import PLAYER_PASSWORD, STAFF_PASSWORD, PlayerFactory
from tests.helpers.staff import MODEL_BACKEND, staff_login, totp_device, totp_now, totp_wrong

ENROL = "/admin/second-factor/enrol/"
VERIFY = "/admin/second-factor/verify/"

# A sample of admin pages: the index, a model list and add page, a custom view, a page of
# the user's own (password change), an app index.
ADMIN_SAMPLE = [
    "/admin/",
    "/admin/payments/payment/",
    "/admin/tenants/staffuser/",
    "/admin/tenants/staffuser/add/",
    "/admin/compliance/",
    "/admin/password_change/",
    "/admin/auditlog/logentry/",
]
STAFF_API_SAMPLE = [
    "/api/v1/staff/brands/",
    "/api/v1/staff/players/",
    "/api/v1/staff/payments/",
    "/api/v1/staff/payments/review-queue/",
    "/api/v1/staff/exclusions/marketing-exports/",
]


@pytest.fixture(autouse=True)
def _no_otp_throttling(settings):
    # django-otp's exponential delay after a wrong code (tested by django-otp itself) would
    # refuse the right code a test sends next; the lockout here is axes'.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def password_only(user) -> Client:
    """Signed in with the password only: no second factor in the session."""
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


# --- every door ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ADMIN_SAMPLE)
def test_an_admin_page_sends_an_unverified_session_to_its_second_factor(superuser, path):
    without_device = password_only(superuser)
    refused_enrol = without_device.get(path)
    totp_device(superuser)
    refused_verify = password_only(superuser).get(path)
    verified = Client()
    staff_login(verified, superuser)

    assert refused_enrol.status_code == 302
    assert refused_enrol["Location"].startswith(f"{ENROL}?next=")
    assert unquote(refused_enrol["Location"].split("next=")[1]) == path
    assert refused_verify.status_code == 302
    assert refused_verify["Location"].startswith(f"{VERIFY}?next=")
    assert verified.get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", ENROL, "/admin/jsi18n/"])
def test_the_login_and_second_factor_pages_open_to_an_unverified_session(superuser, path):
    assert password_only(superuser).get(path).status_code in (200, 302)
    if path == ENROL:
        assert password_only(superuser).get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", STAFF_API_SAMPLE)
def test_the_staff_api_refuses_an_unverified_session_with_otp_required(superuser, path):
    unverified = APIClient()
    unverified.force_login(superuser, backend=MODEL_BACKEND)
    verified = APIClient()
    staff_login(verified, superuser)

    refused = unverified.get(path)
    answered = verified.get(path)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "otp_required"
    assert answered.status_code == 200, answered.content


@pytest.mark.django_db
def test_the_staff_api_refuses_an_unverified_write_and_changes_nothing(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])
    player = PlayerFactory(brand=brand)
    client = APIClient()
    client.force_login(officer, backend=MODEL_BACKEND)

    response = client.post(
        f"/api/v1/staff/players/{player.pk}/status/", {"transition": "suspend", "reason": "x"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "otp_required"
    player.refresh_from_db()
    assert player.status == "active"


@pytest.mark.django_db
def test_the_player_api_is_not_affected(brand):
    player = PlayerFactory(brand=brand)
    client = APIClient()
    _, key, _ = player_login(brand_code=brand.code, login=player.username, password=PLAYER_PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    assert client.get("/api/v1/player/profile").status_code == 200


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_dashboards_websocket_closes_an_unverified_session_4401(make_staff, brand):
    from channels.testing import WebsocketCommunicator

    from pam.asgi import application
    from tests.dashboards.conftest import ORIGIN, close_code, connected, socket

    officer = make_staff("Compliance officer", brands=[brand])
    unverified_cookie = f"sessionid={password_only(officer).cookies['sessionid'].value}".encode()
    unverified = WebsocketCommunicator(
        application, "/ws/dashboards/?streams=alerts", headers=[ORIGIN, (b"cookie", unverified_cookie)]
    )

    verified = socket("streams=alerts", officer)  # tests/dashboards: staff_login's cookie

    async def run():
        refused = await close_code(unverified)
        hello = await connected(verified)
        await verified.disconnect()
        return refused, hello

    refused, hello = async_to_sync(run)()

    assert refused == 4401
    assert hello["brands"] == [brand.pk]


# --- enrolment ------------------------------------------------------------------------------


def _secret(page_html: str) -> bytes:
    text = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', page_html).group(1).replace(" ", "")
    return b32decode(text + "=" * (-len(text) % 8))


def _code(key: bytes) -> str:
    return str(totp(key)).zfill(6)


@pytest.mark.django_db
def test_enrolment_shows_a_qr_code_confirms_with_a_code_and_shows_ten_recovery_codes_once(
    make_staff, brand, failures
):
    officer = make_staff("Compliance officer", brands=[brand])
    client = password_only(officer)

    page = client.get(f"{ENROL}?next=/admin/payments/payment/")
    html = page.content.decode()
    key = _secret(html)
    wrong = client.post(ENROL, {"token": str((int(_code(key)) + 1) % 1_000_000).zfill(6), "next": "/admin/"})
    still_unconfirmed = TOTPDevice.objects.get(user=officer)
    counted = AccessAttempt.objects.get(username=officer.username).failures_since_start
    done = client.post(ENROL, {"token": _code(key), "next": "/admin/payments/payment/"})
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", done.content.decode())

    assert 'src="data:image/svg+xml;base64,' in html
    assert wrong.status_code == 200 and "not valid" in wrong.content.decode()
    assert still_unconfirmed.confirmed is False
    assert failures == [{"username": officer.username, "stage": "otp"}]
    assert counted == 1
    assert not AccessAttempt.objects.filter(username=officer.username).exists()  # the right code cleared it
    assert done.status_code == 200
    assert len(set(codes)) == 10
    assert sorted(StaticToken.objects.filter(device__user=officer).values_list("token", flat=True)) == sorted(
        codes
    )
    assert TOTPDevice.objects.get(user=officer).confirmed is True
    assert 'href="/admin/payments/payment/"' in done.content.decode()
    assert client.get("/admin/payments/payment/").status_code == 200
    # Shown once: enrolment is over, the page now sends to the verify page, no codes.
    again = client.get(ENROL)
    assert again.status_code == 302 and again["Location"].startswith(VERIFY)


@pytest.mark.django_db
def test_reloading_the_enrolment_page_keeps_the_same_secret(make_staff, brand):
    client = password_only(make_staff("Support agent", brands=[brand]))

    first, second = client.get(ENROL), client.get(ENROL)

    assert _secret(first.content.decode()) == _secret(second.content.decode())


# --- verification ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_right_code_verifies_the_session_and_returns_to_the_page(superuser):
    device = totp_device(superuser)
    client = password_only(superuser)

    response = client.post(VERIFY, {"token": totp_now(device), "next": "/admin/tenants/staffuser/"})

    assert response.status_code == 302 and response["Location"] == "/admin/tenants/staffuser/"
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get("/admin/tenants/staffuser/").status_code == 200


@pytest.mark.django_db
def test_a_wrong_code_is_refused_reported_and_locks_out_at_the_axes_limit(superuser, failures, settings):
    settings.AXES_FAILURE_LIMIT = 3
    device = totp_device(superuser)
    client = password_only(superuser)
    wrong = totp_wrong(device)

    first = client.post(VERIFY, {"token": wrong})
    client.post(VERIFY, {"token": "not-a-code"})
    third = client.post(VERIFY, {"token": wrong})
    after = client.get("/admin/")

    assert first.status_code == 200 and "not valid" in first.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert failures == [{"username": superuser.username, "stage": "otp"}] * 3
    assert AccessAttempt.objects.get(username=superuser.username).failures_since_start == 3
    # Locked out: the session is ended; axes refuses the password at the login page too.
    assert third.status_code in (302, 403, 429)
    assert after.status_code == 302 and after["Location"].startswith("/admin/login/")
    login = Client().post("/admin/login/", {"username": superuser.username, "password": STAFF_PASSWORD})
    assert login.status_code in (403, 429)


@pytest.mark.django_db
def test_an_accepted_code_clears_the_failures_counted_toward_the_lockout(superuser, failures, settings):
    settings.AXES_FAILURE_LIMIT = 3
    device = totp_device(superuser)
    wrong = totp_wrong(device)
    first = password_only(superuser)
    first.post(VERIFY, {"token": wrong})
    first.post(VERIFY, {"token": wrong})
    counted_before = AccessAttempt.objects.get(username=superuser.username).failures_since_start

    accepted = first.post(VERIFY, {"token": totp_now(device)})
    left_after = AccessAttempt.objects.filter(username=superuser.username).count()
    # Two more wrong codes in a later session: without the reset they would make four, a lockout.
    later = password_only(superuser)
    later.post(VERIFY, {"token": wrong})
    still_open = later.post(VERIFY, {"token": wrong})

    assert counted_before == 2
    assert accepted.status_code == 302 and first.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert left_after == 0
    assert AccessAttempt.objects.get(username=superuser.username).failures_since_start == 2
    assert still_open.status_code == 200 and "not valid" in still_open.content.decode()
    assert len(failures) == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed", ["abcd\x002345", "²²²²²²", "１２３４５６", "x" * 5000, "ab'; --", "\U0001f600"]
)
def test_a_malformed_code_is_a_wrong_code_not_an_error(superuser, typed):
    totp_device(superuser)
    recovery = StaticDevice.objects.create(user=superuser, name="recovery codes", confirmed=True)
    recovery.token_set.create(token="abcd2345")
    client = password_only(superuser)

    response = client.post(VERIFY, {"token": typed})

    assert response.status_code == 200 and "not valid" in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert recovery.token_set.count() == 1


@pytest.mark.django_db
def test_a_recovery_code_works_once_only(superuser):
    client = password_only(superuser)
    device = totp_device(superuser)
    recovery = StaticDevice.objects.create(user=superuser, name="recovery codes", confirmed=True)
    recovery.token_set.create(token="abcd2345")
    recovery.token_set.create(token="efgh6723")

    used = client.post(VERIFY, {"token": "ABCD 2345", "next": "/admin/"})
    later = password_only(superuser)
    again = later.post(VERIFY, {"token": "abcd2345"})
    other = later.post(VERIFY, {"token": "efgh6723", "next": "/admin/"})

    assert used.status_code == 302 and client.get("/admin/").status_code == 200
    assert client.session[DEVICE_ID_SESSION_KEY] == recovery.persistent_id
    assert again.status_code == 200 and "not valid" in again.content.decode()
    assert other.status_code == 302
    assert list(recovery.token_set.all()) == []
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


# --- reset ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_operator_admin_resets_a_colleagues_second_factor_audited_and_they_enrol_again(
    make_staff, brand, operator
):
    admin_user = make_staff("Operator admin", operator=operator)
    colleague = make_staff("Support agent", brands=[brand])
    their_session = Client()
    staff_login(their_session, colleague)
    StaticDevice.objects.create(user=colleague, name="recovery codes", confirmed=True).token_set.create(
        token="abcd2345"
    )
    admin_client = Client()
    staff_login(admin_client, admin_user)

    response = admin_client.post(
        "/admin/tenants/staffuser/", {"action": "reset_second_factor", "_selected_action": [colleague.pk]}
    )

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=colleague).exists()
    assert not StaticDevice.objects.filter(user=colleague).exists()
    deleted = LogEntry.objects.filter(
        action=LogEntry.Action.DELETE,
        content_type__in=ContentType.objects.get_for_models(TOTPDevice, StaticDevice).values(),
    )
    assert deleted.count() == 2
    assert set(deleted.values_list("actor_id", flat=True)) == {admin_user.pk}
    # Their session lost its verification at once: the next admin page is the enrolment.
    following = their_session.get("/admin/")
    assert following.status_code == 302 and following["Location"].startswith(ENROL)


@pytest.mark.django_db
def test_the_staff_list_shows_who_has_a_second_factor(make_staff, brand, operator):
    admin_user = make_staff("Operator admin", operator=operator)
    enrolled = make_staff("Support agent", brands=[brand])
    totp_device(enrolled)
    pending = make_staff("Support agent", brands=[brand])
    TOTPDevice.objects.create(user=pending, name="scanned, never confirmed", confirmed=False)
    client = Client()
    staff_login(client, admin_user)

    response = client.get("/admin/tenants/staffuser/")

    assert response.status_code == 200
    shown = {row.username: row.has_second_factor for row in response.context["cl"].result_list}
    assert shown[enrolled.username] is True
    assert shown[pending.username] is False
    assert "Second factor" in response.content.decode()


@pytest.mark.django_db
def test_the_reset_needs_its_permission_and_the_staff_members_operator(
    make_staff, brand, other_brand, operator
):
    agent = make_staff("Support agent", brands=[brand])
    foreign_admin = make_staff("Operator admin", operator=other_brand.operator)
    colleague = make_staff("Payments reviewer", brands=[brand])
    totp_device(colleague)
    for actor in (agent, foreign_admin):
        client = Client()
        staff_login(client, actor)
        response = client.post(
            "/admin/tenants/staffuser/", {"action": "reset_second_factor", "_selected_action": [colleague.pk]}
        )
        assert response.status_code in (200, 302, 403), response.status_code

    assert TOTPDevice.objects.filter(user=colleague).count() == 1


@pytest.mark.django_db
def test_enrolment_and_device_audit_rows_never_hold_the_secret(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])
    client = password_only(officer)
    key = _secret(client.get(ENROL).content.decode())
    client.post(ENROL, {"token": _code(key)})
    device = TOTPDevice.objects.get(user=officer)
    codes = list(StaticToken.objects.values_list("token", flat=True))

    rows = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(TOTPDevice))

    assert rows.exists()
    text = " ".join(str(r.changes) + str(r.additional_data) for r in LogEntry.objects.all())
    assert device.key not in text
    assert not any(code in text for code in codes)
