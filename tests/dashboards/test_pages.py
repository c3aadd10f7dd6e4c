"""The live pages in the admin: who sees them, and what they start from."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.dashboards.test_consumers import raise_alert
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    staff_login(client, user)
    return client


@pytest.mark.parametrize(
    ("role", "ops", "alerts"),
    [
        ("Compliance officer", 200, 200),
        ("Auditor", 200, 200),
        ("Brand admin", 200, 200),
        ("Operator admin", 200, 200),
        ("Support agent", 403, 403),
        ("Payments reviewer", 403, 403),
    ],
)
def test_the_dashboards_need_the_dashboard_permission(make_staff, brand, role, ops, alerts):
    client = _client(make_staff(role, brands=[brand]))
    assert client.get(reverse("admin:dashboards_dashboard_changelist")).status_code == ops
    assert client.get(reverse("admin:dashboards_dashboard_alerts")).status_code == alerts


def test_the_operations_page_has_a_card_per_own_brand_only(make_staff, brand, other_brand):
    officer = make_staff("Compliance officer", brands=[brand])
    response = _client(officer).get(reverse("admin:dashboards_dashboard_changelist"))
    assert [b["id"] for b in response.context["brands"]] == [brand.pk]
    assert f'id="pam-brand-{other_brand.pk}"' not in response.content.decode()
    # Asking for another brand shows nothing of it.
    url = reverse("admin:dashboards_dashboard_changelist")
    response = _client(officer).get(url, {"brand": other_brand.pk})
    assert response.context["brands"] == []


def test_the_alerts_page_starts_from_its_own_brands_latest_and_the_cursor(
    make_staff, brand, other_brand, django_capture_on_commit_callbacks
):
    officer = make_staff("Compliance officer", brands=[brand])
    with django_capture_on_commit_callbacks(execute=True):
        ours = raise_alert(brand, "ours")
        theirs = raise_alert(other_brand, "theirs")
    response = _client(officer).get(reverse("admin:dashboards_dashboard_alerts"))
    assert [m["id"] for m in response.context["initial"]] == [ours]
    assert response.context["cursor"] >= theirs
    assert "theirs" not in response.content.decode()


def test_the_review_queue_goes_live_for_those_who_see_payments(make_staff, brand):
    reviewer = make_staff("Payments reviewer", brands=[brand])
    response = _client(reviewer).get(reverse("admin:payments_payment_changelist"))
    live = response.context["live"]
    assert live["stream"] == "queue"
    assert live["catchup_url"] == reverse("admin:dashboards_dashboard_catchup")
    html = response.content.decode()
    assert "dashboards/review_queue.js" in html
    config = html.split('id="pam-live-config" type="application/json">')[1].split("</script>")[0]
    assert json.loads(config) == live
    # "All payments" is a plain list: not live.
    response = _client(reviewer).get(reverse("admin:payments_payment_changelist"), {"view": "all"})
    assert "live" not in response.context
