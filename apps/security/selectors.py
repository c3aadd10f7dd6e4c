"""Reads of the IP lists: what a staff user may see."""

from django.db.models import Q, QuerySet

from apps.security.models import IpRule
from apps.tenants.selectors import brand_ids_visible_to, is_working_staff


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
