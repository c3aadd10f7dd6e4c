"""Production hardening: `check --deploy` is clean, every answer carries the security
headers (CSP included), nothing inline needs the CSP relaxed, and no secret is rendered
back in the admin."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password

from tests.helpers.staff import staff_login

BASE_DIR = Path(settings.BASE_DIR)


def _production_env(**overrides) -> dict:
    """A production-like environment from scratch (the test runner's own relaxations, such
    as SECURE_SSL_REDIRECT=false, must not leak into it)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(BASE_DIR)),
        "PAM_IGNORE_DOTENV": "true",
        "DJANGO_SETTINGS_MODULE": "pam.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "pam.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://pam.example.com",
    }
    env.update(overrides)
    return env


def _check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy(_production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_a_default_is_weakened():
    # the same check, proven able to fail: HSTS off is a deploy warning
    result = _check_deploy(_production_env(SECURE_HSTS_SECONDS="0"))

    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


# --- headers --------------------------------------------------------------------------


@pytest.mark.django_db  # the IP lists' middleware reads its rules
def test_the_admin_login_page_carries_the_security_headers(client):
    response = client.get("/admin/login/", secure=True)

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/player/profile", "/no-such-page"])
def test_api_answers_and_errors_carry_the_csp_too(client, db, path):
    response = client.get(path, secure=True)

    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db  # the IP lists' middleware reads its rules
def test_hsts_is_sent_only_over_https(client):
    response = client.get("/admin/login/")

    assert "Strict-Transport-Security" not in response
    assert "Content-Security-Policy" in response


@pytest.mark.django_db  # the IP lists' middleware reads its rules
def test_a_report_only_policy_uses_the_report_only_header(settings, client):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = True

    response = client.get("/admin/login/")

    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"] == settings.CONTENT_SECURITY_POLICY


def test_production_cookies_are_secure_and_http_only():
    # the values the test run inherits are relaxed on purpose; read the production defaults
    code = (
        "import django;django.setup();from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SESSION_COOKIE_SAMESITE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.X_FRAME_OPTIONS)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=BASE_DIR, env=_production_env(), capture_output=True, text=True
    )

    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "Lax",
        "True",
        "31536000",
        "True",
        "True",
        "DENY",
    ]


# --- nothing inline that the CSP would block ------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle=|<style[\s>]", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+=\s*[\"']", re.I)


def _templates():
    admin_templates = Path(django.__file__).parent / "contrib" / "admin" / "templates"
    ours = BASE_DIR / "templates"
    yield from ours.rglob("*.html")
    # Django's own, except those we override (ours are found first: TEMPLATES DIRS)
    for template in admin_templates.rglob("*.html"):
        if not (ours / template.relative_to(admin_templates)).exists():
            yield template


def test_no_template_has_an_inline_script_style_or_event_handler():
    offenders = []
    for template in _templates():
        text = template.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, EVENT_HANDLER):
            if pattern.search(text):
                offenders.append(f"{template}: {pattern.search(text).group(0)!r}")
    assert not offenders, offenders


