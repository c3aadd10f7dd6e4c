"""IP lists (apps/security): refused before any view, IPv4 and IPv6, validation, expiry,
provider allowlists, X-Forwarded-For behind trusted proxies only, cache invalidation,
brand scoping of the admin, audit records."""

import json
import time
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.exceptions import PermissionDenied
from apps.payments.providers.paymentiq.services import paymentiq_integration_configure
from apps.players.models import PlayerToken
from apps.security import ipfilter, services
from apps.security.exceptions import InvalidIpRule
from apps.security.models import IpRule
from tests.factories import PLAYER_PASSWORD, PlayerFactory, StaffUserFactory
from tests.helpers.staff import staff_login

LOGIN_URL = "/api/v1/player/login"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ADD_URL = "/admin/security/iprule/add/"
# A route that needs nothing (no database, no session): 404 JSON when let through.
PROBE = "/api/v1/no-such-endpoint"
PASSED = 404


@pytest.fixture
def platform_admin(roles):
    """Platform staff: a superuser (holds every permission, global entries included)."""
    return StaffUserFactory(is_superuser=True, operator=None)


@pytest.fixture
def brand_admin(make_staff, brand):
    return make_staff("Brand admin", brands=[brand])


def admin_client(user) -> Client:
    client = Client()
    staff_login(client, user)
    return client


def block(actor, cidr, *, scope="global", brand=None, **kwargs) -> IpRule:
    return services.ip_rule_create(
        actor=actor, cidr=cidr, kind="block", scope=scope, brand=brand, reason="abuse", **kwargs
    )


def login(player, ip: str, **headers):
    return Client().post(
        LOGIN_URL,
        data=json.dumps({"brand": player.brand.code, "login": player.username, "password": PLAYER_PASSWORD}),
        content_type="application/json",
        REMOTE_ADDR=ip,
        **headers,
    )


# --- Refused before any view --------------------------------------------------------------


@pytest.mark.django_db
def test_a_globally_blocked_address_is_refused_before_the_view_and_changes_nothing(platform_admin, brand):
    player = PlayerFactory(brand=brand)
    block(platform_admin, "198.51.100.0/24")

    refused = login(player, "198.51.100.7")

    assert refused.status_code == 403
    assert refused.json() == {
        "error": {"code": "ip_blocked", "message": "Requests from this address are refused."}
    }
    assert PlayerToken.objects.count() == 0  # the login view never ran
    allowed = login(player, "198.51.101.200")
    assert allowed.status_code == 200
    assert PlayerToken.objects.count() == 1


@pytest.mark.django_db
def test_outside_the_api_a_blocked_address_gets_a_plain_403_page(platform_admin):
    block(platform_admin, "203.0.113.9")

    response = Client().get("/admin/login/", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert Client().get("/admin/login/", REMOTE_ADDR="203.0.113.10").status_code == 200


@pytest.mark.django_db
def test_ipv6_networks_and_ipv4_mapped_addresses(platform_admin):
    block(platform_admin, "2001:db8:abcd::/48")
    block(platform_admin, "192.0.2.0/24")

    def status(ip):
        return Client().get(PROBE, REMOTE_ADDR=ip).status_code

    assert status("2001:db8:abcd:1::5") == 403
    assert status("2001:db8:abce::5") == PASSED
    assert status("::ffff:192.0.2.44") == 403  # the IPv4 address behind a dual-stack socket
    assert status("192.0.2.44") == 403
    assert status("192.0.3.1") == PASSED


# --- Validation ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_bad_cidr_is_refused_by_the_service_with_a_clear_message(platform_admin):
    with pytest.raises(InvalidIpRule) as refused:
        block(platform_admin, "10.0.0.300/8")

    assert refused.value.code == "invalid_cidr"
    assert "'10.0.0.300/8' is not an IPv4 or IPv6 address or network" in refused.value.message
    assert IpRule.objects.count() == 0


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("10.1.2.3/8", "10.0.0.0/8"),
        (" 203.0.113.7 ", "203.0.113.7/32"),
        ("2001:DB8::1/32", "2001:db8::/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
    ],
)
@pytest.mark.django_db
def test_cidrs_are_stored_normalised(platform_admin, given, stored):
    assert block(platform_admin, given).cidr == stored


