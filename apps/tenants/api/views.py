from rest_framework import viewsets

from apps.tenants.api.permissions import StaffActionPermission
from apps.tenants.api.serializers import BrandSerializer
from apps.tenants.selectors import brands_visible_to


class BrandViewSet(viewsets.ReadOnlyModelViewSet):
    """Brands the signed-in staff member may access."""

    serializer_class = BrandSerializer
    permission_classes = [StaffActionPermission]
    required_permissions = {"list": "tenants.view_brand", "retrieve": "tenants.view_brand"}
    filterset_fields = ["jurisdiction", "active"]

    def get_queryset(self):
        return brands_visible_to(self.request.user).select_related("operator").prefetch_related("currencies")
