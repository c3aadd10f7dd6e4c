from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """Security as a constraint (issue 9): rate limits, IP allow- and blocklists, the staff
    second factor and session timeouts, and the hardening that applies to every door."""

    name = "apps.security"
    label = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from axes.admin import AccessAttemptAdmin
        from django.contrib.auth.signals import user_logged_in
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from apps.security.audit import signals_connect
        from apps.security.models import IpRule

        auditlog.register(IpRule)
        # The access audit: logins, permission changes (apps/security/audit.py).
        signals_connect()
        # Second-factor devices: enrolment and reset are audit rows; never the secret (the
        # TOTP key; recovery codes are StaticToken rows, not registered) nor the counters a
        # code check moves (they would make a row of every sign-in).
        counters = ["throttling_failure_timestamp", "throttling_failure_count", "last_used_at"]
        auditlog.register(TOTPDevice, exclude_fields=["key", "last_t", "drift", *counters])
        auditlog.register(StaticDevice, exclude_fields=counters)
        # axes' admin action deletes attempt rows but declares no permission, so anyone who
        # may view the attempts could run it (tests/security/test_permission_census.py).
        AccessAttemptAdmin.cleanup_expired_attempts.allowed_permissions = ("delete",)
        user_logged_in.connect(_session_clocks_start, dispatch_uid="security-session-clocks")


def _session_clocks_start(sender, request, user, **kwargs):
    from apps.security.otp import session_signed_in

    if request is not None and hasattr(request, "session"):
        session_signed_in(request.session)
