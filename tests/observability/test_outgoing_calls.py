"""The correlation id goes out with every register call (fake GAMSTOP and Spelpaus over real
HTTP), and register calls are measured."""

import datetime

import pytest
from prometheus_client import REGISTRY

from apps.core.correlation import correlation_id_reset, correlation_id_set
from apps.exclusions.clients import gamstop
from apps.exclusions.selectors import register_config_get
from tests.exclusions.test_registration_login import REGISTER_URL, login, se_payload
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def sample(name: str, **labels) -> float:
    """This process's value of a metric (the counters live in the process that counts)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def checks(register: str, outcome: str) -> float:
    return sample("pam_register_checks_total", register=register, outcome=outcome)


def test_a_login_with_only_a_traceparent_sends_its_trace_id_to_gamstop(
    api_client, brand, gamstop_config, fake_gamstop
):
    player = PlayerFactory(brand=brand)

    response = login(api_client, player, HTTP_TRACEPARENT=f"00-{TRACE_ID}-b7ad6b7169203331-01")

    assert response.status_code == 200
    assert response["X-Correlation-ID"] == TRACE_ID
    (request,) = fake_gamstop.requests_to("/v2")
    assert request[1]["x-trace-id"] == TRACE_ID
    assert request[1]["x-correlation-id"] == TRACE_ID


def test_spelpaus_calls_carry_the_request_id(api_client, other_brand, spelpaus_config, fake_spelpaus):
    response = api_client.post(
        REGISTER_URL, se_payload(other_brand), format="json", HTTP_X_REQUEST_ID="signup-5150"
    )

    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "signup-5150"
    (request,) = fake_spelpaus.requests_to("/blocking-info/")
    assert request[1]["x-correlation-id"] == "signup-5150"


def test_gamstop_batch_calls_carry_the_jobs_correlation_id(brand, gamstop_config, fake_gamstop):
    config = register_config_get(brand_id=brand.pk, register="gamstop")
    person = gamstop.BatchPerson(
        correlation_id="p-1",
        first_name="Alice",
        last_name="Smith",
        date_of_birth=datetime.date(1990, 1, 2),
        email="alice@example.com",
        postcode="SW1A2AA",
    )
    token = correlation_id_set("recheck-run-17")
    try:
        gamstop.batch_check_detailed(config, [person])
    finally:
        correlation_id_reset(token)

    (request,) = fake_gamstop.requests_to("/batch/v2")
    assert request[1]["x-trace-id"] == "recheck-run-17"
    assert request[1]["x-correlation-id"] == "recheck-run-17"


def test_register_calls_are_counted_by_outcome_and_timed(api_client, brand, gamstop_config, fake_gamstop):
    player = PlayerFactory(brand=brand)
    ok, error = checks("gamstop", "ok"), checks("gamstop", "error")
    timed = sample("pam_register_check_duration_seconds_count", register="gamstop")

    login(api_client, player)
    fake_gamstop.fail_next(500, times=3)  # every retry fails: the check fails closed
    refused = login(api_client, player)

    assert refused.status_code != 200
    assert checks("gamstop", "ok") - ok == 1
    assert checks("gamstop", "error") - error == 1
    assert sample("pam_register_check_duration_seconds_count", register="gamstop") - timed == 2
