from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """Security as a constraint (issue 9): rate limits, IP allow- and blocklists, and the
    hardening that applies to every door."""

    name = "apps.security"
    label = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from axes.admin import AccessAttemptAdmin

        from apps.security.audit import signals_connect
        from apps.security.models import IpRule

        auditlog.register(IpRule)
        # The access audit: logins, permission changes (apps/security/audit.py).
        signals_connect()
        # axes' admin action deletes attempt rows but declares no permission, so anyone who
        # may view the attempts could run it (tests/security/test_permission_census.py).
        AccessAttemptAdmin.cleanup_expired_attempts.allowed_permissions = ("delete",)