@pytest.mark.django_db
def test_entries_that_would_mean_nothing_or_everything_are_refused(platform_admin, brand):
    cases = [
        ({"cidr": "0.0.0.0/0", "kind": "block", "scope": "global"}, "would block every address"),
        ({"cidr": "10.0.0.0/8", "kind": "allow", "scope": "global"}, "allow entries are for provider"),
        ({"cidr": "10.0.0.0/8", "kind": "block", "scope": "brand"}, "names its brand"),
        ({"cidr": "10.0.0.0/8", "kind": "block", "scope": "hub88", "brand": brand}, "Only brand entries"),
        ({"cidr": "10.0.0.0/8", "kind": "block", "scope": "global", "reason": "  "}, "reason"),
    ]
    for kwargs, message in cases:
        kwargs.setdefault("reason", "why")
        with pytest.raises(InvalidIpRule, match=message):
            services.ip_rule_create(actor=platform_admin, **kwargs)
    block(platform_admin, "10.0.0.0/8")
    with pytest.raises(InvalidIpRule, match="already on this list"):
        block(platform_admin, "10.9.9.9/8")
    assert IpRule.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_form_shows_the_cidr_error_and_saves_nothing(platform_admin):
    response = admin_client(platform_admin).post(
        ADD_URL, {"cidr": "10.0.0.300/8", "kind": "block", "scope": "global", "reason": "abuse"}
    )

    assert response.status_code == 200
    assert "is not an IPv4 or IPv6 address or network" in response.content.decode().replace("&#x27;", "'")
    assert IpRule.objects.count() == 0


# --- Expiry ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_entry_stops_applying_when_it_expires(platform_admin):
    block(platform_admin, "198.51.100.7", expires_at=timezone.now() + timedelta(seconds=1.5))
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == 403

    time.sleep(1.6)

    # No reload needed: expiry is checked per request against the compiled entry.
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == PASSED
    with pytest.raises(InvalidIpRule, match="in the past"):
        block(platform_admin, "198.51.100.8", expires_at=timezone.now() - timedelta(seconds=1))


# --- Provider endpoints ------------------------------------------------------------------------


def test_the_provider_prefixes_match_the_url_routes():
    assert reverse("hub88:user-balance").startswith("/integrations/hub88/")
    assert reverse("paymentiq:verifyuser").startswith("/integrations/paymentiq/")
    assert ipfilter.integration_of_path(reverse("hub88:transaction-bet")) == "hub88"
    assert ipfilter.integration_of_path(reverse("paymentiq:authorize")) == "paymentiq"


