"""A brand's PaymentIQ integration: who may call the brand's payment callbacks, and from where.

The credentials identify the integration, and so the brand: PaymentIQ calls one base URL
for every brand, and the Basic username or the Bearer token says which merchant it is.
Secrets are never stored: the password as a Django password hash, the token as its SHA-256.
"""

import hashlib

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.tenants.models import Brand


def credential_mask(value) -> str:
    """The audit log's view of a stored credential: that it is set (and changed), never what."""
    if not value:
        return ""
    return f"set ({hashlib.sha256(str(value).encode()).hexdigest()[:8]})"


class PaymentIQIntegration(models.Model):
    class AuthScheme(models.TextChoices):
        BASIC = "basic", "HTTP Basic (username and password)"
        BEARER = "bearer", "Bearer token"

    brand = models.OneToOneField(Brand, on_delete=models.PROTECT, related_name="paymentiq_integration")
    active = models.BooleanField(
        default=False,
        help_text="Inactive integrations refuse every call (HTTP 403, errCode integration_inactive).",
    )
    auth_scheme = models.CharField(
        max_length=8,
        choices=AuthScheme.choices,
        default=AuthScheme.BASIC,
        help_text="One scheme per merchant: calls with the other scheme are refused.",
    )
    basic_username = models.CharField(
        max_length=150, blank=True, help_text="HTTP Basic username; unique among PaymentIQ integrations."
    )
    # make_password(); never the password itself.
    basic_password_hash = models.CharField(max_length=128, blank=True, editable=False)
    # hex SHA-256 of the bearer token; the token is shown once, when it is generated.
    bearer_token_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    ip_allowlist = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "PaymentIQ's addresses: IPs or CIDR networks (e.g. 203.0.113.10, 198.51.100.0/24). "
            "Empty refuses every caller (fail closed)."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "payments"
        verbose_name = "PaymentIQ integration"
        constraints = [
            models.UniqueConstraint(
                fields=["basic_username"],
                condition=~Q(basic_username=""),
                name="payments_piq_basic_username_unique",
            ),
            models.UniqueConstraint(
                fields=["bearer_token_sha256"],
                condition=~Q(bearer_token_sha256=""),
                name="payments_piq_bearer_token_unique",
            ),
            models.CheckConstraint(
                condition=Q(auth_scheme__in=["basic", "bearer"]), name="payments_piq_auth_scheme_valid"
            ),
            # An active integration can be called: it has the credentials of its scheme.
            models.CheckConstraint(
                condition=Q(active=False)
                | Q(auth_scheme="basic", basic_username__gt="", basic_password_hash__gt="")
                | Q(auth_scheme="bearer", bearer_token_sha256__gt=""),
                name="payments_piq_active_needs_credentials",
            ),
        ]

    def __str__(self) -> str:
        return f"PaymentIQ integration of brand {self.brand_id}"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}

    @property
    def has_credentials(self) -> bool:
        if self.auth_scheme == self.AuthScheme.BEARER:
            return bool(self.bearer_token_sha256)
        return bool(self.basic_username and self.basic_password_hash)
