"""What other apps call: the brand blocklist, for doors that know the request's brand;
the access audit's records (apps/security/audit.py) for the doors and services that log a
player in or out, show personal data or export it; the re-authentication decorator of
sensitive actions; the second-factor reset and check."""

from apps.security.audit import export_record, login_record, logout_record, personal_data_read_record
from apps.security.exceptions import IpBlocked
from apps.security.ipfilter import brand_blocked, client_ip
from apps.security.otp import RESET_PERMISSION as OTP_RESET_PERMISSION
from apps.security.otp import otp_devices_reset, user_verified
from apps.security.reauth import reauth_required

__all__ = [
    "OTP_RESET_PERMISSION",
    "IpBlocked",
    "brand_blocked",
    "brand_ip_check",
    "client_ip",
    "export_record",
    "login_record",
    "logout_record",
    "personal_data_read_record",
    "otp_devices_reset",
    "reauth_required",
    "second_factor_enrolled",
    "staff_session_valid",
    "staff_session_valid_now",
    "user_verified",
]


def brand_ip_check(request, brand_id: int) -> None:
    """IpBlocked (403, code ip_blocked, the API's JSON error) when the request's address is
    on brand `brand_id`'s blocklist."""
    if brand_blocked(request, brand_id):
        raise IpBlocked()


def staff_session_valid(session, user) -> bool:
    """A staff session that has not timed out and has accepted a second-factor code (the
    dashboards' websocket checks this at connect; HTTP doors: staff_session.py)."""
    from apps.security.otp import session_expired_why, session_verified

    return not session_expired_why(session) and session_verified(session, user)


def staff_session_valid_now(session_key: str | None, user) -> bool:
    """staff_session_valid of the session as the store holds it now. A websocket's scope
    keeps the copy read at connect, which a sign-out, a timeout seen by another request or
    a second-factor reset does not change."""
    from importlib import import_module

    from django.conf import settings

    if not session_key:
        return False
    return staff_session_valid(import_module(settings.SESSION_ENGINE).SessionStore(session_key), user)


def second_factor_enrolled():
    """An expression for a staff user queryset: has the user a confirmed authenticator
    device? (`.annotate(has_second_factor=second_factor_enrolled())`)"""
    from django.db.models import Exists, OuterRef
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
