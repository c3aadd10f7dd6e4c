"""The scoping selectors every list goes through, and the action-level check user_can."""

import random

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from guardian.shortcuts import assign_perm, remove_perm

from apps.core.request_cache import request_cache_close, request_cache_open
from apps.players.selectors import player_get, players_visible_to
from apps.tenants.models import Brand
from apps.tenants.permissions import user_can
from apps.tenants.selectors import (
    _brand_ids_granted,
    _brands_granted,
    brand_get,
    brand_ids_visible_to,
    brands_visible_to,
    operators_administered_by,
    operators_visible_to,
    staff_visible_to,
)
from tests.factories import BrandFactory, PlayerFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(brand, sister_brand, other_brand):
    """Operator A (brand A, brand A2), operator B (brand B), one player per brand."""
    return {
        "A": brand,
        "A2": sister_brand,
        "B": other_brand,
        "players": {
            "A": PlayerFactory(brand=brand),
            "A2": PlayerFactory(brand=sister_brand),
            "B": PlayerFactory(brand=other_brand),
        },
    }


def _global_perm(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="tenants", codename=codename)


def _user(kind: str, world, make_staff):
    """A user of the given kind; every kind that should see nothing still holds a grant."""
    a, operator_a = world["A"], world["A"].operator
    if kind == "superuser":
        return StaffUserFactory(is_superuser=True)
    if kind == "brand_grant":
        return make_staff("Compliance officer", brands=[a])
    if kind == "operator_grant":
        return make_staff("Compliance officer", operator=operator_a)
    if kind == "inactive_with_grant":
        return make_staff("Compliance officer", brands=[a], operator=operator_a, is_active=False)
    if kind == "inactive_superuser":
        return StaffUserFactory(is_superuser=True, is_active=False)
    if kind == "non_staff_with_grant":
        return make_staff("Compliance officer", brands=[a], operator=operator_a, is_staff=False)
    if kind == "global_grants_only":
        user = StaffUserFactory(role="Compliance officer", operator=operator_a)
        user.user_permissions.add(_global_perm("access_brand"), _global_perm("access_operator"))
        return user
    if kind == "no_grant":
        return StaffUserFactory(role="Compliance officer", operator=operator_a)
    raise AssertionError(kind)


VISIBILITY = [
    ("superuser", {"A", "A2", "B"}),
    ("brand_grant", {"A"}),
    ("operator_grant", {"A", "A2"}),
    ("inactive_with_grant", set()),
    ("inactive_superuser", set()),
    ("non_staff_with_grant", set()),
    ("global_grants_only", set()),
    ("no_grant", set()),
]


@pytest.mark.parametrize(("kind", "expected"), VISIBILITY)
def test_brands_visible_to(kind, expected, world, make_staff):
    # Given a user of this kind
    user = _user(kind, world, make_staff)
    # When the brands visible to them are listed
    visible = set(brands_visible_to(user))
    # Then exactly the expected brands are
    assert visible == {world[k] for k in expected}


@pytest.mark.parametrize(("kind", "expected"), VISIBILITY)
def test_players_visible_to(kind, expected, world, make_staff):
    user = _user(kind, world, make_staff)
    visible = set(players_visible_to(user))
    assert visible == {world["players"][k] for k in expected}


@pytest.mark.parametrize(("kind", "expected"), VISIBILITY)
def test_single_object_getters_follow_the_same_scoping(kind, expected, world, make_staff):
    user = _user(kind, world, make_staff)
    for key in ("A", "A2", "B"):
        assert (brand_get(user=user, brand_id=world[key].pk) == world[key]) is (key in expected)
        player = world["players"][key]
        assert (player_get(user=user, player_id=player.pk) == player) is (key in expected)


def test_anonymous_user_sees_nothing(world):
    anonymous = AnonymousUser()
    assert list(brands_visible_to(anonymous)) == []
    assert list(players_visible_to(anonymous)) == []
    assert list(operators_visible_to(anonymous)) == []
    assert list(staff_visible_to(anonymous)) == []


