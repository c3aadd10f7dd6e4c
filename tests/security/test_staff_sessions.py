"""Staff session timeouts and re-authentication for sensitive actions (issue 9)."""

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.actors import system_actor
from apps.exclusions.models import MarketingExport
from apps.payments import services as payments
from apps.payments.models import Payment, ReviewPolicy
from apps.players.models import Player
from apps.responsible_gaming import services as rg
from apps.responsible_gaming.models import LimitChange
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import STAFF_PASSWORD, PlayerFactory
from tests.helpers.staff import staff_login, totp_device, totp_now, totp_wrong

pytestmark = pytest.mark.django_db
PROVIDER = system_actor("test-provider")
REAUTH_API = "/api/v1/staff/reauth"
REAUTH_PAGE = "/admin/second-factor/reauth/"


@pytest.fixture(autouse=True)
def _no_otp_throttling(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def traveller():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


# --- timeouts -------------------------------------------------------------------------------


def test_an_idle_admin_session_is_signed_out_and_sent_to_the_login(superuser, traveller, settings):
    settings.STAFF_SESSION_IDLE_SECONDS = 900
    client = Client()
    staff_login(client, superuser)
    assert client.get("/admin/").status_code == 200

    traveller.shift(899)
    still = client.get("/admin/tenants/staffuser/")
    traveller.shift(901)
    expired = client.get("/admin/tenants/staffuser/")
    after = client.get("/admin/")

    assert still.status_code == 200
    assert expired.status_code == 302
    assert expired["Location"] == "/admin/login/?next=%2Fadmin%2Ftenants%2Fstaffuser%2F"
    assert "_auth_user_id" not in client.session
    assert after.status_code == 302 and after["Location"].startswith("/admin/login/")


def test_an_active_session_ends_at_its_absolute_lifetime(superuser, traveller, settings):
    settings.STAFF_SESSION_IDLE_SECONDS = 900
    settings.STAFF_SESSION_MAX_SECONDS = 3600
    client = Client()
    staff_login(client, superuser)
    answers = []
    for _ in range(6):  # a request every 10 minutes: never idle
        traveller.shift(600)
        answers.append(client.get("/admin/").status_code)
    traveller.shift(1)
    answers.append(client.get("/admin/").status_code)

    assert answers == [200] * 6 + [302]
    assert "_auth_user_id" not in client.session


def test_an_expired_session_on_the_staff_api_is_a_json_refusal(superuser, traveller, settings):
    settings.STAFF_SESSION_IDLE_SECONDS = 900
    client = APIClient()
    staff_login(client, superuser)
    assert client.get("/api/v1/staff/brands/").status_code == 200

    traveller.shift(901)
    response = client.get("/api/v1/staff/brands/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_expired"
    assert client.get("/api/v1/staff/brands/").json()["error"]["code"] == "not_authenticated"


# --- re-authentication: fixtures --------------------------------------------------------------


@pytest.fixture
def large_withdrawal(brand):
    """A withdrawal of 1,500.00 GBP, above the brand's four-eyes threshold (1,000.00)."""
    ReviewPolicy.objects.create(brand=brand, four_eyes_above={"GBP": "1000.00"})
    player = PlayerFactory(brand=brand, kyc_status="verified")
    wallet = wallet_get_or_create(player=player, currency_code="GBP")
    deposit_credit(wallet=wallet, amount=500_000, source="test", external_id=f"f-{player.pk}", actor=PROVIDER)

    def make(amount=150_000):
        return payments.withdrawal_request(
            player=player, amount=amount, currency="GBP", method="card", provider="paymentiq", actor=PROVIDER
        )

    return make


@pytest.fixture
def officer(make_staff, brand):
    return make_staff("Compliance officer", brands=[brand])


def _reauth_api(client, user, *, password=STAFF_PASSWORD, token=None):
    token = token if token is not None else totp_now(totp_device(user))
    return client.post(REAUTH_API, {"password": password, "token": token}, format="json")


# --- re-authentication: the API ------------------------------------------------------------


def test_approving_a_large_withdrawal_by_api_needs_a_recent_reauth(officer, large_withdrawal, traveller):
    big, small = large_withdrawal(), large_withdrawal(amount=50_000)
    client = APIClient()
    staff_login(client, officer)
    base = "/api/v1/staff/payments"
    for payment in (big, small):
        assert client.post(f"{base}/{payment.pk}/claim/").status_code == 200

    refused = client.post(f"{base}/{big.pk}/approve/", {"reason": "ok"}, format="json")
    approvals_after_refusal = Payment.objects.get(pk=big.pk).approvals.count()
    small_ok = client.post(f"{base}/{small.pk}/approve/", {"reason": "ok"}, format="json")
    confirmed = _reauth_api(client, officer)
    approved = client.post(f"{base}/{big.pk}/approve/", {"reason": "ok"}, format="json")

    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "reauth_required")
    assert approvals_after_refusal == 0
    assert small_ok.status_code == 200
    assert confirmed.status_code == 200 and "reauthenticated_until" in confirmed.json()
    assert approved.status_code == 200, approved.content
    assert Payment.objects.get(pk=big.pk).approvals.count() == 1


def test_the_reauth_expires(officer, large_withdrawal, traveller, settings):
    settings.STAFF_REAUTH_SECONDS = 300
    big = large_withdrawal()
    client = APIClient()
    staff_login(client, officer)
    client.post(f"/api/v1/staff/payments/{big.pk}/claim/")
    assert _reauth_api(client, officer).status_code == 200

    traveller.shift(301)
    refused = client.post(f"/api/v1/staff/payments/{big.pk}/approve/", {"reason": "ok"}, format="json")

    assert refused.json()["error"]["code"] == "reauth_required"
    assert Payment.objects.get(pk=big.pk).approvals.count() == 0


def test_a_wrong_password_or_code_is_refused_and_counted(officer, failures):
    client = APIClient()
    staff_login(client, officer)
    device = totp_device(officer)
    wrong_code = totp_wrong(device)

    bad_password = _reauth_api(client, officer, password="not-the-password")
    bad_code = _reauth_api(client, officer, token=wrong_code)

    assert (bad_password.status_code, bad_password.json()["error"]["code"]) == (400, "reauth_failed")
    assert (bad_code.status_code, bad_code.json()["error"]["code"]) == (400, "reauth_failed")
    assert [c.get("stage") for c in failures] == [None, "reauth"]
    assert "staff_reauth_at" not in client.session


def test_a_right_reauth_clears_the_wrong_codes_before_it(officer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own delay after a wrong code
    client = APIClient()
    staff_login(client, officer)
    device = totp_device(officer)
    wrong_code = totp_wrong(device)

    wrong = [_reauth_api(client, officer, token=wrong_code) for _ in range(2)]
    right = _reauth_api(client, officer)
    wrong_again = [_reauth_api(client, officer, token=wrong_code) for _ in range(2)]

    # Four wrong codes, but never three without a right one between: not locked out.
    assert [r.json()["error"]["code"] for r in wrong + wrong_again] == ["reauth_failed"] * 4
    assert right.status_code == 200
    assert AccessAttempt.objects.get(username=officer.username).failures_since_start == 2
    assert client.get("/api/v1/staff/brands/").status_code == 200


def test_staff_limit_changes_by_api_need_a_recent_reauth(officer, brand):
    player = PlayerFactory(brand=brand)
    client = APIClient()
    staff_login(client, officer)
    url = f"/api/v1/staff/responsible-gaming/players/{player.pk}/limits/"
    body = {"kind": "loss", "period": "week", "amount": 100, "reason": "affordability"}

    refused = client.post(url, body, format="json")
    nothing = LimitChange.objects.filter(player=player).count()
    _reauth_api(client, officer)
    done = client.post(url, body, format="json")

    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "reauth_required")
    assert nothing == 0
    assert done.status_code == 200, done.content


def test_a_marketing_export_by_api_needs_a_recent_reauth(officer, brand):
    client = APIClient()
    staff_login(client, officer)
    body = {"brand": brand.pk, "purpose": "newsletter", "format": "csv"}

    refused = client.post("/api/v1/staff/exclusions/marketing-exports/", body, format="json")
    exports_after_refusal = MarketingExport.objects.count()
    _reauth_api(client, officer)
    done = client.post("/api/v1/staff/exclusions/marketing-exports/", body, format="json")

    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "reauth_required")
    assert exports_after_refusal == 0
    assert done.status_code == 200, getattr(done, "content", b"")
    assert MarketingExport.objects.count() == 1


