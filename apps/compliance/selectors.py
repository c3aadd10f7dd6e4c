"""Reads of the compliance app: a brand's effective rules (cached in-process) and scoped lists.

`rules_for_brand` is on the wallet's bet path, so it answers from memory: a brand's rules
are kept for settings.COMPLIANCE_RULES_CACHE_SECONDS (a new version is seen at once in the
process that saved it, and within that time everywhere else).
"""

import time

from django.conf import settings
from django.db.models import QuerySet

from apps.compliance.models import BrandRulesVersion
from apps.compliance.packs import PackInvalid, pack_dirs, pack_get
from apps.compliance.rules import EffectiveRules, rules_apply
from apps.tenants.models import Brand
from apps.tenants.selectors import brands_visible_to

_cache: dict[int, tuple[float, tuple, EffectiveRules]] = {}


def rules_cache_clear(brand_id: int | None = None) -> None:
    if brand_id is None:
        _cache.clear()
    else:
        _cache.pop(brand_id, None)


def rules_of(brand: Brand) -> EffectiveRules:
    """The brand's effective rules, read now (no cache)."""
    pack = pack_get(brand.jurisdiction)
    if pack is None:
        raise PackInvalid(f"brand {brand.code}: no jurisdiction pack for {brand.jurisdiction!r}")
    latest = BrandRulesVersion.objects.filter(brand_id=brand.pk).order_by("-version").first()
    return rules_apply(pack, latest.overrides if latest else {}, version=latest.version if latest else None)


def rules_for_brand(brand_id: int) -> EffectiveRules:
    """The brand's effective rules, from the in-process cache when fresh."""
    now = time.monotonic()
    dirs = pack_dirs()
    hit = _cache.get(brand_id)
    if hit is not None and hit[0] > now and hit[1] == dirs:
        return hit[2]
    rules = rules_of(Brand.objects.only("pk", "jurisdiction", "code").get(pk=brand_id))
    _cache[brand_id] = (now + settings.COMPLIANCE_RULES_CACHE_SECONDS, dirs, rules)
    return rules


def rules_versions_visible_to(user) -> QuerySet[BrandRulesVersion]:
    return BrandRulesVersion.objects.filter(brand__in=brands_visible_to(user).values("pk"))
