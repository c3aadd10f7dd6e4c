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
from django.db import connection
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
        if user.is_superuser:
            return list(Brand.objects.order_by("pk").values_list("pk", flat=True))
        return _brand_ids_granted(user)

    return request_memo(("brand_ids_visible_to", user.pk), compute)


# The grants guardian reads for _brands_granted: every object permission the user holds,
# themselves or through a group (guardian's tables, Django's permission table, the staff
# user's groups table); of those, `access_brand` on a brand and `access_operator` on its
# operator open the brand.
_BRAND_IDS_GRANTED = """
WITH granted AS (
    SELECT p.codename, p.content_type_id, up.object_pk FROM guardian_userobjectpermission up
    JOIN auth_permission p ON p.id = up.permission_id
    WHERE up.user_id = %(user)s
    UNION ALL
    SELECT p.codename, p.content_type_id, gp.object_pk FROM guardian_groupobjectpermission gp
    JOIN auth_permission p ON p.id = gp.permission_id
    JOIN tenants_staffuser_groups m ON m.group_id = gp.group_id
    WHERE m.staffuser_id = %(user)s
)
SELECT b.id FROM tenants_brand b
WHERE CAST(b.id AS VARCHAR(255)) IN (
    SELECT object_pk FROM granted WHERE codename = 'access_brand' AND content_type_id = %(brand_type)s
) OR CAST(b.operator_id AS VARCHAR(255)) IN (
    SELECT object_pk FROM granted WHERE codename = 'access_operator' AND content_type_id = %(operator_type)s
)
ORDER BY b.id
"""


def _brand_ids_granted(user) -> list[int]:
    """The ids of _brands_granted(user), sorted, in one statement of fixed text.

    The same grants guardian reads (its user and group object permissions on brands and
    on operators, no global grants), without building guardian's nested querysets: those
    cost 2.5 ms of Python a request on a fast machine, the statement 0.3 ms. Every staff
    request that lists or checks anything runs this once (the request memo).
    tests/tenants/test_scoping_selectors.py holds it equal to _brands_granted."""
    with connection.cursor() as cursor:
        cursor.execute(
            _BRAND_IDS_GRANTED,
            {
                "user": user.pk,
                "brand_type": ContentType.objects.get_for_model(Brand).pk,
                "operator_type": ContentType.objects.get_for_model(Operator).pk,
            },
        )
        return [row[0] for row in cursor.fetchall()]


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
