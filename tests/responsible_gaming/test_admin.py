"""The compliance officer's pages: exclusions in force, pending increases, recent refusals —
each scoped to the officer's brands."""

import pytest
from django.contrib.auth.backends import ModelBackend

from apps.responsible_gaming import services
from apps.responsible_gaming.exceptions import PlayerBlocked
from apps.responsible_gaming.models import LimitChange
from apps.responsible_gaming.refusals import refusals_flush
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login
from tests.responsible_gaming.conftest import deposit

pytestmark = pytest.mark.django_db
MODEL_BACKEND = f"{ModelBackend.__module__}.{ModelBackend.__qualname__}"


@pytest.fixture
def two_brands(brand, other_brand):
    mine, theirs = (
        PlayerFactory(brand=brand, username="mine"),
        PlayerFactory(brand=other_brand, username="theirs"),
    )
    for player in (mine, theirs):
        services.self_exclusion_start(actor=player, player=player, months=6)
        services.limit_set(actor=player, player=player, kind="deposit", period="day", amount=100)
        services.limit_set(actor=player, player=player, kind="deposit", period="day", amount=900)
        with pytest.raises(PlayerBlocked):
            deposit(player, 50)
    refusals_flush()
    return mine, theirs


@pytest.fixture
def officer_client(client, brand, make_staff):
    # Re-authenticated: cancelling a limit change is a sensitive action.
    staff_login(client, make_staff("Compliance officer", brands=[brand]), reauthenticated=True)
    return client


@pytest.mark.parametrize(
    "page", ["exclusion/?in_force=yes", "limitchange/?status__exact=pending", "refusal/", "limit/"]
)
def test_each_page_lists_only_the_officers_brands(officer_client, two_brands, page):
    response = officer_client.get(f"/admin/responsible_gaming/{page}")

    assert response.status_code == 200
    assert [str(getattr(row, "player", row)) for row in response.context["cl"].result_list] == [
        str(two_brands[0])
    ]


def test_a_pending_increase_is_cancelled_from_the_admin(officer_client, two_brands):
    mine, theirs = two_brands
    pending = LimitChange.objects.filter(status="pending")

    assert "cancel_changes" in officer_client.get("/admin/responsible_gaming/limitchange/").content.decode()
    officer_client.post(
        "/admin/responsible_gaming/limitchange/",
        {"action": "cancel_changes", "_selected_action": [c.pk for c in pending]},
    )

    assert set(pending.values_list("player_id", flat=True)) == {theirs.pk}  # another brand's stays


def test_support_agents_see_the_pages_but_cannot_cancel(client, brand, make_staff, two_brands):
    staff_login(client, make_staff("Support agent", brands=[brand]), backend=MODEL_BACKEND)

    response = client.get("/admin/responsible_gaming/limitchange/")

    assert response.status_code == 200
    assert "cancel_changes" not in response.content.decode()
    assert LimitChange.objects.filter(status="pending").count() == 2