# --- re-authentication: the admin ----------------------------------------------------------


def _reauth_page(client, user, next_url):
    return client.post(
        REAUTH_PAGE, {"password": STAFF_PASSWORD, "token": totp_now(totp_device(user)), "next": next_url}
    )


def test_the_admin_approve_action_on_a_large_withdrawal_goes_through_the_reauth_page(
    officer, large_withdrawal
):
    big = large_withdrawal()
    client = Client()
    staff_login(client, officer)
    changelist = "/admin/payments/payment/"
    client.post(changelist, {"action": "claim", "_selected_action": [big.pk]})

    detour = client.post(changelist, {"action": "approve", "_selected_action": [big.pk]})
    untouched = Payment.objects.get(pk=big.pk).approvals.count()
    back = _reauth_page(client, officer, changelist)
    client.post(changelist, {"action": "approve", "_selected_action": [big.pk]})

    assert detour.status_code == 302 and detour["Location"].startswith(f"{REAUTH_PAGE}?next=")
    assert untouched == 0
    assert back.status_code == 302 and back["Location"] == changelist
    assert Payment.objects.get(pk=big.pk).approvals.count() == 1


def test_the_payment_pages_approve_button_goes_through_the_reauth_page(officer, large_withdrawal):
    big = large_withdrawal()
    client = Client()
    staff_login(client, officer)
    page = f"/admin/payments/payment/{big.pk}/change/"
    client.post(f"/admin/payments/payment/{big.pk}/step/claim/", HTTP_REFERER=f"http://testserver{page}")

    detour = client.post(
        f"/admin/payments/payment/{big.pk}/step/approve/", HTTP_REFERER=f"http://testserver{page}"
    )
    reauth_form = client.get(detour["Location"])
    _reauth_page(client, officer, page)
    client.post(f"/admin/payments/payment/{big.pk}/step/approve/")

    assert detour.status_code == 302 and detour["Location"].startswith(REAUTH_PAGE)
    assert reauth_form.status_code == 200 and "approve a large withdrawal" in reauth_form.content.decode()
    assert Payment.objects.get(pk=big.pk).approvals.count() == 1


