"""Reads of the tenancy domain, and the scoping every list in the product goes through.

A staff user sees a brand when they hold `tenants.access_brand` on it, or
`tenants.access_operator` on its operator (django-guardian object permissions; global
grants of these two permissions are deliberately ignored). Superusers see everything.
Inactive users and non-staff see nothing.

Within a request the ids of a staff user's brands are worked out once
(apps/core/request_cache.py): the admin's list, its brand filter, the header and the API's
visibility check each ask, and each would otherwise run guardian's nested subqueries again.
A grant, a revocation, a group change or a new brand in the same request drops the memo
(apps/tenants/apps.py).
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_objects_for_user

from apps.core.request_cache import request_cache_active, request_memo
from apps.tenants.models import Brand, Operator, StaffUser


def is_working_staff(user) -> bool:
    """An active, signed-in staff account: the first condition of every staff scoping."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def brands_visible_to(user) -> QuerySet[Brand]:
    """Every brand this staff user may see; the root of all tenant scoping.

    In a request, the brands by their ids (worked out once per request and user); outside
    one, guardian's grants as a subquery."""
    if not is_working_staff(user):
        return Brand.objects.none()
    if user.is_superuser:
        return Brand.objects.all()
    if request_cache_active():
        return Brand.objects.filter(pk__in=brand_ids_visible_to(user))
    return _brands_granted(user)


def brand_ids_visible_to(user) -> list[int]:
    """The ids of brands_visible_to(user), sorted; memoised for the request."""
    if not is_working_staff(user):
        return []

    def compute() -> list[int]:
        # Built only when needed: guardian's querysets cost ~8 ms of Python to build.
        granted = Brand.objects.all() if user.is_superuser else _brands_granted(user)
        return list(granted.order_by("pk").values_list("pk", flat=True))

    return request_memo(("brand_ids_visible_to", user.pk), compute)


def _brands_granted(user) -> QuerySet[Brand]:
    direct = get_objects_for_user(
        user, "tenants.access_brand", klass=Brand, accept_global_perms=False, with_superuser=False
    )
    operators = get_objects_for_user(
        user,
        "tenants.access_operator",
        klass=Operator,
        accept_global_perms=False,
        with_superuser=False,
    )
    return Brand.objects.filter(Q(pk__in=direct.values("pk")) | Q(operator__in=operators.values("pk")))


def operators_visible_to(user) -> QuerySet[Operator]:
    """Operators the user administers or sees a brand of (all, for superusers)."""
    if not is_working_staff(user):
        return Operator.objects.none()
    if user.is_superuser:
        return Operator.objects.all()
    return Operator.objects.filter(
        Q(pk__in=brands_visible_to(user).values("operator_id"))
        | Q(pk__in=operators_administered_by(user).values("pk"))
    )


def operators_administered_by(user) -> QuerySet[Operator]:
    """Operators on which the user holds `access_operator` (operator admins)."""
    if not is_working_staff(user):
        return Operator.objects.none()
    if user.is_superuser:
        return Operator.objects.all()
    return get_objects_for_user(
        user,
        "tenants.access_operator",
        klass=Operator,
        accept_global_perms=False,
        with_superuser=False,
    )


def staff_visible_to(user) -> QuerySet[StaffUser]:
    """Staff of the operators the user administers; platform staff only to superusers."""
    if not is_working_staff(user):
        return StaffUser.objects.none()
    if user.is_superuser:
        return StaffUser.objects.all()
    return StaffUser.objects.filter(operator__in=operators_administered_by(user).values("pk"))


def brand_get(*, user, brand_id) -> Brand | None:
    return brands_visible_to(user).filter(pk=brand_id).first()


def brand_get_by_code(code: str) -> Brand | None:
    """A brand by its public code (for player-facing doors; no staff scoping)."""
    return Brand.objects.select_related("operator").filter(code=code).first()


def brand_ids_granted_to(staff: StaffUser) -> set[int]:
    """Brands granted to this person directly (not through an operator grant)."""
    brand_type = ContentType.objects.get_for_model(Brand)
    return {
        int(pk)
        for pk in UserObjectPermission.objects.filter(
            user=staff, permission__codename="access_brand", content_type=brand_type
        ).values_list("object_pk", flat=True)
    }
