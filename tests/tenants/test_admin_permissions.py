"""Who may do what in the admin, per role: a matrix of three users for each action.

"with": staff of brand A whose role holds the permission; "without": staff of brand A
whose role does not; "other": staff of brand B whose role holds it. The target is always
a player (or the brand) of brand A.
"""

import csv
import io

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore

from apps.core.models import Event
from apps.players.masking import MASK
from apps.players.models import Player
from apps.tenants.models import Brand

pytestmark = pytest.mark.django_db

PLAYERS_URL = "/admin/players/player/"
HIDDEN_NOTE = "Hidden: you do not hold the permission to view personal data."


@pytest.fixture
def exporter_group(roles):
    """Not a role of roles.py: export without personal data, to test the masking of the CSV."""
    group = Group.objects.create(name="Exporter (test)")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="players", codename__in=["view_player", "export_players"]
        )
    )
    return group


@pytest.fixture
def user_as(make_staff, staff_of, brand, other_brand, exporter_group):
    """user_as(role, where): where is "A" (brand A) or "B" (brand B); role None: no role."""

    def make(role, where="A"):
        target = brand if where == "A" else other_brand
        if role == "Exporter (test)":
            user = make_staff(None, brands=[target])
            user.groups.add(exporter_group)
            return user
        if role is None:
            return staff_of(target.operator, None, brands=[target])
        return make_staff(role, brands=[target])

    return make


def _usernames(response) -> list[str]:
    return [p.username for p in response.context["cl"].result_list]


def _offered_actions(response) -> set[str]:
    action_form = response.context["action_form"]  # None when no action is offered at all
    return {name for name, _ in action_form.fields["action"].choices if name} if action_form else set()


def _status_events() -> int:
    return Event.objects.filter(type="players.status_changed").count()


# --- view the player list ------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "where", "status", "listed"),
    [
        ("Payments reviewer", "A", 200, ["alpha-player"]),  # with
        (None, "A", 403, None),  # without (no role: no players.view_player)
        ("Payments reviewer", "B", 200, ["bravo-player"]),  # other brand
    ],
    ids=["with", "without", "other"],
)
def test_view_player_list(role, where, status, listed, user_as, player_a, player_b, admin_as):
    response = admin_as(user_as(role, where)).get(PLAYERS_URL)

    assert response.status_code == status
    if listed is not None:
        assert _usernames(response) == listed


def test_view_player_page(user_as, player_a, admin_as):
    url = f"{PLAYERS_URL}{player_a.pk}/change/"
    assert admin_as(user_as("Payments reviewer", "A")).get(url).status_code == 200
    assert admin_as(user_as(None, "A")).get(url).status_code == 403
    other = admin_as(user_as("Payments reviewer", "B")).get(url)
    assert (other.status_code, other["Location"]) == (302, "/admin/")


# --- personal data: shown or masked -------------------------------------------------


def _personal_values(player: Player) -> list[str]:
    return [player.email, player.national_id, player.last_name, player.mobile]


@pytest.mark.parametrize(
    ("role", "shown"),
    [("Compliance officer", True), ("Support agent", True), ("Auditor", True), ("Payments reviewer", False)],
)
def test_personal_data_on_the_player_list(role, shown, user_as, player_a, admin_as):
    response = admin_as(user_as(role, "A")).get(PLAYERS_URL)

    html = response.content.decode()
    assert _usernames(response) == ["alpha-player"]
    assert ("alpha.secret@example.com" in html) is shown
    assert (f'<td class="field-email_display">{MASK}</td>' in html) is not shown


