"""The access audit (issue 9): logins (succeeded, failed, at the password or the second-factor
stage, logouts), reads of personal data, exports and permission changes are recorded with
the actor, the client address (behind a trusted proxy: its X-Forwarded-For) and the
request's correlation id; auditlog's model changes carry the same correlation id."""

import json

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_login_failed
from django.test import Client, RequestFactory
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework.test import APIClient

from apps.core.actors import audit_as
from apps.players.models import PERSONAL_DATA_FIELDS, Player
from apps.security.models import AuditRecord
from apps.tenants.services import staff_brands_set
from tests.factories import PLAYER_PASSWORD, STAFF_PASSWORD, PlayerFactory, StaffUserFactory
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db

LOGIN_URL = "/admin/login/?next=/admin/"
PROXY = "10.0.0.5"
CLIENT_IP = "203.0.113.9"

Kind = AuditRecord.Kind


def signed_in(user, client=None, *, reauthenticated=False):
    """A client with a staff session whose second factor is verified (and, for a sensitive
    action such as an export, a fresh re-authentication)."""
    client = client or Client()
    staff_login(client, user, reauthenticated=reauthenticated)
    return client


def records(kind, **filters) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(kind=kind, **filters).order_by("id"))


def behind_proxy(cid: str) -> dict:
    """Request headers of a call through our reverse proxy, with a correlation id."""
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": CLIENT_IP, "HTTP_X_CORRELATION_ID": cid}


@pytest.fixture(autouse=True)
def _trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


@pytest.fixture
def officer(make_staff, brand):
    """Compliance officer of brand A: sees personal data, exports players."""
    return make_staff("Compliance officer", brands=[brand], username="officer")


@pytest.fixture
def reviewer(make_staff, brand):
    """Payments reviewer of brand A: sees players, never their personal data."""
    return make_staff("Payments reviewer", brands=[brand], username="reviewer")


@pytest.fixture
def staff_of(roles):
    """staff_of(operator, role, brands=[...]): employed by `operator`, with only these grants."""

    def make(operator, role=None, *, brands=(), **kwargs):
        return StaffUserFactory(operator=operator, role=role, brands=list(brands), **kwargs)

    return make


@pytest.fixture
def alice(brand):
    return PlayerFactory(brand=brand, username="alice", email="alice@example.com")


@pytest.fixture
def bob(brand):
    return PlayerFactory(brand=brand, username="bob", email="bob@example.com")


# --- staff logins ---------------------------------------------------------------------------


def test_a_staff_login_is_recorded_with_the_proxied_address_and_the_correlation_id(officer):
    response = Client().post(
        LOGIN_URL, {"username": "officer", "password": STAFF_PASSWORD}, **behind_proxy("login-ok-1")
    )

    assert response.status_code == 302
    [record] = records(Kind.LOGIN_SUCCEEDED, actor=officer)
    assert (record.actor_type, record.actor_label, record.ip, record.correlation_id) == (
        "staff",
        "officer",
        CLIENT_IP,
        "login-ok-1",
    )
    assert record.operator_id == officer.operator_id
    assert record.detail == {"stage": "password", "door": "admin"}


def test_x_forwarded_for_is_not_believed_from_an_untrusted_peer(officer, settings):
    settings.TRUSTED_PROXIES = []

    Client().post(LOGIN_URL, {"username": "officer", "password": STAFF_PASSWORD}, **behind_proxy("cid-2"))

    [record] = records(Kind.LOGIN_SUCCEEDED, actor=officer)
    assert record.ip == PROXY


def test_a_failed_staff_login_is_recorded_although_the_login_is_refused(officer):
    response = Client().post(
        LOGIN_URL, {"username": "officer", "password": "wrong-password"}, **behind_proxy("login-bad-1")
    )

    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in response.wsgi_request.session
    [record] = records(Kind.LOGIN_FAILED)
    assert (record.actor_id, record.actor_type, record.actor_label) == (officer.pk, "staff", "officer")
    assert (record.ip, record.correlation_id) == (CLIENT_IP, "login-bad-1")
    assert record.detail == {"stage": "password", "door": "admin"}
    assert "wrong-password" not in json.dumps(record.detail)


