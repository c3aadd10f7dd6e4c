"""Writes of the compliance app: brand overrides of the packs (tighten only, versioned)."""

from django.db import transaction

from apps.compliance.events import BrandRulesChanged
from apps.compliance.exceptions import OverrideRefused
from apps.compliance.models import BrandRulesVersion
from apps.compliance.packs import pack_get
from apps.compliance.rules import override_check
from apps.compliance.selectors import rules_cache_clear
from apps.core.actors import audit_as
from apps.core.events import publish
from apps.tenants.exceptions import AccessDenied
from apps.tenants.models import Brand
from apps.tenants.permissions import user_can


def brand_rules_change(*, actor, brand: Brand, overrides: dict, reason: str) -> BrandRulesVersion:
    """Save a new version of the brand's overrides (the whole set; {} goes back to the pack).

    Needs compliance.add_brandrulesversion on the brand. Every override must be a known
    rule and no looser than the pack (OverrideRefused names the rule). Takes the brand's
    row lock to number versions without gaps. Publishes BrandRulesChanged.
    """
    if not user_can(actor, "compliance.add_brandrulesversion", brand_id=brand.pk):
        raise AccessDenied("You may not change this brand's rules.")
    reason = (reason or "").strip()
    if not reason:
        raise OverrideRefused("A reason is required.", code="reason_required")
    if not isinstance(overrides, dict):
        raise OverrideRefused("Overrides are a mapping of rule to value.", code="invalid_value")
    pack = pack_get(brand.jurisdiction)
    if pack is None:
        raise OverrideRefused(f"No jurisdiction pack for {brand.jurisdiction}.", code="unknown_jurisdiction")
    for path, value in overrides.items():
        override_check(pack, path, value)
    with transaction.atomic(), audit_as(actor):
        Brand.objects.select_for_update().filter(pk=brand.pk).first()
        latest = BrandRulesVersion.objects.filter(brand=brand).order_by("-version").first()
        row = BrandRulesVersion.objects.create(
            brand=brand,
            version=(latest.version + 1) if latest else 1,
            overrides=overrides,
            reason=reason[:500],
            created_by=actor,
        )
        publish(
            BrandRulesChanged(brand_id=brand.pk, version=row.version, overrides=overrides, reason=row.reason),
            actor=actor,
        )
        # Now for this process, and again after commit (another thread may have cached the
        # old rules meanwhile); other processes see the new version within the cache's TTL.
        rules_cache_clear(brand.pk)
        transaction.on_commit(lambda: rules_cache_clear(brand.pk))
    return row