def test_python_built_html_has_no_style_attribute():
    offenders = [
        str(path)
        for path in (BASE_DIR / "apps").rglob("*.py")
        if STYLE_ATTRIBUTE.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_public_pages_render_nothing_inline(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not STYLE_ATTRIBUTE.search(html)


def test_the_api_docs_script_is_served_from_our_origin(client, db):
    response = client.get("/api/docs/?script=")

    assert response.status_code == 200
    assert b"SwaggerUIBundle" in response.content


# --- no secret rendered back in the admin ---------------------------------------------

SENTINEL = "S3CRET-sentinel-" + "x" * 24


@pytest.fixture
def secrets_stored(brand, settings):
    from apps.exclusions.models import RegisterConfig
    from apps.games.providers.hub88.models import Hub88Integration
    from apps.payments.providers.paymentiq.models import PaymentIQIntegration
    from tests.factories import PlayerFactory

    settings.METRICS_TOKEN = f"metrics-{SENTINEL}"
    password_hash = make_password("a-player-password-2026")
    stored = {
        "register api key": (
            RegisterConfig.objects.create(
                brand=brand,
                register=RegisterConfig._meta.get_field("register").choices[0][0],
                base_url="https://register.invalid",
                api_key=f"api-{SENTINEL}",
            ),
            f"api-{SENTINEL}",
        ),
        "Hub88 private key": (
            Hub88Integration.objects.create(
                brand=brand,
                active=False,
                operator_private_key=f"-----BEGIN PRIVATE KEY-----\n{SENTINEL}\n-----END PRIVATE KEY-----",
            ),
            SENTINEL,
        ),
        "PaymentIQ credentials": (
            PaymentIQIntegration.objects.create(
                brand=brand,
                active=False,
                basic_username="piq",
                basic_password_hash=password_hash,
                bearer_token_sha256="f" * 64,
            ),
            password_hash,
        ),
        "player password hash": (PlayerFactory(brand=brand, password=password_hash), password_hash),
    }
    return stored


def _admin_pages(obj) -> list[str]:
    opts = obj._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    return [base, f"{base}{obj.pk}/change/"]


def test_no_secret_is_rendered_back_in_the_admin(client, superuser, secrets_stored):
    staff_login(client, superuser)
    superuser_hash = type(superuser).objects.get(pk=superuser.pk).password

    for what, (obj, secret) in secrets_stored.items():
        for path in _admin_pages(obj):
            response = client.get(path)
            assert response.status_code == 200, (what, path, response.status_code)
            html = response.content.decode()
            assert secret not in html, f"{what} rendered in {path}"
            assert SENTINEL not in html, f"{what} rendered in {path}"
            assert "f" * 64 not in html, f"PaymentIQ bearer token hash rendered in {path}"
            assert settings.METRICS_TOKEN not in html
    response = client.get(f"/admin/tenants/staffuser/{superuser.pk}/change/")
    assert response.status_code == 200
    assert superuser_hash.split("$")[-1] not in response.content.decode()


def test_secret_form_fields_are_write_only():
    """Every admin form field named like a secret renders without its value."""
    from django import forms
    from django.contrib import admin

    password_hash = make_password("a-staff-password-2026")
    checked = []
    for model, model_admin in admin.site._registry.items():
        for form in {model_admin.form, getattr(model_admin, "add_form", model_admin.form)}:
            for name, field in getattr(form, "base_fields", {}).items():
                if not re.search(r"key|password|secret|token", name) or isinstance(field, forms.BooleanField):
                    continue
                value = password_hash if name == "password" else SENTINEL
                html = field.widget.render(name, value)
                assert value.split("$")[-1] not in html, f"{model._meta.label}.{name} renders its value"
                checked.append(f"{model._meta.label}.{name}")
    assert len(checked) >= 5, checked


def test_no_second_factor_secret_is_rendered_in_the_admin(client, superuser, make_staff, brand):
    """After enrolment nobody sees a TOTP key or a recovery code again: the device models
    have no admin pages, and neither the staff pages nor the audit log show them."""
    from base64 import b32encode

    from auditlog.models import LogEntry
    from django.contrib import admin
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.helpers.staff import staff_login

    colleague = make_staff("Support agent", brands=[brand])
    device = TOTPDevice.objects.create(user=colleague, name="app", confirmed=True)
    recovery = StaticDevice.objects.create(user=colleague, name="recovery codes", confirmed=True)
    recovery.token_set.create(token="zq7xk2m4")
    staff_login(client, superuser)
    secrets_of_colleague = [device.key, b32encode(device.bin_key).decode().rstrip("="), "zq7xk2m4"]
    entries = LogEntry.objects.filter(object_pk__in=[str(device.pk), str(recovery.pk)])

    assert not any(admin.site.is_registered(m) for m in (TOTPDevice, StaticDevice, StaticToken))
    assert entries.exists()
    pages = [
        "/admin/tenants/staffuser/",
        f"/admin/tenants/staffuser/{colleague.pk}/change/",
        f"/admin/tenants/staffuser/{colleague.pk}/history/",
        "/admin/auditlog/logentry/",
        *[f"/admin/auditlog/logentry/{entry.pk}/change/" for entry in entries],
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.content.decode()
        for secret in secrets_of_colleague:
            assert secret not in html, f"a second-factor secret rendered in {path}"
