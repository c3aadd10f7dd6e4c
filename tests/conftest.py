"""Shared fixtures. The suite runs on PostgreSQL and Redis (make test); see README."""

import os
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.tenants.services import roles_sync
from tests.factories import BrandFactory, OperatorFactory, StaffUserFactory
from tests.helpers.staff import staff_login

IN_CI = os.environ.get("CI") == "true"


def _redis_url_for_worker(url: str) -> str:
    """Each xdist worker gets its own Redis database (base + 1 + worker), so flushing it is safe."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    parts = urlparse(url)
    base = int(parts.path.strip("/") or 0)
    db = base + 1 + int(worker.removeprefix("gw") or 0)
    return urlunparse(parts._replace(path=f"/{db}"))


def pytest_configure(config):
    # The Celery workers the tests start run in the test process: it is not to be frozen.
    settings.WORKER_GC_FREEZE = False
    engine = settings.DATABASES["default"]["ENGINE"]
    if IN_CI and (engine != "django.db.backends.postgresql" or not settings.REDIS_URL):
        pytest.exit("CI must run the suite on PostgreSQL and Redis (DATABASE_URL, REDIS_URL).", returncode=1)
    if settings.REDIS_URL:
        url = _redis_url_for_worker(settings.REDIS_URL)
        settings.REDIS_URL = url
        settings.CACHES["default"]["LOCATION"] = url
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = url


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (make test without services)"))
        if ("redis" in item.keywords or "celery_worker" in item.keywords) and not settings.REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs Redis (make test without services)"))


@pytest.fixture(scope="session")
def _empty_static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("static")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings, _empty_static_root):
    # DEBUG is off in tests, so the settings pick the manifest storage, which needs a
    # collectstatic run; pages under test only need the URLs. (An existing STATIC_ROOT
    # keeps WhiteNoise from warning on every new client.)
    settings.STATIC_ROOT = _empty_static_root
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(settings):
    # Real hashing is tested where it matters; elsewhere it would only slow the suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    from apps.compliance.selectors import rules_cache_clear
    from apps.games.providers.hub88.selectors import integration_cache_clear
    from apps.games.selectors import catalogue_cache_clear
    from apps.security.ipfilter import local_cache_clear as ip_rules_cache_clear

    cache.clear()
    # Per-process caches (provider doors, brand rules): a test's rolled-back rows must not
    # be served to the next test.
    catalogue_cache_clear()
    integration_cache_clear()
    rules_cache_clear()
    ip_rules_cache_clear()
    # Production refuses Hub88 calls until its allowlist has entries; the provider tests
    # call from 127.0.0.1 without one (tests/security/test_ipfilter.py covers the refusal).
    settings.IP_PROVIDER_ALLOWLIST_REQUIRED = False
    yield


@pytest.fixture(autouse=True)
def _rate_limits_raised(settings):
    # The limiter runs on every request (its Redis round trip included) but with limits no
    # test reaches: the suite signs in and calls from 127.0.0.1 far faster than a person.
    # tests/security/test_ratelimit.py sets small limits.
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, (1_000_000, 1.0, 1_000_000))
    # Redis buckets go with cache.clear() below; the in-memory ones (no REDIS_URL) here.
    from apps.security.ratelimit import local_buckets_clear

    local_buckets_clear()


@pytest.fixture(autouse=True)
def _registers_unconfigured_skipped(settings):
    # The suite's GB and SE brands have no self-exclusion register configuration; outside
    # tests/exclusions (which configures fake registers, and tests that an unconfigured
    # register fails closed) their register checks are skipped, as in development.
    settings.EXCLUSIONS_UNCONFIGURED = "skip"


@pytest.fixture(autouse=True)
def _fresh_refusal_notes():
    # Refusals noted by the wallet guard wait in a context variable for the end of the unit
    # of work (refusals.py); a test is one, so notes never leak into the next test.
    from apps.responsible_gaming.refusals import _pending

    token = _pending.set([])
    yield
    _pending.reset(token)


@pytest.fixture
def roles(db):
    roles_sync()


@pytest.fixture
def operator(db):
    return OperatorFactory(code="northstar", name="Northstar")


@pytest.fixture
def other_operator(db):
    return OperatorFactory(code="nordic", name="Nordic")


@pytest.fixture
def brand(operator):
    """Brand A: Great Britain, GBP."""
    return BrandFactory(operator=operator, code="brand-a", jurisdiction="GB", currencies=["GBP"])


@pytest.fixture
def other_brand(other_operator):
    """Brand B: Sweden, SEK; another operator."""
    return BrandFactory(operator=other_operator, code="brand-b", jurisdiction="SE", currencies=["SEK", "EUR"])


@pytest.fixture
def make_staff(roles):
    """make_staff(role, brands=[...]) or make_staff(role, operator=op): a working staff user."""

    def make(role: str | None = None, *, brands=(), operator=None, **kwargs):
        brands = list(brands)
        kwargs.setdefault("operator", operator or (brands[0].operator if brands else None))
        return StaffUserFactory(role=role, brands=brands, operator_access=operator, **kwargs)

    return make


@pytest.fixture
def superuser(db):
    return StaffUserFactory(is_superuser=True, operator=None)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def staff_client(api_client):
    """staff_client(user): an API client signed in as this staff user."""

    def make(user):
        staff_login(api_client, user)
        return api_client

    return make
