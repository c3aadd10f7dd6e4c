"""Fixtures of the shared-kernel tests (outbox, correlation ids, settings)."""

import pytest

from apps.core.correlation import correlation_id_reset, correlation_id_set
from tests.helpers.staff import staff_login


@pytest.fixture(autouse=True)
def _outside_any_correlation_context():
    """Each test starts as a fresh job would: no correlation id in its context.

    publish() sets an id when there is none (as in a shell or a job), and a context
    variable outlives the test in pytest's thread; without this, one test's id would
    leak into the next and hide what a test is meant to see.
    """
    token = correlation_id_set(None)
    yield
    correlation_id_reset(token)


@pytest.fixture
def outbox_settings(settings):
    """Outbox timing pinned for the test, whatever the environment sets."""
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 30
    settings.OUTBOX_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def admin_client_of(client):
    """admin_client_of(user): a browser client signed in to the admin as this user."""

    def sign_in(user):
        staff_login(client, user)
        return client

    return sign_in