def test_the_admin_reauth_page_refuses_a_wrong_code(officer):
    client = Client()
    staff_login(client, officer)
    device = totp_device(officer)
    wrong = totp_wrong(device)

    response = client.post(REAUTH_PAGE, {"password": STAFF_PASSWORD, "token": wrong, "next": "/admin/"})

    assert response.status_code == 200 and "not valid" in response.content.decode()
    assert "staff_reauth_at" not in client.session


def test_cancelling_a_pending_limit_increase_in_the_admin_needs_a_recent_reauth(officer, brand):
    player = PlayerFactory(brand=brand)
    rg.limit_set(actor=officer, player=player, kind="loss", period="week", amount=100, reason="x")
    change = rg.limit_set(actor=officer, player=player, kind="loss", period="week", amount=500, reason="x")
    assert change.status == LimitChange.Status.PENDING
    client = Client()
    staff_login(client, officer)
    url = "/admin/responsible_gaming/limitchange/"

    detour = client.post(url, {"action": "cancel_changes", "_selected_action": [change.pk]})
    pending = LimitChange.objects.get(pk=change.pk).status
    _reauth_page(client, officer, url)
    client.post(url, {"action": "cancel_changes", "_selected_action": [change.pk]})

    assert detour.status_code == 302 and detour["Location"].startswith(REAUTH_PAGE)
    assert pending == LimitChange.Status.PENDING
    assert LimitChange.objects.get(pk=change.pk).status == LimitChange.Status.CANCELLED


def test_exports_of_personal_data_in_the_admin_need_a_recent_reauth(officer, brand):
    PlayerFactory(brand=brand)
    client = Client()
    staff_login(client, officer)
    add_page = "/admin/exclusions/marketingexport/add/"
    players = "/admin/players/player/"
    selected = list(Player.objects.values_list("pk", flat=True))

    form_detour = client.get(add_page)
    export_detour = client.post(
        players,
        {"action": "export_csv", "_selected_action": selected},
    )
    _reauth_page(client, officer, add_page)
    form = client.get(add_page)
    exported = client.post(
        players,
        {"action": "export_csv", "_selected_action": selected},
    )

    assert form_detour.status_code == 302 and form_detour["Location"].startswith(f"{REAUTH_PAGE}?next=")
    assert export_detour.status_code == 302 and export_detour["Location"].startswith(REAUTH_PAGE)
    assert form.status_code == 200
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")


def test_a_reauth_does_not_outlive_its_session(officer, large_withdrawal, traveller):
    """Signing in again (a new session) needs a new re-auth."""
    big = large_withdrawal()
    client = APIClient()
    staff_login(client, officer, reauthenticated=True)
    staff_login(client, officer)
    client.post(f"/api/v1/staff/payments/{big.pk}/claim/")

    refused = client.post(f"/api/v1/staff/payments/{big.pk}/approve/", {"reason": "ok"}, format="json")

    assert refused.json()["error"]["code"] == "reauth_required"
