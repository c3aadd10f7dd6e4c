"""Players: the people who play on a brand. Each belongs to exactly one brand."""

import hashlib
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries.fields import CountryField
from django_fsm import FSMField, transition

from apps.core.models import Currency
from apps.tenants.models import Brand

# Fields shown only to staff holding players.view_personal_data.
PERSONAL_DATA_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "date_of_birth",
    "address_line",
    "city",
    "postcode",
    "mobile",
    "national_id",
)


class Player(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        SELF_EXCLUDED = "self_excluded", "Self-excluded"
        CLOSED = "closed", "Closed"

    class KycStatus(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="players")
    username = models.CharField(max_length=64)
    email = models.EmailField(max_length=254)
    password = models.CharField(max_length=128, editable=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    country = CountryField()
    address_line = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    mobile = models.CharField(max_length=20, help_text="E.164, e.g. +447700900123")
    national_id = models.CharField(
        max_length=32, blank=True, help_text="Where the jurisdiction requires one (e.g. SE personnummer)."
    )
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    # Changed only through the transitions below (player_status_change is their door).
    status = FSMField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    kyc_status = models.CharField(max_length=16, choices=KycStatus.choices, default=KycStatus.NOT_STARTED)
    marketing_opt_in = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint("brand", Lower("username"), name="players_username_unique_per_brand"),
            models.UniqueConstraint("brand", Lower("email"), name="players_email_unique_per_brand"),
            models.UniqueConstraint(
                "brand",
                "national_id",
                condition=~models.Q(national_id=""),
                name="players_national_id_unique_per_brand",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended", "self_excluded", "closed"]),
                name="players_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["brand", "status"], name="players_brand_status_idx")]
        permissions = [
            ("view_personal_data", "Can view players' personal data"),
            ("change_player_status", "Can suspend, reactivate or close players"),
            ("export_players", "Can export player lists"),
        ]

    # The player API authenticates players through DRF; these make a Player behave as
    # request.user there (it is never a Django staff user).
    is_authenticated = True
    is_anonymous = False

    def __str__(self) -> str:
        return f"{self.username} #{self.pk}"

    # --- Status transitions: the only legal moves (django-fsm refuses the rest) ---------
    @transition(field=status, source=[Status.ACTIVE], target=Status.SUSPENDED)
    def suspend(self) -> None:
        """Staff stop the account for investigation; reversible."""

    @transition(field=status, source=[Status.SUSPENDED], target=Status.ACTIVE)
    def reactivate(self) -> None:
        """Staff lift a suspension."""

    @transition(field=status, source=[Status.ACTIVE, Status.SUSPENDED], target=Status.CLOSED)
    def close(self) -> None:
        """The account is closed; re-opening is a responsible-gaming decision, not this one."""

    @transition(field=status, source=[Status.ACTIVE, Status.SUSPENDED], target=Status.SELF_EXCLUDED)
    def self_exclude(self) -> None:
        """The player excluded themselves (here or on a national register)."""

    def actor_label(self) -> str:
        return f"player:{self.pk}"

    def set_password(self, raw: str) -> None:
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        """Check, and re-hash in place when the hasher's settings have moved on."""

        def upgrade(raw_again: str) -> None:
            self.set_password(raw_again)
            Player.objects.filter(pk=self.pk).update(password=self.password)

        return check_password(raw, self.password, upgrade if self.pk else None)

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class PlayerToken(models.Model):
    """A player API session token. Only its SHA-256 is stored; the token is shown once."""

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["player", "revoked_at"], name="players_token_player_idx")]

    def __str__(self) -> str:
        return f"token of player {self.player_id} (expires {self.expires_at:%Y-%m-%d %H:%M})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(32)
