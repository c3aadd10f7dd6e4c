"""Writes of the tenancy domain: roles and staff access grants."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from apps.core.actors import audit_as
from apps.core.events import publish
from apps.tenants.events import StaffAccessChanged
from apps.tenants.exceptions import AccessDenied, TenantsError
from apps.tenants.models import Operator, StaffUser
from apps.tenants.roles import ROLES
from apps.tenants.selectors import brand_ids_granted_to, brands_visible_to, operators_administered_by


def _permission_get(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    try:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    except Permission.DoesNotExist as exc:
        raise TenantsError(f"Role table names an unknown permission: {dotted}") from exc


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Make each role group hold exactly the permissions ROLES lists. Idempotent.

    Returns the number of permissions per role.
    """
    counts = {}
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [_permission_get(p) for p in perms]
        group.permissions.set(wanted)
        counts[role] = len(wanted)
    return counts


def _check_can_manage(actor, *, brands=(), operators=()) -> None:
    if not (actor.is_superuser or actor.has_perm("tenants.manage_staff_access")):
        raise AccessDenied("You may not change staff access.")
    visible_brands = set(brands_visible_to(actor).values_list("pk", flat=True))
    if any(b.pk not in visible_brands for b in brands):
        raise AccessDenied("You may only grant access to brands you can access yourself.")
    administered = set(operators_administered_by(actor).values_list("pk", flat=True))
    if any(o.pk not in administered for o in operators):
        raise AccessDenied("You may only grant operator access to operators you administer.")


def _check_staff_manageable(actor, staff: StaffUser) -> None:
    if staff.is_superuser and not actor.is_superuser:
        raise AccessDenied("Only a superuser may change a superuser's access.")
    if staff.pk == actor.pk and not actor.is_superuser:
        raise AccessDenied("Nobody may change their own access; ask another administrator.")
    if not actor.is_superuser and staff.operator_id not in set(
        operators_administered_by(actor).values_list("pk", flat=True)
    ):
        raise AccessDenied("You may only change access of your own operator's staff.")


def staff_brands_set(*, actor, staff: StaffUser, brands) -> tuple[set[int], set[int]]:
    """Set which of the actor's visible brands `staff` may access.

    Brands outside the actor's own view are left as they are: an operator admin can
    neither see nor change another operator's grants. Publishes StaffAccessChanged per
    change. Returns (granted brand ids, revoked brand ids).
    """
    brands = list(brands)
    _check_can_manage(actor, brands=brands)
    _check_staff_manageable(actor, staff)
    wanted = {b.pk for b in brands}
    in_view = {b.pk: b for b in brands_visible_to(actor)}
    current = brand_ids_granted_to(staff) & in_view.keys()
    grant, revoke = wanted - current, current - wanted
    with transaction.atomic(), audit_as(actor):
        for pk in sorted(grant):
            assign_perm("tenants.access_brand", staff, in_view[pk])
            publish(
                StaffAccessChanged(
                    staff_user_id=staff.pk, scope="brand", scope_id=pk, granted=True, brand_id=pk
                ),
                actor=actor,
            )
        for pk in sorted(revoke):
            remove_perm("tenants.access_brand", staff, in_view[pk])
            publish(
                StaffAccessChanged(
                    staff_user_id=staff.pk, scope="brand", scope_id=pk, granted=False, brand_id=pk
                ),
                actor=actor,
            )
    return grant, revoke


def operator_access_grant(*, actor, staff: StaffUser, operator: Operator) -> None:
    """Let `staff` access every brand of `operator`, present and future."""
    _check_can_manage(actor, operators=[operator])
    _check_staff_manageable(actor, staff)
    with transaction.atomic(), audit_as(actor):
        assign_perm("tenants.access_operator", staff, operator)
        publish(
            StaffAccessChanged(staff_user_id=staff.pk, scope="operator", scope_id=operator.pk, granted=True),
            actor=actor,
        )


def operator_access_revoke(*, actor, staff: StaffUser, operator: Operator) -> None:
    _check_can_manage(actor, operators=[operator])
    _check_staff_manageable(actor, staff)
    with transaction.atomic(), audit_as(actor):
        remove_perm("tenants.access_operator", staff, operator)
        publish(
            StaffAccessChanged(staff_user_id=staff.pk, scope="operator", scope_id=operator.pk, granted=False),
            actor=actor,
        )
