"""Configuring an integration: the paymentiq_credentials command and the admin. Credentials
are write-only (a page shows "set" or a fingerprint, never a secret or its hash), stored
only hashed, audited without their values, and every page is scoped to the user's brands."""

import hashlib
import io
import sys

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.test import Client

from apps.payments.providers.paymentiq.models import PaymentIQIntegration
from tests.helpers.staff import staff_login
from tests.payments.paymentiq.conftest import PASSWORD, USERNAME, basic, deposit_body

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _signed_in(user) -> Client:
    client = Client()
    staff_login(client, user)
    return client


def _command(*args, stdin: str = "") -> str:
    out = io.StringIO()
    original = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("paymentiq_credentials", *args, stdout=out)
    finally:
        sys.stdin = original
    return out.getvalue()


# --- the command ------------------------------------------------------------------------


def test_the_command_sets_basic_credentials_and_the_allowlist(brand, piq, player, funded_wallet, open_policy):
    output = _command(
        "--brand",
        brand.code,
        "--basic",
        "piq-brand-a-2",
        "--password-stdin",
        "--allow",
        "10.1.2.0/24",
        "--allow",
        "198.51.100.7/32",
        "--activate",
        stdin="another-long-password\n",
    )

    integration = PaymentIQIntegration.objects.get(brand=brand)
    assert output.splitlines() == [
        f"PaymentIQ integration of {brand.code}: active, basic",
        "Basic username: piq-brand-a-2; password set",
        "IP allowlist: 10.1.2.0/24, 198.51.100.7",
    ]
    assert "another-long-password" not in output
    assert check_password("another-long-password", integration.basic_password_hash)
    assert "another-long-password" not in integration.basic_password_hash
    assert (
        piq("authorize", deposit_body(player), auth=basic("piq-brand-a-2", "another-long-password")).status
        == 200
    )


def test_the_command_generates_a_bearer_token_shown_once_and_stored_as_its_hash(
    brand, piq, player, funded_wallet
):
    output = _command("--brand", brand.code, "--bearer", "--allow", "10.1.2.3", "--activate")

    lines = output.splitlines()
    token = lines[-1]
    integration = PaymentIQIntegration.objects.get(brand=brand)
    assert lines[0] == f"PaymentIQ integration of {brand.code}: active, bearer"
    assert lines[-2] == "New bearer token (give it to PaymentIQ now; it cannot be shown again):"
    assert len(token) >= 40
    assert integration.bearer_token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(PaymentIQIntegration.objects.filter(brand=brand).values().get())
    reply = piq("verifyuser", {"sessionId": "x", "userId": str(player.pk)}, auth=f"Bearer {token}")
    assert (reply.status, reply.body["errCode"]) == (200, "session_invalid")
    # running it again replaces the token: the old one stops working
    new_token = _command("--brand", brand.code, "--bearer").splitlines()[-1]
    assert new_token != token
    assert piq("verifyuser", {"sessionId": "x", "userId": "1"}, auth=f"Bearer {token}").status == 401


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--brand", "no-such-brand", "--bearer"], "", "No brand with code 'no-such-brand'."),
        (["--basic", "u", "--password-stdin"], "short\n", "The password must have at least 16 characters."),
        (["--basic", "u:x", "--password-stdin"], "a-long-enough-password\n", "without a colon"),
        (["--bearer", "--allow", "10.1.2.300"], "", "'10.1.2.300' is not an IP address or network."),
        (["--activate"], "", "An active integration needs its basic credentials."),
        (["--basic", "u"], "", "Give the password with --password-stdin."),
    ],
)
def test_the_command_refuses_bad_settings_and_saves_nothing(brand, args, stdin, message):
    args = args if args[0] == "--brand" else ["--brand", brand.code, *args]

    with pytest.raises(CommandError) as refused:
        _command(*args, stdin=stdin)

    assert message in str(refused.value)
    assert not PaymentIQIntegration.objects.exists()


def test_a_username_is_unique_among_integrations(integration, other_brand):
    with pytest.raises(CommandError, match="Another PaymentIQ integration uses this username."):
        _command("--brand", other_brand.code, "--basic", USERNAME, "--password-stdin", stdin="x" * 20 + "\n")

    assert not PaymentIQIntegration.objects.filter(brand=other_brand).exists()


# --- the admin --------------------------------------------------------------------------


def test_the_admin_page_shows_that_credentials_are_set_never_what(make_staff, brand, integration):
    admin = make_staff("Brand admin", brands=[brand])
    integration.refresh_from_db()

    page = _signed_in(admin).get(f"/admin/payments/paymentiqintegration/{integration.pk}/change/")
    listing = _signed_in(admin).get("/admin/payments/paymentiqintegration/")

    assert page.status_code == 200
    html = page.content.decode()
    assert PASSWORD not in html
    assert integration.basic_password_hash not in html
    assert integration.basic_password_hash.split("$")[-1] not in html
    assert "10.1.2.0/24" in html  # the allowlist is not a secret
    assert USERNAME in html
    assert listing.status_code == 200
    assert PASSWORD not in listing.content.decode()