def test_a_failed_login_with_an_unknown_username_keeps_nothing_that_was_typed(db):
    Client().post(LOGIN_URL, {"username": "S3cret-Passw0rd", "password": "x"}, **behind_proxy("cid-3"))

    [record] = records(Kind.LOGIN_FAILED)
    assert (record.actor_id, record.actor_type, record.actor_label) == (None, "anonymous", "")
    assert record.detail == {"stage": "password", "door": "admin", "reason": "unknown_username"}
    assert record.ip == CLIENT_IP


def test_a_wrong_second_factor_is_a_failed_login_at_the_otp_stage(officer):
    # The second-factor view reports a wrong token the way Django reports a wrong password.
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT_IP)

    user_login_failed.send(
        sender=__name__, credentials={"username": "officer", "stage": "otp"}, request=request
    )

    [record] = records(Kind.LOGIN_FAILED)
    assert (record.actor_id, record.ip, record.detail["stage"]) == (officer.pk, CLIENT_IP, "otp")


def test_a_staff_logout_is_recorded(officer):
    client = signed_in(officer)

    response = client.post("/admin/logout/", **behind_proxy("logout-1"))

    assert response.status_code == 200
    [record] = records(Kind.LOGOUT)
    assert (record.actor_id, record.ip, record.correlation_id) == (officer.pk, CLIENT_IP, "logout-1")


# --- player logins --------------------------------------------------------------------------


def _player_login(login, password=PLAYER_PASSWORD, brand="brand-a", cid="p-cid"):
    return APIClient().post(
        "/api/v1/player/login",
        {"brand": brand, "login": login, "password": password},
        format="json",
        **behind_proxy(cid),
    )


def test_player_login_logout_and_refusals_are_recorded_as_the_player(alice, brand):
    ok = _player_login("alice", cid="p-ok")
    wrong = _player_login("alice", password="wrong-password", cid="p-wrong")
    unknown = _player_login("nobody@example.com", cid="p-unknown")
    token = ok.json()["token"]
    logout = APIClient().post(
        "/api/v1/player/logout", HTTP_AUTHORIZATION=f"Bearer {token}", **behind_proxy("p-out")
    )

    assert (ok.status_code, wrong.status_code, unknown.status_code, logout.status_code) == (
        200,
        401,
        401,
        204,
    )
    [succeeded] = records(Kind.LOGIN_SUCCEEDED)
    assert (succeeded.actor_type, succeeded.actor_label, succeeded.actor_id) == (
        "player",
        f"player:{alice.pk}",
        None,
    )
    assert (succeeded.player_id, succeeded.brand_id, succeeded.operator_id) == (
        alice.pk,
        brand.pk,
        brand.operator_id,
    )
    assert (succeeded.ip, succeeded.correlation_id) == (CLIENT_IP, "p-ok")
    failed, anonymous = records(Kind.LOGIN_FAILED)
    assert (failed.actor_label, failed.player_id, failed.correlation_id) == (
        f"player:{alice.pk}",
        alice.pk,
        "p-wrong",
    )
    assert failed.detail == {"stage": "password", "door": "player_api", "reason": "bad_password"}
    assert (anonymous.actor_type, anonymous.actor_label, anonymous.player_id) == ("anonymous", "", None)
    assert anonymous.detail["reason"] == "unknown_login"
    assert "nobody" not in json.dumps(anonymous.detail)
    assert (anonymous.ip, anonymous.brand_id, anonymous.correlation_id) == (CLIENT_IP, brand.pk, "p-unknown")
    [out] = records(Kind.LOGOUT)
    assert (out.actor_label, out.ip, out.correlation_id) == (f"player:{alice.pk}", CLIENT_IP, "p-out")


# --- reads of personal data -----------------------------------------------------------------


def test_the_player_admin_page_records_a_read_of_personal_data(officer, alice, brand):
    response = signed_in(officer).get(f"/admin/players/player/{alice.pk}/change/", **behind_proxy("read-1"))

    assert response.status_code == 200
    assert alice.email in response.content.decode()
    [record] = records(Kind.PERSONAL_DATA_READ)
    assert (record.actor_id, record.player_id, record.brand_id) == (officer.pk, alice.pk, brand.pk)
    assert (record.ip, record.correlation_id) == (CLIENT_IP, "read-1")
    assert (record.object_type, record.object_id) == ("players.player", str(alice.pk))
    assert record.detail == {
        "source": "players.admin.change",
        "fields": sorted(PERSONAL_DATA_FIELDS),
        "players": 1,
    }
    assert alice.email not in json.dumps(record.detail)  # which fields, never their values


