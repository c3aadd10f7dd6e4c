"""Reads of the Hub88 integration."""

import threading

from cachetools import TTLCache, cached
from django.db.models import QuerySet

from apps.games.providers.hub88.models import Hub88Integration
from apps.tenants.selectors import brands_visible_to


def hub88_integrations_visible_to(user) -> QuerySet[Hub88Integration]:
    """Integrations of the brands this staff user may see."""
    return Hub88Integration.objects.filter(brand__in=brands_visible_to(user).values("pk"))


# Read on every Hub88 call (keys, switch). Entries live a few seconds per process; a
# change saved in this process clears them at once (apps.py). So a new key or the switch
# takes effect everywhere within INTEGRATION_TTL_SECONDS.
INTEGRATION_TTL_SECONDS = 5
_integrations: TTLCache = TTLCache(maxsize=1024, ttl=INTEGRATION_TTL_SECONDS)
_integrations_lock = threading.Lock()


@cached(_integrations, lock=_integrations_lock)
def hub88_integration_for_brand(brand_id: int) -> Hub88Integration | None:
    """The brand's integration; may be shared with other threads: read it, never change it."""
    return Hub88Integration.objects.filter(brand_id=brand_id).first()


def integration_cache_clear(**_) -> None:
    with _integrations_lock:
        _integrations.clear()
