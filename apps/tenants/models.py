"""Operators (licensed legal entities), their brands, and the staff who work on them."""

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models

from apps.core.models import Currency

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$",
    "Use 3-40 lower-case letters, digits and hyphens.",
)


class Operator(models.Model):
    """A licensed legal entity; it owns brands."""

    code = models.SlugField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    legal_name = models.CharField(max_length=200)
    registration_number = models.CharField(max_length=60, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("access_operator", "Can access every brand of the operator")]

    def __str__(self) -> str:
        return self.name

    def get_additional_data(self) -> dict:
        """Stored on audit rows so that the audit log can be scoped like everything else."""
        return {"operator_id": self.pk, "brand_id": None}


class Brand(models.Model):
    """A player-facing brand, licensed in one jurisdiction.

    Staff access is granted per brand (django-guardian object permission `access_brand`)
    or per operator (`access_operator` on the Operator: every brand, present and future).
    """

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="brands")
    code = models.SlugField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    # Not model choices: the jurisdictions are the loaded compliance packs (a new pack needs
    # no migration); forms and the API validate against them.
    jurisdiction = models.CharField(
        max_length=8,
        help_text="The licence the brand operates under; its pack's rules apply to the brand's players.",
    )
    currencies = models.ManyToManyField(Currency, related_name="brands")
    default_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("access_brand", "Can access the brand's data")]

    def __str__(self) -> str:
        return f"{self.name} ({self.jurisdiction})"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.operator_id, "brand_id": self.pk}


class StaffUser(AbstractUser):
    """A member of staff. `operator` is empty for platform staff (superusers, system)."""

    operator = models.ForeignKey(
        Operator,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text="The operator this person works for; empty for platform staff.",
    )

    class Meta:
        verbose_name = "staff user"
        ordering = ["username"]
        permissions = [("manage_staff_access", "Can grant and revoke staff access to brands")]

    def get_additional_data(self) -> dict:
        return {"operator_id": self.operator_id, "brand_id": None}
