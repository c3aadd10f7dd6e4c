"""Reads of the security app: the IP lists and the access audit a staff user may see."""

from django.db.models import Q, QuerySet

from apps.security.models import AuditRecord, IpRule
from apps.tenants.selectors import brand_ids_visible_to, is_working_staff, operators_administered_by


def ip_rules_visible_to(user) -> QuerySet[IpRule]:
    """Their brands' entries; global and provider entries to those who manage them."""
    if not is_working_staff(user):
        return IpRule.objects.none()
    if user.is_superuser:
        return IpRule.objects.select_related("brand", "created_by")
    visible = Q(brand_id__in=brand_ids_visible_to(user))
    if user.has_perm("security.manage_global_ip_rules"):
        visible |= Q(brand__isnull=True)
    return IpRule.objects.filter(visible).select_related("brand", "created_by")


def audit_records_visible_to(user) -> QuerySet[AuditRecord]:
    """Access-audit records about their brands; records of no brand (staff logins and
    permission changes) of the operators they administer, as for auditlog's rows
    (core.admin.audit_entries_visible_to); everything to superusers."""
    if not is_working_staff(user):
        return AuditRecord.objects.none()
    if user.is_superuser:
        return AuditRecord.objects.all()
    visible = Q(brand_id__in=brand_ids_visible_to(user)) | Q(
        brand_id__isnull=True,
        operator_id__in=list(operators_administered_by(user).values_list("pk", flat=True)),
    )
    return AuditRecord.objects.filter(visible)