def test_operator_grant_includes_brands_created_later(world, make_staff):
    # Given a staff user with access to operator A
    user = make_staff("Compliance officer", operator=world["A"].operator)
    assert set(brands_visible_to(user)) == {world["A"], world["A2"]}
    # When operator A opens a new brand, and operator B one too
    later = BrandFactory(operator=world["A"].operator, code="brand-a3")
    BrandFactory(operator=world["B"].operator, code="brand-b2")
    player = PlayerFactory(brand=later)
    # Then the new brand of operator A (and its players) is visible, operator B's is not
    assert set(brands_visible_to(user)) == {world["A"], world["A2"], later}
    assert player in set(players_visible_to(user))


def test_revoked_brand_grant_hides_the_brand_at_once(world, make_staff):
    user = make_staff("Compliance officer", brands=[world["A"], world["A2"]])
    remove_perm("tenants.access_brand", user, world["A2"])
    assert set(brands_visible_to(user)) == {world["A"]}


def test_brand_grant_on_another_operators_brand_does_not_open_its_operator(world, make_staff):
    # Given a staff user with a direct grant on brand A only
    user = make_staff("Compliance officer", brands=[world["A"]])
    # Then they see operator A (through its brand) but administer no operator
    assert list(operators_visible_to(user)) == [world["A"].operator]
    assert list(operators_administered_by(user)) == []
    assert list(staff_visible_to(user)) == []


def test_staff_visible_to(world, make_staff, superuser):
    operator_a, operator_b = world["A"].operator, world["B"].operator
    admin_a = make_staff("Operator admin", operator=operator_a)
    colleague = make_staff("Support agent", brands=[world["A"]])
    foreign = make_staff("Support agent", brands=[world["B"]])
    platform = StaffUserFactory(operator=None)

    assert set(staff_visible_to(admin_a)) == {admin_a, colleague}
    assert set(staff_visible_to(superuser)) == {admin_a, colleague, foreign, platform, superuser}
    # A brand grant on the operator's brand is not administration of its staff.
    assert list(staff_visible_to(colleague)) == []
    assert operator_b not in set(operators_administered_by(admin_a))


# --- user_can: what (role permission) and where (visible brand) must both hold ---------


@pytest.mark.parametrize(
    ("role", "grant", "perm", "target", "expected"),
    [
        # the role holds the permission, the brand is theirs
        ("Compliance officer", "brand", "players.change_player_status", "A", True),
        # the role holds it, the brand is not theirs
        ("Compliance officer", "brand", "players.change_player_status", "A2", False),
        ("Compliance officer", "brand", "players.change_player_status", "B", False),
        # an operator grant covers every brand of the operator, no other
        ("Compliance officer", "operator", "players.change_player_status", "A2", True),
        ("Compliance officer", "operator", "players.change_player_status", "B", False),
        # the brand is theirs, the role does not hold the permission
        ("Payments reviewer", "brand", "players.change_player_status", "A", False),
        ("Payments reviewer", "brand", "players.view_personal_data", "A", False),
        ("Support agent", "brand", "players.view_personal_data", "A", True),
        ("Auditor", "operator", "players.view_personal_data", "A2", True),
        ("Auditor", "operator", "players.change_player", "A", False),
        # no role at all
        (None, "brand", "players.view_player", "A", False),
        # a role, but no brand
        ("Compliance officer", None, "players.view_player", "A", False),
    ],
)
def test_user_can_matrix(role, grant, perm, target, expected, world, make_staff):
    a = world["A"]
    if grant == "brand":
        user = make_staff(role, brands=[a])
    elif grant == "operator":
        user = make_staff(role, operator=a.operator)
    else:
        user = StaffUserFactory(role=role, operator=a.operator)
    assert user_can(user, perm, brand_id=world[target].pk) is expected


def test_user_can_superuser_everywhere_but_not_when_inactive(world, superuser):
    assert user_can(superuser, "players.change_player_status", brand_id=world["B"].pk) is True
    superuser.is_active = False
    superuser.save()
    assert user_can(superuser, "players.change_player_status", brand_id=world["B"].pk) is False


