"""The OpenAPI schema and its documentation pages (served from our own static files)."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PLAYER_PATHS = {
    "/api/v1/player/register",
    "/api/v1/player/login",
    "/api/v1/player/logout",
    "/api/v1/player/profile",
}
STAFF_PATHS = {
    "/api/v1/staff/players/",
    "/api/v1/staff/players/{id}/",
    "/api/v1/staff/players/{id}/status/",
    "/api/v1/staff/brands/",
    "/api/v1/staff/brands/{id}/",
}


def test_schema_is_valid_openapi_listing_the_player_and_staff_paths(api_client):
    # when
    response = api_client.get("/api/schema/", {"format": "json"})

    # then
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # raises on anything that is not valid OpenAPI 3
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= PLAYER_PATHS | STAFF_PATHS
    assert schema["components"]["securitySchemes"]["playerToken"] == {"type": "http", "scheme": "bearer"}
    assert schema["paths"]["/api/v1/player/profile"]["get"]["security"] == [{"playerToken": []}]
    assert set(schema["paths"]["/api/v1/staff/players/{id}/status/"]) == {"post"}


def test_schema_is_served_as_yaml_by_default(api_client):
    # when
    response = api_client.get("/api/schema/")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


def test_schema_generates_without_warnings(tmp_path):
    # when / then: --fail-on-warn turns any drf-spectacular warning into an error
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


@pytest.fixture
def collected_static(settings, tmp_path):
    """The production static setup: collectstatic into STATIC_ROOT with the manifest storage."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    return settings.STATIC_ROOT


@pytest.mark.parametrize("url", ["/api/docs/"])
def test_docs_pages_load_their_assets_from_us_not_a_cdn(collected_static, url):
    # given: a new client, so WhiteNoise starts with the collected STATIC_ROOT
    client = APIClient()

    # when
    response = client.get(url)

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    # the sidecar's files, our stylesheet and the page's script (?script: the CSP allows no inline one)
    assert all(
        asset.startswith(("/static/drf_spectacular_sidecar/", "/static/pam/", url)) for asset in assets
    ), assets
    assert "cdn" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.getvalue()
