"""The staff second factor (issue 9): an authenticator app (TOTP) and ten single-use
recovery codes, both django-otp devices; the device reset; re-authentication.

A staff session counts as verified once a code from one of the user's confirmed devices
was accepted in it (django-otp keeps the device's id in the session; OTPMiddleware checks
on each request that the device still exists, is confirmed and is the user's). Where it is
enforced: apps/security/staff_session.py (the admin and the staff API) and the dashboards'
websocket (interface.staff_session_valid).

A wrong code is refused by the device (django-otp's exponential throttling) and reported
as a failed sign-in (user_login_failed, credentials {"username", "stage"}), so that axes
counts it toward the lockout and the audit trail records it; the session of an account
that this locks out is ended. An accepted code clears the count (`otp_success_record`).
"""

import base64
import time
from base64 import b32encode
from io import BytesIO

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.actors import audit_as
from apps.core.exceptions import PermissionDenied
from apps.security.exceptions import AccountLocked, OtpError, ReauthFailed
from apps.tenants.selectors import staff_visible_to

RECOVERY_CODES = 10
TOTP_NAME = "authenticator app"
RECOVERY_NAME = "recovery codes"
RESET_PERMISSION = "security.reset_staff_otp"

# Session keys (seconds since the epoch): when the user signed in, was last seen, and last
# confirmed password + code for a sensitive action.
SIGNED_IN_AT = "staff_signed_in_at"
SEEN_AT = "staff_seen_at"
REAUTH_AT = "staff_reauth_at"


# --- the verdict -------------------------------------------------------------------------
def user_verified(user) -> bool:
    """Signed in, and a code was accepted in this session (OTPMiddleware's verdict)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(user is not None and user.is_authenticated and callable(is_verified) and is_verified())


def session_verified(session, user) -> bool:
    """The same verdict from the session alone (a websocket has no OTPMiddleware)."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id or user is None or not user.is_authenticated:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk and device.confirmed


def session_expired_why(session, now: float | None = None) -> str:
    """ "idle" or "lifetime" when the staff session has timed out, else ""."""
    now = time.time() if now is None else now
    seen, started = session.get(SEEN_AT), session.get(SIGNED_IN_AT)
    if seen is not None and now - seen > settings.STAFF_SESSION_IDLE_SECONDS:
        return "idle"
    if started is not None and now - started > settings.STAFF_SESSION_MAX_SECONDS:
        return "lifetime"
    return ""


def session_signed_in(session, now: float | None = None) -> None:
    """Start the session's clocks (user_logged_in); a re-auth of an earlier session lapses."""
    now = time.time() if now is None else now
    session[SIGNED_IN_AT] = session[SEEN_AT] = now
    session.pop(REAUTH_AT, None)


def has_device(user) -> bool:
    return user_has_device(user, confirmed=True)


# --- enrolment ---------------------------------------------------------------------------
def enrolment_device(user) -> TOTPDevice:
    """The user's unconfirmed TOTP device, made on first ask (the secret stays the same while
    the enrolment page is reloaded, so a scanned code keeps working)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        with audit_as(user):
            device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in (base32, in groups of four)."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URI (img-src allows data:, and an
    <img> keeps the SVG's own attributes away from the page's style policy)."""
    import qrcode
    import qrcode.image.svg

    out = BytesIO()
    qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _normalised(token) -> str:
    """The code as typed without spaces, lower case; "" (no code) unless it is ASCII letters
    and digits, the only characters of app and recovery codes (a NUL would reach the
    database's text lookup of recovery codes and fail there)."""
    token = "".join(str(token or "").split()).lower()
    return token if token.isascii() and token.isalnum() and len(token) <= 64 else ""


def otp_enrol_confirm(*, user, token) -> tuple[TOTPDevice, list[str]]:
    """Confirm the enrolment device with a code from the app, and make the recovery codes
    (returned once, to be shown once). OtpError, nothing confirmed, on a wrong code or when
    the user has a confirmed device already (a second enrolment needs a reset first)."""
    if has_device(user):
        raise OtpError("A second factor is set up already.", code="otp_already_enrolled")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        raise OtpError("Start the set-up again: reload the page.", code="otp_enrolment_missing")
    # Verified in its own transaction, so that a wrong code's throttling is kept.
    if django_otp.verify_token(user, device.persistent_id, _normalised(token)) is None:
        raise OtpError("The code is not valid: check the app's clock and try the current code.")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    with transaction.atomic(), audit_as(user):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        for old in StaticDevice.objects.filter(user=user):
            old.delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    return device, codes