def test_changing_the_password_in_the_admin_is_audited_without_it(
    make_staff, brand, integration, piq, player
):
    admin = make_staff("Brand admin", brands=[brand])
    old_hash = PaymentIQIntegration.objects.get(pk=integration.pk).basic_password_hash

    response = _signed_in(admin).post(
        f"/admin/payments/paymentiqintegration/{integration.pk}/change/",
        {
            "active": "on",
            "auth_scheme": "basic",
            "basic_username": USERNAME,
            "new_password": "a-password-set-in-the-admin",
            "allowlist": "10.1.2.0/24\n2001:db8::7",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    integration.refresh_from_db()
    assert check_password("a-password-set-in-the-admin", integration.basic_password_hash)
    entry = LogEntry.objects.get_for_object(integration).latest("timestamp")
    assert entry.actor == admin
    changes = str(entry.changes)
    assert "basic_password_hash" in changes
    assert old_hash not in changes
    assert integration.basic_password_hash not in changes
    assert "a-password-set-in-the-admin" not in changes
    assert piq("verifyuser", {"sessionId": "x", "userId": str(player.pk)}).status == 401
    assert (
        piq(
            "verifyuser",
            {"sessionId": "x", "userId": str(player.pk)},
            auth=basic(USERNAME, "a-password-set-in-the-admin"),
        ).status
        == 200
    )


def test_a_token_generated_in_the_admin_is_shown_once_and_not_cached(make_staff, brand, integration):
    admin = make_staff("Brand admin", brands=[brand])
    url = f"/admin/payments/paymentiqintegration/{integration.pk}/change/"
    client = _signed_in(admin)

    response = client.post(
        url,
        {
            "active": "on",
            "auth_scheme": "bearer",
            "basic_username": USERNAME,
            "generate_token": "on",
            "allowlist": "10.1.2.3",
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    integration.refresh_from_db()
    digest = integration.bearer_token_sha256
    html = response.content.decode()
    token = html.split("<pre>")[1].split("</pre>")[0]
    assert hashlib.sha256(token.encode()).hexdigest() == digest
    page = client.get(url).content.decode()
    assert token not in page
    assert f"SHA-256 begins {digest[:12]}" in page


def test_an_active_integration_without_credentials_cannot_be_saved(make_staff, brand, integration):
    admin = make_staff("Brand admin", brands=[brand])

    response = _signed_in(admin).post(
        f"/admin/payments/paymentiqintegration/{integration.pk}/change/",
        {"active": "on", "auth_scheme": "bearer", "basic_username": USERNAME, "allowlist": ""},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "An active Bearer integration needs a token" in response.content.decode()
    assert PaymentIQIntegration.objects.get(pk=integration.pk).auth_scheme == "basic"


def test_another_brands_admin_cannot_see_the_integration(make_staff, other_brand, integration):
    outsider = make_staff("Brand admin", brands=[other_brand])
    client = _signed_in(outsider)

    page = client.get(f"/admin/payments/paymentiqintegration/{integration.pk}/change/")
    listing = client.get("/admin/payments/paymentiqintegration/")

    assert page.status_code == 302  # "does not exist" (admin redirects to the index)
    assert USERNAME not in listing.content.decode()


@pytest.mark.parametrize(
    ("role", "can_view", "can_change"),
    [
        ("Brand admin", True, True),
        ("Operator admin", True, True),
        ("Auditor", True, False),
        ("Payments reviewer", False, False),
    ],
)
def test_roles_hold_the_integration_permissions(make_staff, brand, role, can_view, can_change):
    user = make_staff(role, brands=[brand])

    assert user.has_perm("payments.view_paymentiqintegration") is can_view
    assert user.has_perm("payments.change_paymentiqintegration") is can_change
    assert user.has_perm("payments.delete_paymentiqintegration") is False


def test_a_superuser_adds_an_integration_in_the_admin(superuser, brand):
    response = _signed_in(superuser).post(
        "/admin/payments/paymentiqintegration/add/",
        {
            "brand": brand.pk,
            "active": "on",
            "auth_scheme": "basic",
            "basic_username": "piq-added",
            "new_password": "a-password-for-the-new-one",
            "allowlist": "203.0.113.0/24\n\n203.0.113.5",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    integration = PaymentIQIntegration.objects.get(brand=brand)
    assert (integration.active, integration.auth_scheme, integration.basic_username) == (
        True,
        "basic",
        "piq-added",
    )
    assert integration.ip_allowlist == ["203.0.113.0/24", "203.0.113.5"]
    assert check_password("a-password-for-the-new-one", integration.basic_password_hash)
    assert LogEntry.objects.get_for_object(integration).latest("timestamp").actor == superuser


def test_the_admin_refuses_an_allowlist_entry_that_is_not_an_address(make_staff, brand, integration):
    admin = make_staff("Brand admin", brands=[brand])

    response = _signed_in(admin).post(
        f"/admin/payments/paymentiqintegration/{integration.pk}/change/",
        {
            "active": "on",
            "auth_scheme": "basic",
            "basic_username": USERNAME,
            "allowlist": "10.1.2.0/24\nlocalhost",
        },
    )

    assert response.status_code == 200
    assert "&#x27;localhost&#x27; is not an IP address or network." in response.content.decode()
    assert PaymentIQIntegration.objects.get(pk=integration.pk).ip_allowlist == ["10.1.2.0/24", "2001:db8::7"]