def test_the_player_list_records_the_players_whose_email_it_showed(officer, alice, bob, brand):
    response = signed_in(officer).get("/admin/players/player/", **behind_proxy("list-1"))

    assert response.status_code == 200
    [record] = records(Kind.PERSONAL_DATA_READ)
    assert (record.player_id, record.brand_id, record.correlation_id) == (None, brand.pk, "list-1")
    assert record.detail == {
        "source": "players.admin.changelist",
        "fields": ["email"],
        "players": 2,
        "player_ids": [bob.pk, alice.pk],
    }


def test_masked_pages_are_not_recorded_as_reads_of_personal_data(reviewer, alice):
    # A payments reviewer sees players with their personal data masked: nothing was read.
    client = signed_in(reviewer)

    page = client.get(f"/admin/players/player/{alice.pk}/change/")
    listing = client.get("/admin/players/player/")
    api = client.get(f"/api/v1/staff/players/{alice.pk}/")

    assert (page.status_code, listing.status_code, api.status_code) == (200, 200, 200)
    assert alice.email not in page.content.decode()
    assert api.json()["personal_data_masked"] is True
    assert records(Kind.PERSONAL_DATA_READ) == []


def test_the_staff_api_records_reads_of_personal_data(officer, alice, bob, brand):
    client = signed_in(officer, APIClient())

    detail = client.get(f"/api/v1/staff/players/{alice.pk}/", **behind_proxy("api-1"))
    listing = client.get("/api/v1/staff/players/", **behind_proxy("api-2"))

    assert (detail.status_code, listing.status_code) == (200, 200)
    one, many = records(Kind.PERSONAL_DATA_READ)
    assert (one.player_id, one.brand_id, one.ip, one.correlation_id) == (
        alice.pk,
        brand.pk,
        CLIENT_IP,
        "api-1",
    )
    assert one.detail["source"] == "players.staff_api.retrieve"
    assert one.detail["fields"] == sorted(PERSONAL_DATA_FIELDS)
    assert (many.player_id, many.correlation_id) == (None, "api-2")
    assert many.detail["source"] == "players.staff_api.list"
    assert sorted(many.detail["player_ids"]) == sorted([alice.pk, bob.pk])


def test_a_refused_api_read_is_not_recorded(make_staff, other_brand, alice):
    # Staff of another brand: the player does not exist for them (404), nothing was read.
    stranger = make_staff("Compliance officer", brands=[other_brand])

    response = signed_in(stranger, APIClient()).get(f"/api/v1/staff/players/{alice.pk}/")

    assert response.status_code == 404
    assert records(Kind.PERSONAL_DATA_READ) == []


# --- exports --------------------------------------------------------------------------------


