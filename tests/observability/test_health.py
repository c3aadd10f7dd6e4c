"""Liveness asks nothing; readiness asks PostgreSQL, Redis and the broker, for real."""

import pytest
from django.db import connections

from tests.core.test_celery_worker import celery_configured, closed_port


@pytest.fixture
def unreachable_database():
    """A second database alias on a local port nobody listens on: a PostgreSQL that is down
    (the connection is really attempted and refused)."""
    alias = "down"
    connections.settings[alias] = {**connections.settings["default"], "PORT": str(closed_port())}
    yield alias
    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


@pytest.mark.redis
@pytest.mark.django_db
def test_readiness_is_ok_when_every_dependency_answers(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    # the suite runs Celery eagerly: no broker to ask
    assert body["checks"]["broker"]["status"] == "skipped"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.postgres
def test_readiness_fails_when_postgresql_is_down(
    client, django_db_setup, django_db_blocker, unreachable_database
):
    # Outside a Django test case (which allows only its own aliases), with the test database
    # open to every thread as in a server: the checks run in a thread pool.
    with django_db_blocker.unblock():
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    down = body["checks"]["database:down"]
    assert down["status"] == "error"
    assert "OperationalError" in down["error"]
    assert "refused" in down["error"].lower()
    assert body["checks"]["database"]["status"] == "ok"


def test_liveness_does_not_ask_the_database(client):
    # no database access is allowed in this test at all: any query would raise
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_fails_when_redis_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "error"
    assert "ConnectionError" in response.json()["checks"]["redis"]["error"]


@pytest.mark.redis
@pytest.mark.django_db
def test_readiness_asks_the_broker_when_there_is_one(client, settings):
    with celery_configured(broker_url=settings.REDIS_URL, task_always_eager=False):
        up = client.get("/readyz")
    with celery_configured(broker_url=f"redis://127.0.0.1:{closed_port()}/0", task_always_eager=False):
        down = client.get("/readyz")

    assert (up.status_code, up.json()["checks"]["broker"]["status"]) == (200, "ok")
    assert (down.status_code, down.json()["checks"]["broker"]["status"]) == (503, "error")
