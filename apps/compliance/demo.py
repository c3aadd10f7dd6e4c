"""Demo brand override: Nordic Play tightens Sweden's cooling-off (so the admin shows a version)."""

from apps.compliance.models import BrandRulesVersion
from apps.compliance.services import brand_rules_change


def seed(context: dict) -> None:
    brand = context["brands"]["nordicplay-se"]
    if BrandRulesVersion.objects.filter(brand=brand).exists():
        return
    brand_rules_change(
        actor=context["staff"]["brandadmin"],
        brand=brand,
        overrides={"limits.increase_cooling_off_hours": 96, "reality_check.default_interval_minutes": 30},
        reason="Demo: Nordic Play's own policy is stricter than Spelinspektionen's minimum.",
    )
