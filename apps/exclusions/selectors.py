"""Reads of the exclusions app; every staff list goes through a *_visible_to selector."""

from django.db.models import QuerySet

from apps.exclusions.models import RegisterCheck, RegisterConfig
from apps.tenants.selectors import brands_visible_to


def register_configs_visible_to(user) -> QuerySet[RegisterConfig]:
    return RegisterConfig.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def register_checks_visible_to(user) -> QuerySet[RegisterCheck]:
    return RegisterCheck.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def register_config_get(*, brand_id: int, register: str) -> RegisterConfig | None:
    """The brand's active configuration of a register (None: not configured or switched off)."""
    return (
        RegisterConfig.objects.select_related("brand")
        .filter(brand_id=brand_id, register=register, active=True)
        .first()
    )


def registers_of_brand(brand_id: int) -> list[dict]:
    """The registers the brand's jurisdiction pack names: [{"register": ..., "at": [...]}]."""
    from apps.compliance.selectors import rules_for_brand

    return list(rules_for_brand(brand_id).get("exclusion_registers") or [])
