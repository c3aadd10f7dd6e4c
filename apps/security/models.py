"""IP rules: CIDR networks refused (block) or let through (allow), globally, per brand, or
for one provider integration's endpoints (ipfilter.py applies them)."""

from contextvars import ContextVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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


# --- the access audit (issue 9) ----------------------------------------------------------

# Set only by audit.audit_records_purge for the length of its delete: the one sanctioned way
# an audit record leaves the table (the PostgreSQL trigger has its own, transaction-local flag).
purge_in_progress: ContextVar[bool] = ContextVar("pam_audit_purge", default=False)


class AuditAppendOnly(Exception):
    """An audit record was about to be changed or deleted outside the retention purge."""


class AuditRecordQuerySet(models.QuerySet):
    """Refuses bulk changes: an audit record is written once and removed only by the purge.
    (On PostgreSQL the trigger of migration 0003 refuses them too, whatever the code path.)"""

    def update(self, **kwargs):
        raise AuditAppendOnly("audit records are append-only: update refused")

    def delete(self):
        if not purge_in_progress.get():
            raise AuditAppendOnly("audit records are append-only: delete refused")
        return super().delete()

    def _raw_delete(self, using):
        if not purge_in_progress.get():
            raise AuditAppendOnly("audit records are append-only: delete refused")
        return super()._raw_delete(using)


class AuditRecord(models.Model):
    """Who did what to whom, from where: logins, reads of personal data, exports and
    permission changes (django-auditlog's LogEntry keeps the model changes).

    Written by apps/security/audit.py only, in the transaction of what it records. Never
    changed or deleted: refused by the ORM here and by a trigger on PostgreSQL (migration
    0003), except by the retention purge. `detail` says which fields or objects, never a
    password, a token or the personal data itself.
    """

    class Kind(models.TextChoices):
        LOGIN_SUCCEEDED = "login_succeeded", "Login succeeded"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGOUT = "logout", "Logout"
        PERSONAL_DATA_READ = "personal_data_read", "Personal data read"
        EXPORT = "export", "Export"
        PERMISSION_CHANGED = "permission_changed", "Permission changed"
        AUDIT_PURGED = "audit_purged", "Audit records purged"

    class ActorType(models.TextChoices):
        STAFF = "staff", "Staff"
        PLAYER = "player", "Player"
        ANONYMOUS = "anonymous", "Anonymous"
        SYSTEM = "system", "System"

    occurred_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # No database constraint: the record outlives the account it names (and a delete's
    # SET NULL would be an UPDATE the trigger refuses). actor_label keeps the username.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="Staff username, player:ID, system:NAME."
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    # Plain ids, not foreign keys: the record must outlive (and never block) what it names.
    operator_id = models.BigIntegerField(null=True, blank=True)
    brand_id = models.BigIntegerField(null=True, blank=True)
    player_id = models.BigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        verbose_name = "access audit record"
        ordering = ["-id"]
        indexes = [
            # The purge (older than the cutoff) and the date hierarchy / date filter.
            models.Index(fields=["occurred_at"], name="security_audit_occurred_idx"),
            # The admin's searches are exact matches, each served by its own index.
            models.Index(
                fields=["player_id", "occurred_at"],
                name="security_audit_player_idx",
                condition=Q(player_id__isnull=False),
            ),
            models.Index(
                fields=["correlation_id"], name="security_audit_cid_idx", condition=~Q(correlation_id="")
            ),
            models.Index(fields=["ip"], name="security_audit_ip_idx", condition=Q(ip__isnull=False)),
            models.Index(fields=["actor_label", "occurred_at"], name="security_audit_actor_idx"),
            # An auditor's scoped list, newest first.
            models.Index(fields=["brand_id", "-id"], name="security_audit_brand_idx"),
            models.Index(fields=["kind", "-id"], name="security_audit_kind_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or self.actor_type
        return f"{self.get_kind_display()} by {who} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditAppendOnly("audit records are append-only: save of an existing record refused")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if not purge_in_progress.get():
            raise AuditAppendOnly("audit records are append-only: delete refused")
        return super().delete(*args, **kwargs)


class StaffSecondFactor(models.Model):
    """No table: the staff second factor's devices are django-otp's (TOTPDevice for the
    authenticator app, StaticDevice for the recovery codes). This model exists for the
    permission to reset another staff member's devices (apps/security/otp.py)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("reset_staff_otp", "Can reset another staff member's second factor")]
        verbose_name = "staff second factor"

    def __str__(self) -> str:
        return "staff second factor"
