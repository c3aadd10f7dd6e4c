"""Kernel endpoints: health check, and JSON (not HTML) errors for API clients."""

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("tests.core.urls")


@pytest.mark.django_db
def test_healthz_says_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing/", headers={"X-Correlation-ID": "nf-1"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "No such endpoint."}}
    assert response["X-Correlation-ID"] == "nf-1"


@pytest.mark.django_db
def test_unknown_page_outside_the_api_is_html(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_server_error_under_the_api_is_json_with_the_correlation_id():
    client = Client(raise_request_exception=False)

    response = client.get("/api/test-core/explode", headers={"X-Correlation-ID": "err-42"})

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side (ref err-42)."}
    }
    assert response["X-Correlation-ID"] == "err-42"