def otp_verify(*, user, token) -> Device | None:
    """The device that accepts the code (a 6-digit app code, or a recovery code, which is
    used up), or None. Each device tried counts a wrong code toward its throttling."""
    token = _normalised(token)
    if not token:
        return None
    model = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    for device in model.objects.filter(user=user, confirmed=True).order_by("pk"):
        verified = django_otp.verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    return None


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- failures and lockout ------------------------------------------------------------------
def _credentials(user, stage: str) -> dict:
    return {"username": user.get_username(), "stage": stage}


def account_locked(request, user) -> bool:
    """Axes has locked this user out (from this address)."""
    return AxesProxyHandler.is_locked(request, {"username": user.get_username()})


def otp_failure_record(request, user, *, stage: str = "otp") -> bool:
    """Report a wrong code as a failed sign-in (axes, the audit trail). True when the account
    is now locked out: the session is then ended."""
    user_login_failed.send(sender=__name__, credentials=_credentials(user, stage), request=request)
    if getattr(request, "axes_locked_out", False) or account_locked(request, user):
        logout(request)
        return True
    return False


def otp_success_record(request, user) -> None:
    """A code was accepted: the failures counted toward the account's lockout from this
    address start again, as a right password's do at sign-in (AXES_RESET_ON_SUCCESS, which
    acts on the password alone). Without it, wrong codes at re-authentication in a long
    session added up to a lockout however many right ones came between. A guesser gains
    nothing: a right code is what they lack, and django-otp throttles the wrong ones."""
    address = get_client_ip_address(request)
    if address:  # without one, the count is left: it must not clear other addresses' failures
        AxesProxyHandler.reset_attempts(ip_address=address, username=user.get_username())


# --- re-authentication ---------------------------------------------------------------------
def reauth_fresh(request) -> bool:
    """Password and code were confirmed in this verified session within STAFF_REAUTH_SECONDS."""
    at = request.session.get(REAUTH_AT)
    return (
        at is not None
        and 0 <= time.time() - at <= settings.STAFF_REAUTH_SECONDS
        and user_verified(request.user)
    )


def reauth_check(request, *, password: str, token: str) -> float:
    """Confirm the signed-in user's password and a code again; the time until which
    sensitive actions are open. ReauthFailed on a wrong one (counted by axes: the password
    by authenticate(), the code here); an account locked out by it is signed out."""
    user = request.user
    if account_locked(request, user):
        logout(request)
        raise AccountLocked()
    try:
        checked = authenticate(request, username=user.get_username(), password=password or "")
    except DjangoPermissionDenied:
        checked = None
    if checked is None or checked.pk != user.pk:
        # authenticate() reported the failure (user_login_failed) itself.
        if getattr(request, "axes_locked_out", False) or account_locked(request, user):
            logout(request)
            raise AccountLocked()
        raise ReauthFailed()
    if otp_verify(user=user, token=token) is None:
        if otp_failure_record(request, user, stage="reauth"):
            raise AccountLocked()
        raise ReauthFailed()
    otp_success_record(request, user)
    now = time.time()
    request.session[REAUTH_AT] = now
    return now + settings.STAFF_REAUTH_SECONDS


# --- reset ---------------------------------------------------------------------------------
def otp_devices_reset(*, actor, staff) -> int:
    """Delete every second-factor device of `staff` (app and recovery codes); they enrol
    again at their next request (their sessions lose their verification at once). Needs
    security.reset_staff_otp and `staff` within the actor's staff scope; a superuser's
    devices only by a superuser. Each deleted device is an audit row (auditlog, secrets
    excluded: apps.py) naming the actor. Returns how many devices were deleted."""
    if not actor.has_perm(RESET_PERMISSION):
        raise PermissionDenied("You may not reset second factors.")
    if staff.is_superuser and not actor.is_superuser:
        raise PermissionDenied("Only a superuser may reset a superuser's second factor.")
    if not staff_visible_to(actor).filter(pk=staff.pk).exists():
        raise PermissionDenied("This staff member is not yours to manage.")
    deleted = 0
    with transaction.atomic(), audit_as(actor):
        for model in (TOTPDevice, StaticDevice):
            # One by one, so that each deletion is its own audit row.
            for device in model.objects.select_for_update().filter(user=staff).order_by("pk"):
                device.delete()
                deleted += 1
    return deleted
