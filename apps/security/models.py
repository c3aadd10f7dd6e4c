"""IP rules: CIDR networks refused (block) or let through (allow), globally, per brand, or
for one provider integration's endpoints (ipfilter.py applies them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class IpRule(models.Model):
    class Kind(models.TextChoices):
        BLOCK = "block", "Block"
        ALLOW = "allow", "Allow"

    class Scope(models.TextChoices):
        # Every request (block only: an allow entry in the global scope would mean nothing).
        GLOBAL = "global", "Global (every request)"
        # The player-facing API of one brand (applied when the request's brand is known).
        BRAND = "brand", "Brand (its player API)"
        # A provider's callback endpoints: with allow entries, only those addresses pass.
        HUB88 = "hub88", "Hub88 wallet callbacks"
        PAYMENTIQ = "paymentiq", "PaymentIQ callbacks"

    cidr = models.CharField(
        max_length=49, help_text="An IPv4 or IPv6 address or network, e.g. 203.0.113.0/24 or 2001:db8::/32."
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    brand = models.ForeignKey(
        "tenants.Brand", null=True, blank=True, on_delete=models.CASCADE, related_name="ip_rules"
    )
    reason = models.CharField(max_length=255)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "IP rule"
        ordering = ["scope", "brand_id", "cidr"]
        permissions = [("manage_global_ip_rules", "Manage global and provider IP rules")]
        constraints = [
            # A brand entry names its brand; global and provider entries name none.
            models.CheckConstraint(
                name="iprule_brand_iff_brand_scope",
                condition=(
                    Q(scope="brand", brand__isnull=False) | (~Q(scope="brand") & Q(brand__isnull=True))
                ),
            ),
            models.CheckConstraint(name="iprule_kind_valid", condition=Q(kind__in=["block", "allow"])),
            models.UniqueConstraint(
                fields=["cidr", "kind", "scope"],
                condition=Q(brand__isnull=True),
                name="iprule_unique_unbranded",
            ),
            models.UniqueConstraint(
                fields=["cidr", "kind", "scope", "brand"],
                condition=Q(brand__isnull=False),
                name="iprule_unique_branded",
            ),
        ]

    def __str__(self) -> str:
        where = self.brand.code if self.brand_id else self.scope
        return f"{self.kind} {self.cidr} ({where})"
