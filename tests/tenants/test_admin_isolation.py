"""Brand isolation in every admin: staff of brand A get nothing of operator B's brand.

Not in the list, not by id, not by filter, not by search, not through the autocomplete
endpoint, not in an export and not in a count. Everything of the other tenant is named
"bravo…", so a page that mentions "bravo" anywhere has leaked.
"""

import csv
import io
from dataclasses import dataclass, field

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.core.models import Event, EventDelivery
from apps.players.models import Player
from apps.tenants.models import Brand, Operator, StaffUser
from tests.factories import BrandFactory, OperatorFactory, PlayerFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

LEAK = "bravo"


@dataclass
class World:
    brand_a: Brand
    brand_a2: Brand
    brand_b: Brand
    player_a: Player
    player_b: Player
    staff_a: StaffUser
    staff_b: StaffUser
    event_a: Event
    event_b: Event
    platform_event: Event
    delivery_a: EventDelivery
    delivery_b: EventDelivery
    viewers: dict[str, StaffUser] = field(default_factory=dict)

    @property
    def operator_a(self) -> Operator:
        return self.brand_a.operator

    @property
    def operator_b(self) -> Operator:
        return self.brand_b.operator


@pytest.fixture
def world(roles, brand, sister_brand, staff_of) -> World:
    operator_b = OperatorFactory(code="bravo-ops", name="Bravoland Gaming", legal_name="Bravoland Gaming AB")
    brand_b = BrandFactory(
        operator=operator_b,
        code="bravo-casino",
        name="Bravoland Casino",
        jurisdiction="SE",
        currencies=["SEK"],
    )
    player_a = PlayerFactory(brand=brand, username="alpha-player", email="alpha.secret@example.com")
    player_b = PlayerFactory(brand=brand_b, username="bravo-player", email="bravo.secret@example.com")
    PlayerFactory(brand=sister_brand, username="alpha-two-player")
    now = timezone.now()
    event_a = Event.objects.create(
        type="alpha.thing_happened", brand_id=brand.pk, player_id=player_a.pk, actor="x"
    )
    event_b = Event.objects.create(
        type="bravo.thing_happened", brand_id=brand_b.pk, player_id=player_b.pk, actor="bravo:actor"
    )
    platform_event = Event.objects.create(type="platform.thing_happened", actor="system:job", occurred_at=now)
    world = World(
        brand_a=brand,
        brand_a2=sister_brand,
        brand_b=brand_b,
        player_a=player_a,
        player_b=player_b,
        staff_a=staff_of(brand.operator, "Support agent", brands=[brand], username="alpha-staff"),
        staff_b=staff_of(operator_b, "Support agent", brands=[brand_b], username="bravo-staff"),
        event_a=event_a,
        event_b=event_b,
        platform_event=platform_event,
        delivery_a=EventDelivery.objects.create(event=event_a, handler="alpha.handler"),
        delivery_b=EventDelivery.objects.create(event=event_b, handler="bravo.handler"),
    )
    world.viewers = {
        # brand A only: the Compliance officer of the brief, and an Auditor (deliveries)
        "officer": staff_of(brand.operator, "Compliance officer", brands=[brand], username="officer-a"),
        "auditor": staff_of(brand.operator, "Auditor", brands=[brand], username="auditor-a"),
        # operator A as a whole: staff management and operator-level audit rows
        "operator_admin": StaffUserFactory(
            role="Operator admin",
            operator=brand.operator,
            operator_access=brand.operator,
            username="opadmin-a",
        ),
    }
    return world


def _entries_about(*objects) -> set[LogEntry]:
    """Every audit row about these objects (found by object, not by the scoping data)."""
    entries = set()
    for obj in objects:
        found = set(LogEntry.objects.get_for_object(obj))
        assert found, obj
        entries |= found
    return entries


@dataclass(frozen=True)
class AdminCase:
    """One changelist, who looks at it, what they must see, and ways to reach B's rows."""

    name: str
    url: str
    viewer: str
    expected: object  # world -> the set of objects the list must hold
    hidden: object  # world -> an object of the other tenant
    filter_b: object  # world -> a query string that selects the other tenant's rows
    searchable: bool = True


