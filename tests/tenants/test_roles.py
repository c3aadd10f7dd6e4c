"""`manage.py sync_roles`: role groups hold exactly the permissions roles.py lists."""

import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from apps.tenants import roles
from apps.tenants.exceptions import TenantsError

pytestmark = pytest.mark.django_db


def _held() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


def _sync() -> str:
    out = io.StringIO()
    call_command("sync_roles", stdout=out)
    return out.getvalue()


def test_sync_roles_creates_each_role_with_exactly_its_permissions():
    # Given no groups
    assert Group.objects.count() == 0
    # When roles are synced
    output = _sync()
    # Then every role is a group holding exactly the permissions roles.py lists
    assert _held() == {role: set(perms) for role, perms in roles.ROLES.items()}
    assert output.splitlines() == [f"{role}: {len(perms)} permissions" for role, perms in roles.ROLES.items()]


def test_sync_roles_is_idempotent():
    _sync()
    first = _held()
    group_ids = dict(Group.objects.values_list("name", "pk"))

    _sync()

    assert _held() == first
    assert dict(Group.objects.values_list("name", "pk")) == group_ids
    assert Group.objects.count() == len(roles.ROLES)


def test_sync_roles_takes_away_a_permission_roles_py_does_not_list():
    # Given the Auditor group was given a write permission by hand
    _sync()
    auditor = Group.objects.get(name="Auditor")
    auditor.permissions.add(
        Permission.objects.get(content_type__app_label="players", codename="change_player")
    )
    assert "players.change_player" in _held()["Auditor"]
    # When roles are synced again
    _sync()
    # Then it is gone and the group holds exactly its listed permissions
    assert _held()["Auditor"] == set(roles.ROLES["Auditor"])


def test_sync_roles_follows_a_permission_taken_out_of_roles_py(monkeypatch):
    _sync()
    assert "players.export_players" in _held()["Compliance officer"]
    trimmed = [p for p in roles.ROLES["Compliance officer"] if p != "players.export_players"]
    monkeypatch.setitem(roles.ROLES, "Compliance officer", trimmed)

    _sync()

    assert _held()["Compliance officer"] == set(trimmed)


def test_sync_roles_leaves_other_groups_alone():
    other = Group.objects.create(name="Hand-made group")
    perm = Permission.objects.get(content_type__app_label="players", codename="delete_player")
    other.permissions.add(perm)

    _sync()

    assert _held()["Hand-made group"] == {"players.delete_player"}


@pytest.mark.parametrize("bad", ["players.view_everything", "nosuchapp.view_player", "players.view_brand"])
def test_sync_roles_fails_loudly_on_an_unknown_permission_and_changes_nothing(monkeypatch, bad):
    # Given groups in sync, then a role table that changes the first role and names a
    # permission that does not exist in the last one
    _sync()
    before = _held()
    first, last = list(roles.ROLES)[0], list(roles.ROLES)[-1]
    monkeypatch.setitem(roles.ROLES, first, roles.ROLES[first][:2])
    monkeypatch.setitem(roles.ROLES, last, [*roles.ROLES[last], bad])
    monkeypatch.setitem(roles.ROLES, "Brand new role", ["players.view_player"])
    # When roles are synced
    with pytest.raises(TenantsError) as excinfo:
        _sync()
    # Then it says which permission, and no group changed or was created (one transaction)
    assert str(excinfo.value) == f"Role table names an unknown permission: {bad}"
    assert _held() == before