def hub88_call(ip: str) -> dict:
    response = Client().post(
        "/integrations/hub88/user/balance",
        data=json.dumps({"request_uuid": "req-1", "token": "no-such-token", "game_code": "g"}),
        content_type="application/json",
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 200  # Hub88's errors are statuses (spec)
    return response.json()


@pytest.mark.django_db
def test_hub88_answers_only_its_allowlist(platform_admin, settings):
    settings.IP_PROVIDER_ALLOWLIST_REQUIRED = True
    # No allow entries, production default: nobody passes (fail closed).
    assert hub88_call("127.0.0.1")["status"] == "RS_ERROR_UNKNOWN"

    services.ip_rule_create(
        actor=platform_admin, cidr="185.0.0.0/29", kind="allow", scope="hub88", reason="Hub88"
    )

    refused = hub88_call("127.0.0.1")
    assert refused == {
        "user": "",
        "status": "RS_ERROR_UNKNOWN",
        "request_uuid": "req-1",
        "currency": "",
        "balance": 0,
    }
    # From the allowlist the view answers (an unknown token is its refusal, not ours).
    assert hub88_call("185.0.0.3")["status"] == "RS_ERROR_INVALID_TOKEN"


@pytest.mark.django_db
def test_hub88_without_allowlist_is_open_only_when_not_required(settings):
    settings.IP_PROVIDER_ALLOWLIST_REQUIRED = False
    assert hub88_call("127.0.0.1")["status"] == "RS_ERROR_INVALID_TOKEN"


@pytest.mark.django_db
def test_paymentiq_needs_the_platform_allowlist_and_then_the_brands(platform_admin, brand):
    integration, token = paymentiq_integration_configure(
        brand=brand,
        actor=system_actor("test"),
        auth_scheme="bearer",
        generate_token=True,
        ip_allowlist=["10.1.2.0/24"],
        active=True,
    )

    def call(ip):
        response = Client().post(
            "/integrations/paymentiq/verifyuser",
            data="{}",
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
            REMOTE_ADDR=ip,
        )
        return response.status_code, response.json()

    refused = (403, {"success": False, "errCode": "ip_not_allowed", "errMsg": "This address may not call."})
    # No platform entries: the brand's own allowlist decides (as before).
    assert call("10.1.2.3")[0] == 200
    assert call("10.9.0.1") == refused

    services.ip_rule_create(
        actor=platform_admin, cidr="10.1.2.128/25", kind="allow", scope="paymentiq", reason="PIQ egress"
    )

    assert call("10.1.2.3") == refused  # on the brand's list, not on the platform's
    status, body = call("10.1.2.200")
    assert status == 200 and body["errCode"] != "ip_not_allowed"  # the view answered


# --- X-Forwarded-For ------------------------------------------------------------------------


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_unless_remote_addr_is_a_trusted_proxy(platform_admin, settings):
    block(platform_admin, "198.51.100.7")

    def status(remote, xff):
        return Client().get(PROBE, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=xff).status_code

    settings.TRUSTED_PROXIES = []
    assert status("10.0.0.5", "198.51.100.7") == PASSED  # anyone can write the header
    assert status("198.51.100.7", "10.0.0.5") == 403

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert status("10.0.0.5", "198.51.100.7") == 403
    # A client's own X-Forwarded-For is to the left of what our proxy appended.
    assert status("10.0.0.5", "192.0.2.1, 198.51.100.7") == 403
    assert status("10.0.0.5", "198.51.100.7, 192.0.2.1") == PASSED
    # Through two trusted proxies: the right-most untrusted hop.
    assert status("10.0.0.5", "198.51.100.7, 10.2.3.4") == 403


def test_client_ip_resolution(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    resolve = ipfilter.client_ip_resolve
    assert str(resolve({"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"})) == "192.0.2.1"
    assert str(resolve({"REMOTE_ADDR": "fd00::1", "HTTP_X_FORWARDED_FOR": "2001:db8::9"})) == "2001:db8::9"
    assert str(resolve({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "junk, 10.0.0.2"})) == "10.0.0.2"
    assert str(resolve({"REMOTE_ADDR": "10.0.0.1"})) == "10.0.0.1"
    assert resolve({"REMOTE_ADDR": "not-an-ip"}) is None


# --- Cache ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_process_picks_up_a_change_within_the_check_interval(platform_admin, settings):
    settings.IP_RULES_VERSION_CHECK_SECONDS = 0.3
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == PASSED
    # What a process that has not heard of the change holds: its copy and that copy's version.
    state = ipfilter._state
    held = (state.rules, state.version, state.loaded_at)
    version_before = ipfilter.cache.get(ipfilter.VERSION_KEY)

    rule = block(platform_admin, "198.51.100.7")  # "another process" writes

    assert ipfilter.cache.get(ipfilter.VERSION_KEY) != version_before
    state.rules, state.version, state.loaded_at = held
    state.checked_at = time.monotonic()
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == PASSED  # still its copy
    time.sleep(0.35)
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == 403

    services.ip_rule_delete(actor=platform_admin, rule=rule)
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == PASSED


@pytest.mark.django_db
def test_no_database_query_per_request_in_the_steady_state(platform_admin, django_assert_num_queries):
    block(platform_admin, "198.51.100.7")
    Client().get(PROBE, REMOTE_ADDR="192.0.2.1")  # warm: the rules are read once

    with django_assert_num_queries(0):
        assert Client().get(PROBE, REMOTE_ADDR="192.0.2.1").status_code == PASSED
        assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == 403


# --- Brand blocklists -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_brand_block_refuses_that_brands_player_api_only(brand_admin, brand, other_brand):
    player = PlayerFactory(brand=brand)
    other = PlayerFactory(brand=other_brand)
    block(brand_admin, "192.0.2.0/24", scope="brand", brand=brand)

    refused = login(player, "192.0.2.5")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ip_blocked"
    assert PlayerToken.objects.count() == 0
    assert login(other, "192.0.2.5").status_code == 200

    key = login(player, "198.51.100.1").json()["token"]
    me = Client().get(
        "/api/v1/player/profile", headers={"Authorization": f"Bearer {key}"}, REMOTE_ADDR="192.0.2.5"
    )
    assert me.status_code == 403 and me.json()["error"]["code"] == "ip_blocked"
    ok = Client().get(
        "/api/v1/player/profile", headers={"Authorization": f"Bearer {key}"}, REMOTE_ADDR="198.51.100.1"
    )
    assert ok.status_code == 200


# --- Who may manage what, and the audit trail ------------------------------------------------------


@pytest.mark.django_db
def test_a_brand_admin_manages_only_their_brands_entries(brand_admin, platform_admin, brand, other_brand):
    own = block(brand_admin, "192.0.2.0/24", scope="brand", brand=brand)
    other = block(platform_admin, "192.0.2.0/24", scope="brand", brand=other_brand)
    glob = block(platform_admin, "198.51.100.0/24")
    client = admin_client(brand_admin)

    listed = client.get("/admin/security/iprule/")
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [own]
    for rule in (other, glob):
        page = client.get(f"/admin/security/iprule/{rule.pk}/change/")
        assert page.status_code == 302  # Django: "does not exist" -> back to the list
        client.post(f"/admin/security/iprule/{rule.pk}/delete/", {"post": "yes"})
    assert IpRule.objects.filter(pk__in=[other.pk, glob.pk]).count() == 2

    for data in (
        {"cidr": "203.0.113.0/24", "kind": "block", "scope": "brand", "brand": other_brand.pk, "reason": "x"},
        {"cidr": "203.0.113.0/24", "kind": "block", "scope": "global", "reason": "x"},
        {"cidr": "203.0.113.0/24", "kind": "allow", "scope": "hub88", "reason": "x"},
    ):
        assert client.post(ADD_URL, data).status_code == 200  # the form, with its error
    assert not IpRule.objects.filter(cidr="203.0.113.0/24").exists()

    with pytest.raises(PermissionDenied):
        services.ip_rule_delete(actor=brand_admin, rule=glob)
    with pytest.raises(PermissionDenied):
        services.ip_rule_update(actor=brand_admin, rule=other, reason="mine now", expires_at=None)
    with pytest.raises(PermissionDenied):
        block(brand_admin, "203.0.113.0/24", scope="brand", brand=other_brand)
    assert IpRule.objects.get(pk=other.pk).reason == "abuse"

    added = client.post(
        ADD_URL,
        {"cidr": "203.0.113.9", "kind": "block", "scope": "brand", "brand": brand.pk, "reason": "fraud"},
    )
    assert added.status_code == 302
    assert IpRule.objects.get(cidr="203.0.113.9/32").brand == brand


@pytest.mark.django_db
def test_create_and_delete_in_the_admin_are_audited(platform_admin):
    client = admin_client(platform_admin)
    client.post(ADD_URL, {"cidr": "203.0.113.0/24", "kind": "block", "scope": "global", "reason": "botnet"})
    rule = IpRule.objects.get()
    assert rule.created_by == platform_admin

    client.post(f"/admin/security/iprule/{rule.pk}/delete/", {"post": "yes"})

    assert not IpRule.objects.exists()
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(IpRule), object_pk=str(rule.pk)
    ).order_by("timestamp")
    assert [(e.action, e.actor_id) for e in entries] == [
        (LogEntry.Action.CREATE, platform_admin.pk),
        (LogEntry.Action.DELETE, platform_admin.pk),
    ]
    assert entries[0].changes_dict["cidr"] == ["None", "203.0.113.0/24"]


def test_the_network_index_matches_every_prefix_length_and_expiry():
    index = ipfilter.NetworkIndex()
    now = timezone.now()
    for cidr, ends in (
        ("10.0.0.0/8", None),
        ("192.0.2.128/25", None),
        ("203.0.113.7/32", now - timedelta(seconds=1)),
        ("2001:db8::/32", None),
        ("::/0", now + timedelta(hours=1)),
    ):
        index.add(ipfilter.network_parse(cidr), ends)

    def hit(ip):
        return index.contains(ipfilter.address_parse(ip), now)

    assert [hit(ip) for ip in ("10.255.0.1", "11.0.0.1", "192.0.2.200", "192.0.2.1", "203.0.113.7")] == [
        True,
        False,
        True,
        False,
        False,  # expired
    ]
    assert hit("2001:db8:1::1") and hit("2a00::1")  # ::/0 until its expiry
    assert not index.contains(ipfilter.address_parse("2a00::1"), now + timedelta(hours=2))


@pytest.mark.django_db
def test_liveness_and_readiness_are_never_filtered(platform_admin):
    block(platform_admin, "198.51.100.7")
    assert Client().get(PROBE, REMOTE_ADDR="198.51.100.7").status_code == 403
    assert Client().get("/healthz", REMOTE_ADDR="198.51.100.7").status_code == 200


# --- websockets ---------------------------------------------------------------------------


def _socket_from(ip: str | None, forwarded: str | None = None):
    from channels.testing import WebsocketCommunicator

    from pam.asgi import application

    headers = [(b"origin", b"http://127.0.0.1")]
    if forwarded is not None:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    communicator = WebsocketCommunicator(application, "/ws/dashboards/?streams=queue", headers=headers)
    if ip is not None:
        communicator.scope["client"] = (ip, 50000)  # read when the application starts
    return communicator


def _handshake(communicator) -> tuple[bool, int | None]:
    """(accepted, close code): refused handshakes are not accepted; let-through anonymous
    sockets are accepted and then closed 4401 by the consumer."""
    from asgiref.sync import async_to_sync

    async def run():
        accepted, code = await communicator.connect(timeout=3)
        if accepted:
            output = await communicator.receive_output(timeout=3)
            code = output.get("code")
        await communicator.wait(timeout=3)
        return accepted, code

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_a_globally_blocked_address_cannot_open_a_websocket(platform_admin):
    block(platform_admin, "203.0.113.0/24")
    ipfilter.local_cache_clear()

    assert _handshake(_socket_from("203.0.113.9")) == (False, 1008)
    # Another address reaches the consumer, which refuses the anonymous socket itself.
    assert _handshake(_socket_from("198.51.100.7")) == (True, 4401)
    # No peer address (a unix socket): nothing to match.
    assert _handshake(_socket_from(None)) == (True, 4401)


@pytest.mark.django_db(transaction=True)
def test_a_websocket_behind_a_trusted_proxy_is_judged_by_its_forwarded_address(platform_admin, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    block(platform_admin, "203.0.113.0/24")
    ipfilter.local_cache_clear()

    assert _handshake(_socket_from("10.1.2.3", forwarded="203.0.113.9")) == (False, 1008)
    # A client cannot clear itself by writing a header when it connects directly.
    assert _handshake(_socket_from("203.0.113.9", forwarded="198.51.100.7")) == (False, 1008)
    assert _handshake(_socket_from("10.1.2.3", forwarded="198.51.100.7")) == (True, 4401)
