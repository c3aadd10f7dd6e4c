"""Reads of the Hub88 integration."""

from django.db.models import QuerySet

from apps.games.providers.hub88.models import Hub88Integration
from apps.tenants.selectors import brands_visible_to


def hub88_integrations_visible_to(user) -> QuerySet[Hub88Integration]:
    """Integrations of the brands this staff user may see."""
    return Hub88Integration.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def hub88_integration_for_brand(brand_id: int) -> Hub88Integration | None:
    return Hub88Integration.objects.filter(brand_id=brand_id).first()
