"""Staff management in the admin by an Operator admin: their own staff, their own brands,
roles only; never superusers, superuser status or direct permissions."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission

from apps.core.models import Event
from apps.tenants.models import StaffUser
from apps.tenants.roles import ROLES
from apps.tenants.selectors import brand_ids_granted_to
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

STAFF_URL = "/admin/tenants/staffuser/"
INVALID_CHOICE = "Select a valid choice. {} is not one of the available choices."


@pytest.fixture
def operator_admin(make_staff, operator):
    return make_staff("Operator admin", operator=operator, username="opadmin")


@pytest.fixture
def colleague(staff_of, operator, brand):
    """Operator A's support agent with brand A."""
    return staff_of(operator, "Support agent", brands=[brand], username="colleague", email="c@example.com")


@pytest.fixture
def foreigner(staff_of, other_operator, other_brand):
    return staff_of(other_operator, "Support agent", brands=[other_brand], username="foreigner")


@pytest.fixture
def opclient(operator_admin, admin_as):
    """The admin, signed in as operator A's Operator admin."""
    return admin_as(operator_admin)


def _fingerprint(user: StaffUser) -> dict:
    user.refresh_from_db()
    return {
        "username": user.username,
        "email": user.email,
        "operator": user.operator_id,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(user.user_permissions.values_list("codename", flat=True)),
        "brands": brand_ids_granted_to(user),
        "password": user.password,
    }


def _access_events() -> list[tuple[int, int, bool]]:
    return [
        (e.payload["staff_user_id"], e.payload["scope_id"], e.payload["granted"])
        for e in Event.objects.filter(type="tenants.staff_access_changed").order_by("id")
    ]


def test_staff_form_offers_only_the_admins_brands_operators_and_roles(
    opclient, colleague, brand, sister_brand, operator
):
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")

    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.fields["password"].disabled is True  # UserChangeForm's read-only hash field
    assert set(form.fields) - {"password"} == {
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_staff",
        "operator",
        "groups",
        "brands",
    }
    assert list(form.fields["brands"].queryset.order_by("pk")) == [brand, sister_brand]
    assert list(form.fields["operator"].queryset) == [operator]
    assert sorted(g.name for g in form.fields["groups"].queryset) == sorted(ROLES)
    assert form["brands"].initial == [brand]


def test_grants_and_revokes_brands_the_admin_can_see(
    opclient, colleague, brand, sister_brand, admin_form_data, admin_messages
):
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")

    response = opclient.post(
        f"{STAFF_URL}{colleague.pk}/change/", admin_form_data(page, brands=[sister_brand.pk])
    )

    assert (response.status_code, response["Location"]) == (302, STAFF_URL)
    assert "Brand access: 1 granted, 1 revoked." in admin_messages(response)
    assert brand_ids_granted_to(colleague) == {sister_brand.pk}
    assert _access_events() == [(colleague.pk, sister_brand.pk, True), (colleague.pk, brand.pk, False)]