def test_a_player_export_is_recorded_with_its_rows_and_columns(officer, alice, bob, brand):
    client = signed_in(officer, reauthenticated=True)

    response = client.post(
        "/admin/players/player/",
        {"action": "export_csv", "_selected_action": [alice.pk, bob.pk], "reason": ""},
        **behind_proxy("export-1"),
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    [record] = records(Kind.EXPORT)
    assert (record.actor_id, record.brand_id, record.ip, record.correlation_id) == (
        officer.pk,
        brand.pk,
        CLIENT_IP,
        "export-1",
    )
    assert record.detail["source"] == "players.players_export_csv"
    assert (record.detail["rows"], record.detail["personal_data"]) == (2, True)
    assert sorted(record.detail["player_ids"]) == sorted([alice.pk, bob.pk])
    assert "email" in record.detail["fields"]


# --- permission changes ---------------------------------------------------------------------


def test_a_brand_grant_and_revocation_through_guardian_are_recorded(make_staff, operator, brand, staff_of):
    admin_user = make_staff("Operator admin", operator=operator, username="opadmin")
    colleague = staff_of(operator, "Support agent", username="colleague")
    before = AuditRecord.objects.order_by("-id").values_list("id", flat=True).first()

    staff_brands_set(actor=admin_user, staff=colleague, brands=[brand])
    staff_brands_set(actor=admin_user, staff=colleague, brands=[])

    granted, revoked = records(Kind.PERMISSION_CHANGED, id__gt=before)
    for record, change in ((granted, "object_permission_granted"), (revoked, "object_permission_revoked")):
        assert (record.actor_id, record.actor_label) == (admin_user.pk, "opadmin")
        assert (record.object_type, record.object_id, record.brand_id) == (
            "tenants.brand",
            str(brand.pk),
            brand.pk,
        )
        assert record.detail == {"change": change, "permission": "tenants.access_brand", "user": "colleague"}


def test_group_membership_permissions_and_flags_are_recorded(make_staff, operator, superuser):
    colleague = make_staff(None, operator=operator, username="colleague")
    role = Group.objects.get(name="Auditor")
    permission = Permission.objects.get(codename="view_personal_data")
    before = AuditRecord.objects.order_by("-id").values_list("id", flat=True).first()

    with audit_as(superuser):
        colleague.groups.add(role)
        colleague.user_permissions.add(permission)
        colleague.groups.clear()
        role.permissions.remove(permission)
        colleague.is_superuser = True
        colleague.save()
        assign_perm("tenants.access_operator", role, operator)
        remove_perm("tenants.access_operator", role, operator)

    changes = records(Kind.PERMISSION_CHANGED, id__gt=before)
    assert [(r.actor_id, r.object_type, r.detail) for r in changes] == [
        (
            superuser.pk,
            "tenants.staffuser",
            {"change": "groups_added", "user": "colleague", "groups": ["Auditor"]},
        ),
        (
            superuser.pk,
            "tenants.staffuser",
            {
                "change": "user_permissions_added",
                "user": "colleague",
                "user_permissions": ["players.view_personal_data"],
            },
        ),
        (
            superuser.pk,
            "tenants.staffuser",
            {"change": "groups_removed", "user": "colleague", "groups": ["Auditor"]},
        ),
        (
            superuser.pk,
            "auth.group",
            {
                "change": "permissions_removed",
                "group": "Auditor",
                "permissions": ["players.view_personal_data"],
            },
        ),
        (
            superuser.pk,
            "tenants.staffuser",
            {"change": "flags_changed", "user": "colleague", "flags": {"is_superuser": [False, True]}},
        ),
        (
            superuser.pk,
            "tenants.operator",
            {
                "change": "object_permission_granted",
                "permission": "tenants.access_operator",
                "group": "Auditor",
            },
        ),
        (
            superuser.pk,
            "tenants.operator",
            {
                "change": "object_permission_revoked",
                "permission": "tenants.access_operator",
                "group": "Auditor",
            },
        ),
    ]
    assert all(r.operator_id == operator.pk for r in changes if r.object_type != "auth.group")


def test_a_role_given_in_the_admin_is_recorded_with_address_and_correlation_id(
    make_staff, operator, staff_of
):
    admin_user = make_staff("Operator admin", operator=operator, username="opadmin")
    colleague = staff_of(operator, None, username="colleague", email="c@example.com")
    client = signed_in(admin_user)
    page = client.get(f"/admin/tenants/staffuser/{colleague.pk}/change/")
    form = page.context["adminform"].form
    data = {
        "username": "colleague",
        "first_name": "",
        "last_name": "",
        "email": "c@example.com",
        "is_active": "on",
        "is_staff": "on",
        "operator": operator.pk,
        "groups": [Group.objects.get(name="Support agent").pk],
        "brands": [],
    }
    assert set(data) == set(form.fields) - {"password"}
    before = AuditRecord.objects.order_by("-id").values_list("id", flat=True).first()

    response = client.post(f"/admin/tenants/staffuser/{colleague.pk}/change/", data, **behind_proxy("role-1"))

    assert response.status_code == 302
    [record] = records(Kind.PERMISSION_CHANGED, id__gt=before)
    assert (record.actor_id, record.ip, record.correlation_id) == (admin_user.pk, CLIENT_IP, "role-1")
    assert record.detail == {"change": "groups_added", "user": "colleague", "groups": ["Support agent"]}


# --- auditlog's model changes carry the correlation id ---------------------------------------


def test_auditlog_entries_carry_the_request_correlation_id_and_client_address(officer, alice):
    client = signed_in(officer, APIClient())

    response = client.post(
        f"/api/v1/staff/players/{alice.pk}/status/",
        {"transition": "suspend", "reason": "Investigation"},
        format="json",
        **behind_proxy("change-1"),
    )

    assert response.status_code == 200
    entry = LogEntry.objects.get_for_object(Player.objects.get(pk=alice.pk)).filter(actor=officer).get()
    assert (entry.cid, entry.remote_addr) == ("change-1", CLIENT_IP)
