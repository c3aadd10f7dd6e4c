"""Versioned brand overrides of the jurisdiction packs (the packs themselves are files)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenants.models import Brand


class BrandRulesVersion(models.Model):
    """One version of a brand's overrides; the newest is in force. Append-only.

    `overrides` maps a rule path (packs' field path, e.g. "stake_caps.casino.max") to the
    brand's value, which was checked to be no looser than the pack when it was saved.
    """

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="rules_versions")
    version = models.PositiveIntegerField()
    overrides = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "brand rules version"
        ordering = ["brand", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "version"], name="compliance_rules_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.brand.code} rules v{self.version}"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}