CASES = [
    AdminCase(
        "players",
        "/admin/players/player/",
        "officer",
        expected=lambda w: {w.player_a},
        hidden=lambda w: w.player_b,
        filter_b=lambda w: f"brand__id__exact={w.brand_b.pk}",
    ),
    AdminCase(
        "brands",
        "/admin/tenants/brand/",
        "officer",
        expected=lambda w: {w.brand_a},
        hidden=lambda w: w.brand_b,
        filter_b=lambda w: f"operator__id__exact={w.operator_b.pk}",
    ),
    AdminCase(
        "operators",
        "/admin/tenants/operator/",
        "officer",
        expected=lambda w: {w.operator_a},
        hidden=lambda w: w.operator_b,
        filter_b=lambda w: f"id={w.operator_b.pk}",
    ),
    AdminCase(
        "staff users",
        "/admin/tenants/staffuser/",
        "operator_admin",
        expected=lambda w: {w.staff_a, *w.viewers.values()},
        hidden=lambda w: w.staff_b,
        filter_b=lambda w: f"operator__id__exact={w.operator_b.pk}",
    ),
    AdminCase(
        "events",
        "/admin/core/event/",
        "officer",
        expected=lambda w: {w.event_a},
        hidden=lambda w: w.event_b,
        filter_b=lambda w: f"brand_id={w.brand_b.pk}",
    ),
    AdminCase(
        "event deliveries",
        "/admin/core/eventdelivery/",
        "auditor",
        expected=lambda w: {w.delivery_a},
        hidden=lambda w: w.delivery_b,
        filter_b=lambda w: f"event__id__exact={w.event_b.pk}",
        searchable=False,
    ),
    AdminCase(
        "audit log (brand staff)",
        "/admin/auditlog/logentry/",
        "officer",
        expected=lambda w: _entries_about(w.brand_a, w.player_a),
        hidden=lambda w: LogEntry.objects.get_for_object(w.player_b).first(),
        filter_b=lambda w: (
            f"content_type__id__exact={ContentType.objects.get_for_model(Player).pk}&object_id={w.player_b.pk}"
        ),
    ),
    AdminCase(
        "audit log (operator admin)",
        "/admin/auditlog/logentry/",
        "operator_admin",
        # operator-level rows (the operator, its staff) as well as its brands' rows
        expected=lambda w: _entries_about(
            w.operator_a,
            w.brand_a,
            w.brand_a2,
            w.player_a,
            Player.objects.get(username="alpha-two-player"),
            w.staff_a,
            *w.viewers.values(),
        ),
        hidden=lambda w: LogEntry.objects.get_for_object(w.staff_b).first(),
        filter_b=lambda w: (
            f"content_type__id__exact={ContentType.objects.get_for_model(StaffUser).pk}&object_id={w.staff_b.pk}"
        ),
    ),
]
CASE_IDS = [c.name for c in CASES]


def _listed(response) -> set:
    return set(response.context["cl"].result_list)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_changelist_shows_only_the_viewers_tenant(case, world, admin_as):
    # Given a staff user of tenant A
    client = admin_as(world.viewers[case.viewer])
    expected = case.expected(world)
    # When they open the changelist
    response = client.get(case.url)
    # Then it lists exactly tenant A's rows, counts only those, and names nothing of B
    assert response.status_code == 200
    cl = response.context["cl"]
    # the "N total" count, where the admin shows one, counts only A's rows too
    total = len(expected) if cl.model_admin.show_full_result_count else None
    assert _listed(response) == expected
    assert cl.result_count == len(expected)
    assert cl.full_result_count == total
    html = response.content.decode()
    assert LEAK not in html.lower()
    assert "platform.thing_happened" not in html

    # When they filter for B's rows by hand: nothing, and nothing of B on the page
    response = client.get(f"{case.url}?{case.filter_b(world)}")
    assert response.status_code == 200
    assert _listed(response) == set()
    assert response.context["cl"].result_count == 0
    assert LEAK not in response.content.decode().lower()

    # When they search for B's rows: nothing, and the total still counts only A's rows
    if case.searchable:
        response = client.get(case.url, {"q": LEAK})
        assert response.status_code == 200
        assert _listed(response) == set()
        assert response.context["cl"].result_count == 0
        assert response.context["cl"].full_result_count == total


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_superuser_changelist_does_show_the_other_tenant(case, world, superuser, admin_as):
    # The control for the test above: the same page and filter do name B when B is visible.
    client = admin_as(superuser)

    response = client.get(case.url)
    filtered = client.get(f"{case.url}?{case.filter_b(world)}")

    assert response.status_code == 200
    assert LEAK in response.content.decode().lower()
    assert case.hidden(world) in _listed(response)
    assert case.hidden(world) in _listed(filtered)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_other_tenants_row_by_id_is_the_same_as_a_missing_one(case, world, admin_as):
    # Given the id of a row of tenant B, and an id that exists nowhere
    client = admin_as(world.viewers[case.viewer])
    hidden = case.hidden(world)
    missing_pk = type(hidden).objects.order_by("-pk").first().pk + 1000
    for suffix in ("change/", "history/", "delete/"):
        # When the viewer opens its pages
        to_hidden = client.get(f"{case.url}{hidden.pk}/{suffix}")
        to_missing = client.get(f"{case.url}{missing_pk}/{suffix}")
        # Then the answer is the one for an id that does not exist
        assert to_hidden.status_code == to_missing.status_code, suffix
        assert to_hidden.get("Location") == to_missing.get("Location"), suffix
        assert to_hidden.status_code in (302, 403), suffix
        assert LEAK not in to_hidden.content.decode().lower()
        if to_hidden.status_code == 302:
            assert to_hidden["Location"] == "/admin/"
            page = client.get("/admin/")
            messages = [str(m) for m in page.context["messages"]]
            verbose = type(hidden)._meta.verbose_name
            assert messages == [
                f"{verbose} with ID “{hidden.pk}” doesn’t exist. Perhaps it was deleted?",
                f"{verbose} with ID “{missing_pk}” doesn’t exist. Perhaps it was deleted?",
            ]


