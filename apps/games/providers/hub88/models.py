"""A brand's Hub88 integration: the keys that sign the seamless-wallet traffic."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.tenants.models import Brand


class Hub88Integration(models.Model):
    """Per brand: Hub88's public key (to verify its requests) and the operator's private key
    (to sign our answers). The private key is a secret: no page ever renders it, the audit
    log masks it, and only its public half leaves the system."""

    brand = models.OneToOneField(Brand, on_delete=models.PROTECT, related_name="hub88_integration")
    hub88_public_key = models.TextField(blank=True, help_text="Hub88's RSA public key (PEM).")
    operator_private_key = models.TextField(blank=True, help_text="Our RSA private key (PEM). Secret.")
    active = models.BooleanField(
        default=False, help_text="Inactive integrations answer every call with RS_ERROR_INVALID_PARTNER."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Hub88 integration"
        constraints = [
            models.CheckConstraint(
                condition=Q(active=False) | (~Q(hub88_public_key="") & ~Q(operator_private_key="")),
                name="games_hub88_active_needs_keys",
            ),
        ]

    def __str__(self) -> str:
        return f"Hub88 integration of brand {self.brand_id}"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}
