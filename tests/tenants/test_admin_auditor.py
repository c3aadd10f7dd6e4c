"""The Auditor reads everything in their brands and changes nothing."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from guardian.models import UserObjectPermission

from apps.core.models import Event, EventDelivery
from apps.players.models import Player
from apps.tenants.models import Brand, Operator, StaffUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(make_staff, staff_of, operator, brand, player_a, player_b):
    event = Event.objects.create(
        type="players.status_changed", brand_id=brand.pk, player_id=player_a.pk, actor="x"
    )
    return {
        # operator-wide, as in the demo data: sees staff and operator-level audit rows too
        "auditor": make_staff("Auditor", operator=operator),
        "colleague": staff_of(operator, "Support agent", brands=[brand]),
        "player": player_a,
        "brand": brand,
        "operator": operator,
        "event": event,
        "delivery": EventDelivery.objects.create(event=event, handler="some.handler", status="dead"),
        "log_entry": LogEntry.objects.get_for_object(player_a).first(),
    }


def _database() -> dict:
    """Everything an admin write could touch."""
    return {
        "operators": list(Operator.objects.order_by("pk").values()),
        "brands": list(Brand.objects.order_by("pk").values()),
        "brand currencies": list(Brand.currencies.through.objects.order_by("pk").values()),
        "staff": [
            {k: v for k, v in row.items() if k != "last_login"}
            for row in StaffUser.objects.order_by("pk").values()
        ],
        "staff groups": list(StaffUser.groups.through.objects.order_by("pk").values()),
        "staff permissions": list(StaffUser.user_permissions.through.objects.order_by("pk").values()),
        "group permissions": list(Group.permissions.through.objects.order_by("pk").values()),
        "object grants": list(UserObjectPermission.objects.order_by("pk").values()),
        "players": list(Player.objects.order_by("pk").values()),
        "events": list(Event.objects.order_by("pk").values()),
        "deliveries": list(EventDelivery.objects.order_by("pk").values()),
        "audit rows": list(LogEntry.objects.order_by("pk").values_list("pk", flat=True)),
    }


READABLE = [
    "/admin/players/player/",
    "/admin/tenants/brand/",
    "/admin/tenants/operator/",
    "/admin/tenants/staffuser/",
    "/admin/core/event/",
    "/admin/core/eventdelivery/",
    "/admin/auditlog/logentry/",
]


def test_auditor_reads_every_list_and_page_of_their_brands(scene, admin_as):
    client = admin_as(scene["auditor"])
    for url in READABLE:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count >= 1, url
        assert "bravo-player" not in response.content.decode(), url
    for key in ["player", "brand", "operator", "colleague", "event", "delivery", "log_entry"]:
        obj = scene[key]
        response = client.get(f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/")
        assert response.status_code == 200, key
        assert response.context["has_change_permission"] is False, key
        assert response.context["has_delete_permission"] is False, key


def test_auditor_sees_personal_data(scene, admin_as):
    response = admin_as(scene["auditor"]).get(f"/admin/players/player/{scene['player'].pk}/change/")

    assert "alpha.secret@example.com" in response.content.decode()


def _change(key):
    def url(scene):
        obj = scene[key]
        return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"

    return url


def _delete(key):
    return lambda scene: _change(key)(scene).replace("/change/", "/delete/")


def _action(action: str, key: str):
    return lambda scene: {
        "action": action,
        "index": "0",
        "_selected_action": [scene[key].pk],
        "reason": "audit",
    }


ATTEMPTS = {
    "change player": (_change("player"), lambda s: {"kyc_status": "verified", "email": "x@example.com"}, 403),
    "add player": (lambda s: "/admin/players/player/add/", lambda s: {"username": "new"}, 403),
    "delete player": (_delete("player"), lambda s: {"post": "yes"}, 403),
    "suspend player": (lambda s: "/admin/players/player/", _action("suspend", "player"), 200),
    "close player": (lambda s: "/admin/players/player/", _action("close", "player"), 200),
    "export players": (lambda s: "/admin/players/player/", _action("export_csv", "player"), 200),
    "change brand": (_change("brand"), lambda s: {"name": "Renamed", "default_currency": "GBP"}, 403),
    "add brand": (
        lambda s: "/admin/tenants/brand/add/",
        lambda s: {"code": "new-brand", "name": "New", "operator": s["operator"].pk, "jurisdiction": "GB"},
        403,
    ),
    "delete brand": (_delete("brand"), lambda s: {"post": "yes"}, 403),
    "delete brands (action)": (
        lambda s: "/admin/tenants/brand/",
        _action("delete_selected", "brand"),
        200,
    ),
    "change operator": (_change("operator"), lambda s: {"name": "Renamed", "code": "renamed"}, 403),
    "add operator": (
        lambda s: "/admin/tenants/operator/add/",
        lambda s: {"code": "new-op", "name": "N"},
        403,
    ),
    "change staff": (
        _change("colleague"),
        lambda s: {"username": "renamed", "is_active": "", "brands": [s["brand"].pk]},
        403,
    ),
    "add staff": (
        lambda s: "/admin/tenants/staffuser/add/",
        lambda s: {"username": "new", "password1": "Long-pass-2026", "password2": "Long-pass-2026"},
        403,
    ),
    "set staff password": (
        lambda s: _change("colleague")(s).replace("/change/", "/password/"),
        lambda s: {"password1": "Long-pass-2026!", "password2": "Long-pass-2026!"},
        403,
    ),
    "delete staff": (_delete("colleague"), lambda s: {"post": "yes"}, 403),
    "change event": (_change("event"), lambda s: {"type": "changed"}, 403),
    "delete event": (_delete("event"), lambda s: {"post": "yes"}, 403),
    "retry delivery (action)": (
        lambda s: "/admin/core/eventdelivery/",
        _action("retry_now", "delivery"),
        200,
    ),
    "change delivery": (_change("delivery"), lambda s: {"status": "done"}, 403),
    "delete audit row": (_delete("log_entry"), lambda s: {"post": "yes"}, 403),
}


def test_auditor_changes_nothing(scene, admin_as):
    # Given an Auditor, and every write the admin has
    client = admin_as(scene["auditor"])
    before = _database()
    problems = []
    for attempt, (url, data, status) in ATTEMPTS.items():
        # When they attempt it
        response = client.post(url(scene), data(scene))
        # Then it is refused: 403, or (for a changelist action not offered to them) the
        # list is shown again with no action at all; and nothing changed
        if response.status_code != status:
            problems.append(f"{attempt}: status {response.status_code}")
        elif status == 200 and (
            response["Content-Type"] != "text/html; charset=utf-8"
            or response.context["action_form"] is not None
        ):
            problems.append(f"{attempt}: an action was offered or answered")
        if _database() != before:
            problems.append(f"{attempt}: the database changed")
    assert problems == []
