"""The Hub88 door's fixtures (signed calls, a brand with an integration, a live session) come
from tests/games; PaymentIQ's integration is configured here, under its own name."""

import pytest
from django.contrib.auth.signals import user_login_failed

from apps.core.actors import system_actor
from apps.payments.providers.paymentiq.auth import verified_cache_clear
from apps.payments.providers.paymentiq.services import paymentiq_integration_configure
from tests.games.conftest import (  # noqa: F401 - fixtures
    _fresh_correlation_context,
    game,
    hub88,
    hub88_brand,
    integration,
    keys,
    movement,
    player,
    token,
    wallet,
)

PIQ_USERNAME = "piq-security"
PIQ_PASSWORD = "correct-horse-battery-staple"
PIQ_IP = "10.1.2.3"


@pytest.fixture
def piq_integration(brand):
    verified_cache_clear()
    configured, _ = paymentiq_integration_configure(
        brand=brand,
        actor=system_actor("test"),
        auth_scheme="basic",
        basic_username=PIQ_USERNAME,
        basic_password=PIQ_PASSWORD,
        ip_allowlist=["10.1.2.0/24"],
        active=True,
    )
    yield configured
    verified_cache_clear()


@pytest.fixture
def failures():
    """The user_login_failed signals sent during the test (their credentials)."""
    seen = []

    def receiver(sender, credentials, **kwargs):
        seen.append(credentials)

    user_login_failed.connect(receiver)
    yield seen
    user_login_failed.disconnect(receiver)
