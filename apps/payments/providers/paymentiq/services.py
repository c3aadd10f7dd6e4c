"""Writes of the PaymentIQ integration: its credentials, its IP allowlist, whether it is on.

The one door that changes an integration (the admin and the paymentiq_credentials command
both call it): checked, audited as `actor`, secrets stored only as hashes.
"""

import secrets

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from apps.core.actors import audit_as
from apps.payments.exceptions import PaymentsError
from apps.payments.providers.paymentiq.auth import allowlist_normalise, token_sha256
from apps.payments.providers.paymentiq.models import PaymentIQIntegration

MIN_PASSWORD_LENGTH = 16


class IntegrationRefused(PaymentsError):
    """The integration's settings cannot be saved (taken username, weak password, bad IP)."""

    code = "integration_refused"
    default_message = "The PaymentIQ integration cannot be saved like this."


def _username_check(username: str) -> str:
    username = username.strip()
    if not username or len(username) > 150 or ":" in username or not username.isprintable():
        raise IntegrationRefused(
            "The username must be 1-150 printable characters without a colon.", code="invalid_username"
        )
    return username


def paymentiq_integration_configure(
    *,
    brand,
    actor,
    auth_scheme: str | None = None,
    basic_username: str | None = None,
    basic_password: str | None = None,
    generate_token: bool = False,
    ip_allowlist: list | None = None,
    active: bool | None = None,
) -> tuple[PaymentIQIntegration, str | None]:
    """Create or change the brand's integration; None leaves a setting as it is.

    Returns the integration and, when `generate_token`, the new bearer token: shown to the
    caller this once, stored only as its SHA-256. A password is stored only as a Django
    password hash. Switching the scheme keeps the other scheme's credentials unusable (a
    call must use the integration's scheme). An active integration needs the credentials of
    its scheme. An empty allowlist refuses every caller.
    """
    if auth_scheme is not None and auth_scheme not in PaymentIQIntegration.AuthScheme.values:
        raise IntegrationRefused(f"Unknown auth scheme {auth_scheme!r}.", code="invalid_scheme")
    if basic_username is not None:
        basic_username = _username_check(basic_username)
    if basic_password is not None and len(basic_password) < MIN_PASSWORD_LENGTH:
        raise IntegrationRefused(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", code="weak_password"
        )
    if ip_allowlist is not None:
        try:
            ip_allowlist = allowlist_normalise(ip_allowlist)
        except ValueError as exc:
            raise IntegrationRefused(str(exc), code="invalid_ip") from exc
    token = secrets.token_urlsafe(32) if generate_token else None
    try:
        with transaction.atomic(), audit_as(actor):
            integration = PaymentIQIntegration.objects.select_for_update().filter(brand=brand).first()
            if integration is None:
                integration = PaymentIQIntegration(brand=brand)
            if auth_scheme is not None:
                integration.auth_scheme = auth_scheme
            if basic_username is not None:
                integration.basic_username = basic_username
            if basic_password is not None:
                integration.basic_password_hash = make_password(basic_password)
            if token is not None:
                integration.bearer_token_sha256 = token_sha256(token)
            if ip_allowlist is not None:
                integration.ip_allowlist = ip_allowlist
            if active is not None:
                integration.active = active
            if integration.active and not integration.has_credentials:
                raise IntegrationRefused(
                    f"An active integration needs its {integration.auth_scheme} credentials.",
                    code="credentials_missing",
                )
            integration.save()
    except IntegrityError as exc:
        raise IntegrationRefused(
            "Another PaymentIQ integration uses this username.", code="username_taken"
        ) from exc
    return integration, token
