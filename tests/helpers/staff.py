"""Signing staff in as the product requires: a session with an accepted second factor.

`staff_login(client, user)` is force_login plus what a code accepted on the verify page
leaves in the session (django-otp's device id), for a confirmed TOTP device made for the
user. `reauthenticated=True` also records a fresh password + code confirmation, for tests
of a sensitive action's own behaviour (tests/security/test_otp.py tests the re-auth).
"""

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.security.otp import REAUTH_AT

# force_login would otherwise pick axes' backend (the first one), which cannot load users.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def totp_device(user) -> TOTPDevice:
    """The user's confirmed authenticator device (made on first ask)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="test app", confirmed=True)


def totp_now(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    """The device's current code, as the user's app would show it."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset_steps)
    return str(code).zfill(device.digits)


def totp_wrong(device: TOTPDevice) -> str:
    """A well-formed code that is not the device's current one."""
    return str((int(totp_now(device)) + 1) % 10**device.digits).zfill(device.digits)


def staff_login(client, user, *, reauthenticated: bool = False, backend: str = MODEL_BACKEND):
    """Sign `user` in on `client` (Django's Client or DRF's APIClient) with a verified second
    factor; the device."""
    device = totp_device(user)
    client.force_login(user, backend=backend)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    if reauthenticated:
        session[REAUTH_AT] = time.time()
    session.save()
    return device


def staff_reauthenticate(client) -> None:
    """Record a fresh password + code confirmation in the client's session."""
    session = client.session
    session[REAUTH_AT] = time.time()
    session.save()