@pytest.mark.parametrize(
    ("role", "shown"),
    [("Compliance officer", True), ("Auditor", True), ("Payments reviewer", False), ("Brand admin", False)],
)
def test_personal_data_on_the_player_page(role, shown, user_as, player_a, admin_as):
    response = admin_as(user_as(role, "A")).get(f"{PLAYERS_URL}{player_a.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    for value in _personal_values(player_a):
        assert (value in html) is shown, value
    assert (HIDDEN_NOTE in html) is not shown
    assert "alpha-player" in html


def test_personal_data_of_another_brand_is_not_shown_even_with_the_permission(user_as, player_a, admin_as):
    client = admin_as(user_as("Compliance officer", "B"))

    listing = client.get(PLAYERS_URL)
    page = client.get(f"{PLAYERS_URL}{player_a.pk}/change/")

    assert "alpha.secret@example.com" not in listing.content.decode()
    assert (page.status_code, page["Location"]) == (302, "/admin/")


@pytest.mark.parametrize(
    "term", ["alpha.secret@example.com", "AB123456C", "+447400999999", "Lastname-unique"], ids=lambda t: t[:8]
)
def test_search_by_personal_data_needs_the_permission(term, user_as, player_a, admin_as):
    # Support agents may search by email, name, national id or mobile; Payments reviewers may not
    Player.objects.filter(pk=player_a.pk).update(last_name="Lastname-unique", mobile="+447400999999")

    with_perm = admin_as(user_as("Support agent", "A")).get(PLAYERS_URL, {"q": term})
    without = admin_as(user_as("Payments reviewer", "A")).get(PLAYERS_URL, {"q": term})

    assert _usernames(with_perm) == ["alpha-player"]
    assert _usernames(without) == []


@pytest.mark.parametrize(
    "lookup",
    [
        "email=alpha.secret@example.com",
        "email__startswith=alpha",
        "national_id=AB123456C",
        "last_name__icontains=a",
        "date_of_birth__year=1980",
        "mobile__startswith=%2B44",
    ],
)
def test_filtering_by_personal_data_needs_the_permission(lookup, user_as, player_a, admin_as):
    # A hand-written filter must not answer "is this person a player here?" either.
    with_perm = admin_as(user_as("Compliance officer", "A")).get(f"{PLAYERS_URL}?{lookup}")
    without = admin_as(user_as("Payments reviewer", "A")).get(f"{PLAYERS_URL}?{lookup}")

    assert with_perm.status_code == 200
    assert _usernames(with_perm) == ["alpha-player"]
    assert without.status_code == 400
    assert "alpha-player" not in without.content.decode()


def _request(rf, user):
    request = rf.get(PLAYERS_URL)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_masking_is_decided_per_request_not_per_admin_instance(rf, user_as, player_a):
    """The admin instance is shared; a request rendered after another one started (ASGI
    interleaves view and render, threads run side by side) keeps its own user's mask."""
    model_admin = admin.site.get_model_admin(Player)
    reviewer, officer = user_as("Payments reviewer", "A"), user_as("Compliance officer", "A")
    # Given the reviewer's changelist has been built but not yet rendered
    reviewers_page = model_admin.changelist_view(_request(rf, reviewer))
    # When the officer's changelist is handled meanwhile
    officers_page = model_admin.changelist_view(_request(rf, officer)).render()
    reviewers_page.render()
    # Then each page shows what its own user may see
    assert "alpha.secret@example.com" in officers_page.content.decode()
    assert "alpha.secret@example.com" not in reviewers_page.content.decode()


# --- status actions ----------------------------------------------------------------------

TRANSITIONS = [
    ("suspend", Player.Status.ACTIVE, Player.Status.SUSPENDED),
    ("reactivate", Player.Status.SUSPENDED, Player.Status.ACTIVE),
    ("close", Player.Status.ACTIVE, Player.Status.CLOSED),
]


def _post_action(client, action: str, player_ids, **extra):
    return client.post(
        PLAYERS_URL, {"action": action, "index": "0", "_selected_action": list(player_ids), **extra}
    )


@pytest.mark.parametrize(("action", "before", "after"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
def test_status_action_with_the_permission(
    action, before, after, user_as, player_a, admin_as, admin_messages
):
    Player.objects.filter(pk=player_a.pk).update(status=before)
    client = admin_as(user_as("Compliance officer", "A"))

    response = _post_action(client, action, [player_a.pk], reason="Source of funds review")

    assert (response.status_code, response["Location"]) == (302, PLAYERS_URL)
    assert admin_messages(response) == [f"1 player(s): {action} done."]
    player_a.refresh_from_db()
    assert (player_a.status, player_a.status_reason) == (after, "Source of funds review")
    event = Event.objects.get(type="players.status_changed")
    assert (event.brand_id, event.player_id, event.payload["new_status"]) == (
        player_a.brand_id,
        player_a.pk,
        after,
    )


@pytest.mark.parametrize(("action", "before", "after"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
@pytest.mark.parametrize(
    ("role", "where"),
    [("Support agent", "A"), ("Compliance officer", "B")],
    ids=["without", "other"],
)
def test_status_action_refused(
    action, before, after, role, where, user_as, player_a, admin_as, admin_messages
):
    Player.objects.filter(pk=player_a.pk).update(status=before, status_reason="")
    client = admin_as(user_as(role, where))

    response = _post_action(client, action, [player_a.pk], reason="Source of funds review")

    if where == "A":
        # the action is not offered to this role: the list is shown again, nothing done
        assert response.status_code == 200
        assert action not in _offered_actions(response)
    else:
        # the action exists, but the player is not in this user's list: nothing selected
        assert (response.status_code, response["Location"]) == (302, PLAYERS_URL)
        assert admin_messages(response) == []
    player_a.refresh_from_db()
    assert (player_a.status, player_a.status_reason) == (before, "")
    assert _status_events() == 0


@pytest.mark.parametrize(
    ("action", "before", "reason"),
    [(action, before, "") for action, before, _ in TRANSITIONS] + [("suspend", Player.Status.ACTIVE, "   ")],
    ids=["suspend", "reactivate", "close", "suspend-blank"],
)
def test_status_action_without_a_reason_is_refused(
    action, before, reason, user_as, player_a, admin_as, admin_messages
):
    Player.objects.filter(pk=player_a.pk).update(status=before)
    client = admin_as(user_as("Compliance officer", "A"))

    response = _post_action(client, action, [player_a.pk], reason=reason)

    assert (response.status_code, response["Location"]) == (302, PLAYERS_URL)
    assert admin_messages(response) == ["alpha-player: A reason is required."]
    player_a.refresh_from_db()
    assert player_a.status == before
    assert _status_events() == 0


def test_status_action_over_a_mixed_selection_touches_only_the_users_brand(
    user_as, player_a, player_b, admin_as, admin_messages
):
    client = admin_as(user_as("Compliance officer", "A"))

    response = _post_action(client, "suspend", [player_a.pk, player_b.pk], reason="Review")

    assert admin_messages(response) == ["1 player(s): suspend done."]
    player_a.refresh_from_db()
    player_b.refresh_from_db()
    assert (player_a.status, player_b.status) == (Player.Status.SUSPENDED, Player.Status.ACTIVE)


# --- CSV export --------------------------------------------------------------------------


def _csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("role", "where", "rows"),
    [
        (
            "Compliance officer",
            "A",
            [{"username": "alpha-player", "email": "alpha.secret@example.com", "national_id": "AB123456C"}],
        ),
        ("Exporter (test)", "A", [{"username": "alpha-player", "email": MASK, "national_id": MASK}]),
        ("Compliance officer", "B", []),
    ],
    ids=["with:personal-data", "with:masked", "other"],
)
def test_export_csv(role, where, rows, user_as, player_a, admin_as):
    client = admin_as(user_as(role, where), reauthenticated=True)

    response = _post_action(client, "export_csv", [player_a.pk])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="players-')
    exported = _csv_rows(response)
    assert [{k: row[k] for k in ("username", "email", "national_id")} for row in exported] == rows
    if rows and rows[0]["email"] == MASK:
        body = response.content.decode()
        for value in _personal_values(player_a):
            assert value not in body
        assert all(
            exported[0][name] == MASK for name in ("first_name", "last_name", "mobile", "date_of_birth")
        )
    events = Event.objects.filter(type="players.exported")
    assert [(e.brand_id, e.payload["with_personal_data"]) for e in events] == (
        [(player_a.brand_id, rows[0]["email"] != MASK)] if rows else []
    )


@pytest.mark.parametrize("role", ["Payments reviewer", "Support agent", "Auditor"])
def test_export_csv_refused_without_the_permission(role, user_as, player_a, admin_as):
    client = admin_as(user_as(role, "A"))

    response = _post_action(client, "export_csv", [player_a.pk])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "export_csv" not in _offered_actions(response)
    assert Event.objects.filter(type="players.exported").count() == 0


# --- changing a brand --------------------------------------------------------------------


@pytest.fixture
def brand_snapshot():
    def snapshot(brand: Brand) -> dict:
        brand.refresh_from_db()
        return {
            "name": brand.name,
            "code": brand.code,
            "jurisdiction": brand.jurisdiction,
            "operator": brand.operator_id,
            "active": brand.active,
            "currencies": sorted(brand.currencies.values_list("code", flat=True)),
        }

    return snapshot


def test_brand_admin_changes_their_brand_but_not_its_identity(
    user_as, brand, other_brand, admin_as, admin_form_data, brand_snapshot
):
    client = admin_as(user_as("Brand admin", "A"))
    url = f"/admin/tenants/brand/{brand.pk}/change/"
    page = client.get(url)
    # The form edits name, currencies, default currency and active; the rest is read-only
    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields) == {"name", "currencies", "default_currency", "active"}
    before = brand_snapshot(brand)

    response = client.post(
        url,
        admin_form_data(
            page,
            name="Brand A renamed",
            code="hijacked",
            jurisdiction="MT",
            operator=other_brand.operator_id,
        ),
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/tenants/brand/")
    assert brand_snapshot(brand) == {**before, "name": "Brand A renamed"}


def test_brand_change_refused_without_the_permission(
    user_as, brand, admin_as, admin_form_data, brand_snapshot
):
    client = admin_as(user_as("Compliance officer", "A"))
    url = f"/admin/tenants/brand/{brand.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200  # view only
    assert page.context["has_change_permission"] is False
    before = brand_snapshot(brand)

    response = client.post(url, {"name": "Brand A renamed", "active": "on", "default_currency": "GBP"})

    assert response.status_code == 403
    assert brand_snapshot(brand) == before


def test_brand_change_of_another_brand_is_refused(user_as, brand, admin_as, brand_snapshot):
    client = admin_as(user_as("Brand admin", "B"))
    url = f"/admin/tenants/brand/{brand.pk}/change/"
    before = brand_snapshot(brand)

    page = client.get(url)
    response = client.post(
        url, {"name": "Brand A renamed", "currencies": ["GBP"], "default_currency": "GBP", "active": "on"}
    )

    assert (page.status_code, page["Location"]) == (302, "/admin/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert brand_snapshot(brand) == before


def test_brand_admin_cannot_add_or_delete_brands(user_as, brand, admin_as):
    client = admin_as(user_as("Brand admin", "A"))

    assert client.get("/admin/tenants/brand/add/").status_code == 403
    assert client.post(f"/admin/tenants/brand/{brand.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Brand.objects.filter(pk=brand.pk).exists()


def test_operator_admin_adds_a_brand_to_their_own_operator_only(
    make_staff, operator, other_operator, admin_as, admin_form_data
):
    client = admin_as(make_staff("Operator admin", operator=operator))
    page = client.get("/admin/tenants/brand/add/")
    assert list(page.context["adminform"].form.fields["operator"].queryset) == [operator]
    data = {
        "code": "brand-a3",
        "name": "Brand A3",
        "jurisdiction": "DE",
        "currencies": ["EUR"],
        "default_currency": "EUR",
        "active": "on",
    }

    refused = client.post("/admin/tenants/brand/add/", {**data, "operator": other_operator.pk})
    added = client.post("/admin/tenants/brand/add/", {**data, "operator": operator.pk})

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["operator"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert added.status_code == 302
    new_brand = Brand.objects.get(code="brand-a3")
    assert new_brand.operator == operator
    # and it is theirs at once, through the operator grant
    assert client.get(f"/admin/tenants/brand/{new_brand.pk}/change/").status_code == 200


# --- personal data in the audit log ------------------------------------------------------


@pytest.mark.parametrize("role", ["Compliance officer", "Auditor", "Brand admin", "Operator admin"])
def test_audit_rows_never_hold_personal_data(role, user_as, player_a, admin_as):
    # Given the audit row of player A's creation
    entry = LogEntry.objects.get_for_object(player_a).get()
    client = admin_as(user_as(role, "A"))
    # When staff who may read the audit log open it and search it for the player's email
    page = client.get(f"/admin/auditlog/logentry/{entry.pk}/change/")
    searched = client.get("/admin/auditlog/logentry/", {"q": "alpha.secret@example.com"})
    # Then the row says which personal data was set, never the values, whoever looks
    assert page.status_code == 200
    html = page.content.decode()
    for value in [player_a.email, player_a.last_name, player_a.national_id[-4:]]:
        assert value not in html, value
    assert entry.changes["email"] == ["None", MASK]
    assert entry.changes["national_id"] == ["None", MASK]
    assert entry.changes["username"] == ["None", "alpha-player"]
    assert [e.pk for e in searched.context["cl"].result_list] == []


def test_audit_rows_without_personal_data_keep_their_changes(user_as, brand, admin_as):
    entry = LogEntry.objects.get_for_object(brand).filter(action=LogEntry.Action.CREATE).get()

    page = admin_as(user_as("Brand admin", "A")).get(f"/admin/auditlog/logentry/{entry.pk}/change/")

    assert brand.name in page.content.decode()
    assert HIDDEN_NOTE not in page.content.decode()