def test_player_search_by_the_other_tenants_id_finds_nothing(world, admin_as):
    response = admin_as(world.viewers["officer"]).get("/admin/players/player/", {"q": str(world.player_b.pk)})

    assert list(response.context["cl"].result_list) == []


# --- the brand filter ----------------------------------------------------------------


def test_brand_filter_lists_only_the_viewers_brands(world, staff_of, admin_as):
    # Given a Compliance officer of brands A and A2 (with one brand the filter is not shown)
    viewer = staff_of(world.operator_a, "Compliance officer", brands=[world.brand_a, world.brand_a2])
    # When they open the player list
    response = admin_as(viewer).get("/admin/players/player/")
    # Then the brand filter offers exactly A and A2
    brand_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "brand")
    assert brand_filter.lookup_choices == [
        (world.brand_a.pk, str(world.brand_a)),
        (world.brand_a2.pk, str(world.brand_a2)),
    ]
    assert LEAK not in response.content.decode().lower()
    # And choosing brand B's id by hand finds nothing; choosing A2 finds A2's player
    response = admin_as(viewer).get(f"/admin/players/player/?brand__id__exact={world.brand_b.pk}")
    assert list(response.context["cl"].result_list) == []
    response = admin_as(viewer).get(f"/admin/players/player/?brand__id__exact={world.brand_a2.pk}")
    assert [p.username for p in response.context["cl"].result_list] == ["alpha-two-player"]


def test_event_type_filter_lists_only_the_viewers_event_types(world, admin_as):
    response = admin_as(world.viewers["officer"]).get("/admin/core/event/")

    type_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "type")
    assert list(type_filter.lookup_choices) == ["alpha.thing_happened"]


def test_audit_resource_type_filter_lists_only_the_viewers_kinds_of_rows(world, admin_as):
    response = admin_as(world.viewers["officer"]).get("/admin/auditlog/logentry/")

    resource_filter = next(
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "resource_type"
    )
    assert sorted(model for _, model in resource_filter.lookup_choices) == ["brand", "player"]


# --- the autocomplete endpoint ---------------------------------------------------------

AUTOCOMPLETES = [
    # (app_label, model_name, field_name): the admin whose rows it serves, and its viewer
    ("players", "player", "brand", "officer", lambda w: [w.brand_a]),
    ("tenants", "brand", "operator", "officer", lambda w: [w.operator_a]),
    ("players", "playertoken", "player", "officer", lambda w: [w.player_a]),
    ("core", "eventdelivery", "event", "officer", lambda w: [w.event_a]),
    (
        "auditlog",
        "logentry",
        "actor",
        "operator_admin",
        lambda w: sorted([w.staff_a, *w.viewers.values()], key=lambda s: s.username),
    ),
]


@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name", "viewer", "expected"),
    AUTOCOMPLETES,
    ids=[f"{a[0]}.{a[1]}.{a[2]}" for a in AUTOCOMPLETES],
)
def test_autocomplete_serves_only_the_viewers_tenant(
    app_label, model_name, field_name, viewer, expected, world, admin_as
):
    client = admin_as(world.viewers[viewer])
    params = {"app_label": app_label, "model_name": model_name, "field_name": field_name}

    everything = client.get("/admin/autocomplete/", {**params, "term": ""})
    searched = client.get("/admin/autocomplete/", {**params, "term": LEAK})

    assert everything.status_code == 200
    assert everything.json() == {
        "results": [{"id": str(obj.pk), "text": str(obj)} for obj in expected(world)],
        "pagination": {"more": False},
    }
    assert searched.status_code == 200
    assert searched.json() == {"results": [], "pagination": {"more": False}}


def test_autocomplete_is_refused_without_view_permission(world, staff_of, admin_as):
    # A Payments reviewer may not view events at all
    reviewer = staff_of(world.operator_a, "Payments reviewer", brands=[world.brand_a])
    response = admin_as(reviewer).get(
        "/admin/autocomplete/",
        {"app_label": "core", "model_name": "eventdelivery", "field_name": "event", "term": ""},
    )
    assert response.status_code == 403


# --- the CSV export ------------------------------------------------------------------


def _csv_usernames(response) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    return [row["username"] for row in rows]


def test_export_of_all_rows_holds_only_the_viewers_players(world, admin_as):
    response = admin_as(world.viewers["officer"], reauthenticated=True).post(
        "/admin/players/player/",
        {"action": "export_csv", "select_across": "1", "index": "0", "_selected_action": [world.player_a.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _csv_usernames(response) == ["alpha-player"]
    assert LEAK not in response.content.decode().lower()


def test_export_of_the_other_tenants_ids_is_empty(world, admin_as):
    response = admin_as(world.viewers["officer"], reauthenticated=True).post(
        "/admin/players/player/",
        {"action": "export_csv", "index": "0", "_selected_action": [world.player_b.pk]},
    )

    assert response.status_code == 200
    assert _csv_usernames(response) == []
    assert Event.objects.filter(type="players.exported").count() == 0