def test_user_can_refuses_inactive_anonymous_and_unknown_brand(world, make_staff):
    user = make_staff("Compliance officer", brands=[world["A"]])
    missing_brand_id = Brand.objects.order_by("-pk").first().pk + 1000
    assert user_can(user, "players.view_player", brand_id=missing_brand_id) is False
    assert user_can(AnonymousUser(), "players.view_player", brand_id=world["A"].pk) is False
    user.is_active = False
    user.save()
    assert user_can(user, "players.view_player", brand_id=world["A"].pk) is False


def test_user_can_with_a_direct_permission_still_needs_the_brand(world, make_staff):
    # Given a user with no role but the permission given directly, and brand A
    user = make_staff(None, brands=[world["A"]])
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="players", codename="change_player_status")
    )
    # Then it works on brand A only
    assert user_can(user, "players.change_player_status", brand_id=world["A"].pk) is True
    assert user_can(user, "players.change_player_status", brand_id=world["B"].pk) is False


def test_object_permission_on_a_player_is_not_an_action_permission(world, make_staff):
    # An object-level grant of an action permission (instead of a role) does not count:
    # user_can asks for the global (role) permission, and the brand.
    user = make_staff(None, brands=[world["A"]])
    assign_perm("players.change_player_status", user, world["players"]["A"])
    assert user_can(user, "players.change_player_status", brand_id=world["A"].pk) is False


# --- the brand ids a request reads: one statement, held equal to guardian's querysets ------------


def _granted_by_guardian(user) -> list[int]:
    return list(_brands_granted(user).order_by("pk").values_list("pk", flat=True))


def _in_a_request(read):
    token = request_cache_open()
    try:
        return read()
    finally:
        request_cache_close(token)


@pytest.mark.parametrize("seed", range(12))
def test_the_requests_brand_statement_equals_guardians_grants(seed, world, make_staff):
    # Given random grants: people and groups holding brands and operators, people in groups
    rng = random.Random(seed)
    operators = [world["A"].operator, world["B"].operator]
    brands = [world["A"], world["A2"], world["B"], BrandFactory(operator=operators[1], code=f"brand-b{seed}")]
    groups = [Group.objects.create(name=f"desk-{seed}-{i}") for i in range(3)]
    people = [make_staff("Support agent") for _ in range(5)]
    for holder in [*people, *groups]:
        for target in rng.sample(brands, rng.randint(0, 2)):
            assign_perm("tenants.access_brand", holder, target)
        for target in rng.sample(operators, rng.randint(0, 1)):
            assign_perm("tenants.access_operator", holder, target)
    for person in people:
        person.groups.add(*rng.sample(groups, rng.randint(0, 2)))
    # A grant of another permission on a brand opens nothing
    assign_perm("tenants.view_brand", people[0], world["B"])
    for person in people:
        # When a request reads the brands the person sees
        in_request = _in_a_request(lambda person=person: brand_ids_visible_to(person))
        # Then they are exactly what guardian's querysets grant, in order
        assert in_request == _brand_ids_granted(person) == _granted_by_guardian(person)


def test_a_groups_grants_open_brands_to_its_members_until_they_leave(world, make_staff):
    # Given a desk (group) holding brand B, and operator A
    desk = Group.objects.create(name="night desk")
    assign_perm("tenants.access_brand", desk, world["B"])
    assign_perm("tenants.access_operator", desk, world["A"].operator)
    person = make_staff("Support agent")
    assert _in_a_request(lambda: brand_ids_visible_to(person)) == []
    # When the person joins the desk, then every brand it holds is theirs
    person.groups.add(desk)
    everything = sorted(b.pk for b in (world["A"], world["A2"], world["B"]))
    assert _in_a_request(lambda: brand_ids_visible_to(person)) == everything
    # And when they leave, none is
    person.groups.remove(desk)
    assert _in_a_request(lambda: brand_ids_visible_to(person)) == []
