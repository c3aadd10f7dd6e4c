"""Fixtures of the exclusions tests: fake GAMSTOP and Spelpaus servers (real HTTP on
127.0.0.1, started once per session, reset for every test) and brand configurations
pointing at them."""

import pytest

from apps.compliance.registers import register_client
from apps.exclusions.clients import breakers_reset
from apps.exclusions.fakes import FakeGamstop, FakeSpelpaus
from apps.exclusions.models import Register, RegisterConfig
from apps.exclusions.services import compliance_client


@pytest.fixture(autouse=True)
def _register_clients_and_fresh_breakers():
    # Another test may have replaced a client in the registry (tests/compliance does, for
    # spelpaus); these tests need the real ones. Breakers keep state per process.
    for name in Register.values:
        register_client(name)(compliance_client(name))
    breakers_reset()
    yield
    breakers_reset()


@pytest.fixture
def quick_retries(settings):
    """Three attempts, 50 ms first backoff, breaker after 3 failed calls."""
    settings.EXCLUSIONS_RETRIES = 3
    settings.EXCLUSIONS_BACKOFF_SECONDS = 0.05
    settings.EXCLUSIONS_RETRY_MAX_SECONDS = 2.0
    settings.EXCLUSIONS_BREAKER_FAILURES = 3
    settings.EXCLUSIONS_BREAKER_RESET_SECONDS = 60.0
    return settings


@pytest.fixture(scope="session")
def _gamstop_server():
    with FakeGamstop() as fake:
        yield fake


@pytest.fixture(scope="session")
def _spelpaus_server():
    with FakeSpelpaus() as fake:
        yield fake


@pytest.fixture
def fake_gamstop(_gamstop_server):
    _gamstop_server.reset()
    _gamstop_server.excluded = {}
    yield _gamstop_server
    _gamstop_server.reset()


@pytest.fixture
def fake_spelpaus(_spelpaus_server):
    _spelpaus_server.reset()
    _spelpaus_server.blocked = set()
    yield _spelpaus_server
    _spelpaus_server.reset()


@pytest.fixture
def gamstop_config(brand, fake_gamstop, quick_retries):
    """Brand A (GB) asks the fake GAMSTOP."""
    return RegisterConfig.objects.create(
        brand=brand,
        register=Register.GAMSTOP,
        base_url=fake_gamstop.url,
        batch_url=fake_gamstop.batch_url,
        api_key=fake_gamstop.api_key,
        timeout_seconds=2.0,
    )


@pytest.fixture
def spelpaus_config(other_brand, fake_spelpaus, quick_retries):
    """Brand B (SE) asks the fake Spelpaus."""
    return RegisterConfig.objects.create(
        brand=other_brand,
        register=Register.SPELPAUS,
        base_url=fake_spelpaus.url,
        batch_url=fake_spelpaus.marketing_url,
        actor_id=fake_spelpaus.actor_id,
        api_key=fake_spelpaus.api_key,
        timeout_seconds=2.0,
    )
