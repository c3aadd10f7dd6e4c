"""staff_brands_set and the operator grants: who may give whom access to which brand."""

import pytest

from apps.core.models import Event
from apps.tenants.exceptions import AccessDenied
from apps.tenants.selectors import brand_ids_granted_to, brands_visible_to
from apps.tenants.services import operator_access_grant, operator_access_revoke, staff_brands_set
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

EVENT_TYPE = "tenants.staff_access_changed"


def _access_events() -> list[dict]:
    return [
        {**e.payload, "actor": e.actor, "event_brand_id": e.brand_id}
        for e in Event.objects.filter(type=EVENT_TYPE).order_by("id")
    ]


@pytest.fixture
def operator_admin(make_staff, operator):
    return make_staff("Operator admin", operator=operator)


@pytest.fixture
def colleague(staff_of, operator):
    """Staff of operator A with no brand yet."""
    return staff_of(operator, "Support agent")


def test_grants_exactly_the_wanted_brands_and_announces_each(operator_admin, colleague, brand, sister_brand):
    # Given a colleague with no brand access
    assert brand_ids_granted_to(colleague) == set()
    # When the operator admin sets brands A and A2
    granted, revoked = staff_brands_set(actor=operator_admin, staff=colleague, brands=[brand, sister_brand])
    # Then both are granted, nothing revoked, one event per grant
    assert (granted, revoked) == ({brand.pk, sister_brand.pk}, set())
    assert brand_ids_granted_to(colleague) == {brand.pk, sister_brand.pk}
    assert set(brands_visible_to(colleague)) == {brand, sister_brand}
    expected = [
        {
            "staff_user_id": colleague.pk,
            "scope": "brand",
            "scope_id": pk,
            "granted": True,
            "brand_id": pk,
            "actor": f"staff:{operator_admin.pk}",
            "event_brand_id": pk,
        }
        for pk in sorted([brand.pk, sister_brand.pk])
    ]
    assert _access_events() == expected


def test_revokes_exactly_what_is_no_longer_wanted(operator_admin, make_staff, operator, brand, sister_brand):
    colleague = make_staff("Support agent", brands=[brand, sister_brand])

    granted, revoked = staff_brands_set(actor=operator_admin, staff=colleague, brands=[brand])

    assert (granted, revoked) == (set(), {sister_brand.pk})
    assert brand_ids_granted_to(colleague) == {brand.pk}
    assert [(e["scope_id"], e["granted"]) for e in _access_events()] == [(sister_brand.pk, False)]


def test_setting_the_same_brands_again_changes_nothing(operator_admin, make_staff, brand):
    colleague = make_staff("Support agent", brands=[brand])

    assert staff_brands_set(actor=operator_admin, staff=colleague, brands=[brand]) == (set(), set())

    assert brand_ids_granted_to(colleague) == {brand.pk}
    assert _access_events() == []


def test_grants_outside_the_actors_view_are_left_as_they_are(
    operator_admin, make_staff, brand, sister_brand, other_brand
):
    # Given a colleague of operator A who also has brand B (granted by the platform)
    colleague = make_staff("Support agent", brands=[brand, other_brand])
    assert colleague.operator == brand.operator
    # When operator A's admin sets their brands to A2 only
    granted, revoked = staff_brands_set(actor=operator_admin, staff=colleague, brands=[sister_brand])
    # Then A is swapped for A2 and the brand B grant, invisible to the actor, stays
    assert (granted, revoked) == ({sister_brand.pk}, {brand.pk})
    assert brand_ids_granted_to(colleague) == {sister_brand.pk, other_brand.pk}


@pytest.fixture
def refusal_case(request, make_staff, operator, other_operator, brand, other_brand, superuser):
    """(actor, staff, brands, message) for each way a change must be refused."""
    operator_admin = make_staff("Operator admin", operator=operator)
    colleague = make_staff("Support agent", brands=[brand])
    cases = {
        "actor_without_manage_staff_access": (
            make_staff("Brand admin", brands=[brand]),
            colleague,
            [],
            "You may not change staff access.",
        ),
        "inactive_operator_admin": (
            make_staff("Operator admin", operator=operator, is_active=False),
            colleague,
            [],
            "You may not change staff access.",
        ),
        "brand_outside_the_actors_view": (
            operator_admin,
            colleague,
            [brand, other_brand],
            "You may only grant access to brands you can access yourself.",
        ),
        "staff_of_another_operator": (
            operator_admin,
            make_staff("Support agent", brands=[other_brand]),
            [brand],
            "You may only change access of your own operator's staff.",
        ),
        "platform_staff_without_operator": (
            operator_admin,
            StaffUserFactory(operator=None),
            [brand],
            "You may only change access of your own operator's staff.",
        ),
        "superuser_target": (
            operator_admin,
            StaffUserFactory(is_superuser=True, operator=operator),
            [brand],
            "Only a superuser may change a superuser's access.",
        ),
    }
    return cases[request.param]


@pytest.mark.parametrize(
    "refusal_case",
    [
        "actor_without_manage_staff_access",
        "inactive_operator_admin",
        "brand_outside_the_actors_view",
        "staff_of_another_operator",
        "platform_staff_without_operator",
        "superuser_target",
    ],
    indirect=True,
)
def test_refused_changes_change_nothing(refusal_case):
    actor, staff, brands, message = refusal_case
    before = brand_ids_granted_to(staff)

    with pytest.raises(AccessDenied) as excinfo:
        staff_brands_set(actor=actor, staff=staff, brands=brands)

    assert excinfo.value.message == message
    assert excinfo.value.code == "access_denied"
    assert brand_ids_granted_to(staff) == before
    assert _access_events() == []


def test_superuser_may_grant_any_brand_to_anyone(superuser, brand, other_brand):
    platform = StaffUserFactory(operator=None)

    granted, revoked = staff_brands_set(actor=superuser, staff=platform, brands=[brand, other_brand])

    assert (granted, revoked) == ({brand.pk, other_brand.pk}, set())
    assert set(brands_visible_to(platform)) == {brand, other_brand}


# --- operator-wide grants ------------------------------------------------------------


def test_operator_access_grant_and_revoke(operator_admin, colleague, operator, brand, sister_brand):

    operator_access_grant(actor=operator_admin, staff=colleague, operator=operator)
    assert set(brands_visible_to(colleague)) == {brand, sister_brand}

    operator_access_revoke(actor=operator_admin, staff=colleague, operator=operator)
    assert list(brands_visible_to(colleague)) == []
    assert [(e["scope"], e["scope_id"], e["granted"]) for e in _access_events()] == [
        ("operator", operator.pk, True),
        ("operator", operator.pk, False),
    ]


def test_operator_access_grant_refuses_an_operator_the_actor_does_not_administer(
    operator_admin, colleague, other_operator
):

    with pytest.raises(AccessDenied) as excinfo:
        operator_access_grant(actor=operator_admin, staff=colleague, operator=other_operator)

    assert excinfo.value.message == "You may only grant operator access to operators you administer."
    assert list(brands_visible_to(colleague)) == []
    assert _access_events() == []