def test_cannot_grant_a_brand_the_admin_cannot_see(opclient, colleague, brand, other_brand, admin_form_data):
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")
    before = _fingerprint(colleague)

    response = opclient.post(
        f"{STAFF_URL}{colleague.pk}/change/", admin_form_data(page, brands=[brand.pk, other_brand.pk])
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["brands"] == [INVALID_CHOICE.format(other_brand.pk)]
    assert _fingerprint(colleague) == before
    assert _access_events() == []


def test_keeps_grants_outside_the_admins_view(
    opclient, staff_of, operator, brand, other_brand, admin_form_data
):
    # A colleague of operator A who also holds brand B (given by the platform)
    colleague = staff_of(operator, "Support agent", brands=[brand, other_brand])
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")
    assert page.context["adminform"].form["brands"].initial == [brand]

    opclient.post(f"{STAFF_URL}{colleague.pk}/change/", admin_form_data(page, brands=[]))

    assert brand_ids_granted_to(colleague) == {other_brand.pk}


def test_other_operators_staff_are_out_of_reach(opclient, foreigner, brand, admin_form_data):
    before = _fingerprint(foreigner)
    url = f"{STAFF_URL}{foreigner.pk}/change/"

    page = opclient.get(url)
    posted = opclient.post(
        url, {"username": "foreigner", "is_active": "on", "is_staff": "on", "brands": [brand.pk]}
    )
    password = opclient.post(
        f"{STAFF_URL}{foreigner.pk}/password/", {"password1": "New-pass-12345", "password2": "New-pass-12345"}
    )

    assert (page.status_code, page["Location"]) == (302, "/admin/")
    assert (posted.status_code, posted["Location"]) == (302, "/admin/")
    assert password.status_code == 404
    assert _fingerprint(foreigner) == before
    assert _access_events() == []


def test_cannot_move_staff_to_another_operator(opclient, colleague, other_operator, admin_form_data):
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")
    before = _fingerprint(colleague)

    response = opclient.post(
        f"{STAFF_URL}{colleague.pk}/change/", admin_form_data(page, operator=other_operator.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["operator"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert _fingerprint(colleague) == before


def test_cannot_give_a_group_that_is_not_a_role(opclient, colleague, admin_form_data):
    powerful = Group.objects.create(name="Everything")
    powerful.permissions.set(Permission.objects.all())
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")
    before = _fingerprint(colleague)

    response = opclient.post(
        f"{STAFF_URL}{colleague.pk}/change/", admin_form_data(page, groups=[powerful.pk])
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["groups"] == [INVALID_CHOICE.format(powerful.pk)]
    assert _fingerprint(colleague) == before


def test_cannot_make_anyone_superuser_or_give_direct_permissions(opclient, colleague, admin_form_data):
    # Given the admin posts superuser status and a direct permission with an otherwise valid form
    page = opclient.get(f"{STAFF_URL}{colleague.pk}/change/")
    before = _fingerprint(colleague)
    everything = list(Permission.objects.values_list("pk", flat=True))

    response = opclient.post(
        f"{STAFF_URL}{colleague.pk}/change/",
        admin_form_data(page, first_name="Changed", is_superuser="on", user_permissions=everything),
    )

    # Then the allowed change is saved, and the others are ignored
    assert response.status_code == 302
    assert _fingerprint(colleague) == before
    colleague.refresh_from_db()
    assert colleague.first_name == "Changed"


@pytest.mark.parametrize("employed_by_the_operator", [True, False], ids=["operator-superuser", "platform"])
def test_cannot_edit_a_superuser(employed_by_the_operator, opclient, operator, brand, sister_brand):
    target = StaffUserFactory(is_superuser=True, operator=operator if employed_by_the_operator else None)
    before = _fingerprint(target)
    url = f"{STAFF_URL}{target.pk}/change/"

    page = opclient.get(url)
    posted = opclient.post(
        url,
        {
            "username": target.username,
            "is_active": "",
            "is_staff": "on",
            "operator": operator.pk,
            "brands": [brand.pk, sister_brand.pk],
        },
    )
    password = opclient.post(f"{url[: -len('change/')]}password/", {"password1": "x", "password2": "x"})

    if employed_by_the_operator:
        # listed (their operator's staff), but read-only
        assert page.status_code == 200
        assert page.context["has_change_permission"] is False
        assert posted.status_code == 403
        assert password.status_code == 403
    else:
        # platform staff are not the operator's: not even listed
        assert (page.status_code, page["Location"]) == (302, "/admin/")
        assert (posted.status_code, posted["Location"]) == (302, "/admin/")
        assert password.status_code == 404
    assert _fingerprint(target) == before
    assert _access_events() == []


def test_operator_admin_adds_staff_to_their_own_operator(opclient, operator, other_operator):
    page = opclient.get(f"{STAFF_URL}add/")
    assert page.status_code == 200
    assert list(page.context["adminform"].form.fields["operator"].queryset) == [operator]
    data = {
        "username": "newcomer",
        "usable_password": "true",
        "password1": "Fresh-pass-2026!",
        "password2": "Fresh-pass-2026!",
    }

    refused_other = opclient.post(f"{STAFF_URL}add/", {**data, "operator": other_operator.pk})
    refused_none = opclient.post(f"{STAFF_URL}add/", data)
    assert refused_other.status_code == 200
    assert refused_none.status_code == 200
    assert refused_none.context["adminform"].form.errors["operator"] == ["This field is required."]
    assert not StaffUser.objects.filter(username="newcomer").exists()

    added = opclient.post(f"{STAFF_URL}add/", {**data, "operator": operator.pk})

    newcomer = StaffUser.objects.get(username="newcomer")
    assert (added.status_code, added["Location"]) == (302, f"{STAFF_URL}{newcomer.pk}/change/")
    assert (newcomer.operator, newcomer.is_superuser) == (operator, False)
    assert list(newcomer.user_permissions.all()) == []


def test_staff_list_needs_the_permission(make_staff, brand, admin_as):
    # Compliance officers do not manage staff
    officer = make_staff("Compliance officer", brands=[brand])
    assert admin_as(officer).get(STAFF_URL).status_code == 403


def test_brand_admin_cannot_manage_staff(make_staff, colleague, brand, admin_as):
    brand_admin = make_staff("Brand admin", brands=[brand])
    before = _fingerprint(colleague)

    response = admin_as(brand_admin).post(
        f"{STAFF_URL}{colleague.pk}/change/", {"username": "colleague", "brands": [brand.pk]}
    )

    assert response.status_code == 403
    assert _fingerprint(colleague) == before


def test_brand_choices_are_decided_per_request_not_shared_between_forms(
    rf, operator_admin, colleague, make_staff, other_operator, foreigner, brand, sister_brand
):
    """Form classes of one admin share their declared fields; a request that builds its
    form after another request's get_form must still offer its own user's brands."""
    model_admin = admin.site.get_model_admin(StaffUser)
    other_admin = make_staff("Operator admin", operator=other_operator)
    request_a, request_b = rf.get("/"), rf.get("/")
    request_a.user, request_b.user = operator_admin, other_admin
    # Given operator A's admin got their form class, then operator B's admin got theirs
    form_class_a = model_admin.get_form(request_a, colleague, change=True)
    model_admin.get_form(request_b, foreigner, change=True)
    # When A's form is built
    form_a = form_class_a(instance=colleague)
    # Then it offers A's brands with A's colleague's grants, nothing of operator B
    assert list(form_a.fields["brands"].queryset.order_by("pk")) == [brand, sister_brand]
    assert form_a["brands"].initial == [brand]
