"""Staff sessions (issue 9): timeouts and the second-factor gate, at every staff door.

- Timeouts: a session is signed out after STAFF_SESSION_IDLE_SECONDS without a request and
  STAFF_SESSION_MAX_SECONDS after signing in. The admin then redirects to its login page
  (with a message); the staff API answers 403 `session_expired` (the API's JSON error).
- Second factor: a signed-in staff user whose session has not accepted a code is sent, on
  every admin page but the login, logout and the second-factor pages themselves, to the
  enrolment page (no confirmed device yet) or the verify page. The staff API (DRF, this
  module's StaffSessionAuthentication, the default authentication class) answers 403
  `otp_required`. Player API calls authenticate by token and are not affected.
- The dashboards' websocket checks the same at connect (interface.staff_session_valid).

"Last seen" is written at most every SEEN_GRANULARITY seconds, so that not every request
writes the session; the idle timeout is that much less precise.
"""

import time
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from apps.security import otp

SEEN_GRANULARITY = 15.0
ADMIN_PREFIX = "/admin/"


class SessionExpired(exceptions.NotAuthenticated):
    error_code = "session_expired"
    default_detail = "The session has expired: sign in again."


class OtpRequired(exceptions.PermissionDenied):
    error_code = "otp_required"
    default_detail = "Confirm your second factor first: sign in to the back-office and enter your code."


class StaffSessionAuthentication(SessionAuthentication):
    """DRF's session authentication (CSRF included), refusing an expired session
    (session_expired) and one without an accepted second-factor code (otp_required)."""

    def authenticate(self, request):
        if getattr(request._request, "staff_session_expired", False):
            raise SessionExpired()
        result = super().authenticate(request)
        if result is not None and not otp.user_verified(result[0]):
            raise OtpRequired()
        return result


class StaffSessionScheme(SessionScheme):
    """The API description: the staff session cookie (the second factor is its state)."""

    target_class = "apps.security.staff_session.StaffSessionAuthentication"


def _login_url(next_path: str) -> str:
    return f"{reverse('admin:login')}?{urlencode({'next': next_path})}"


class StaffSessionMiddleware:
    """After OTPMiddleware and MessageMiddleware (it may sign out, and tells why)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt: frozenset[str] | None = None

    def exempt_paths(self) -> frozenset[str]:
        if self._exempt is None:
            self._exempt = frozenset(
                reverse(name)
                for name in (
                    "admin:login",
                    "admin:logout",
                    "admin:jsi18n",
                    "security-otp-enrol",
                    "security-otp-verify",
                )
            )
        return self._exempt

    def __call__(self, request):
        # Only a session can sign a staff user in; requests without one (players' tokens,
        # provider callbacks) pass untouched.
        if not request.COOKIES or not request.user.is_authenticated:
            return self.get_response(request)
        now = time.time()
        session = request.session
        why = otp.session_expired_why(session, now)
        if why:
            logout(request)
            return self.expired(request, why)
        if otp.SIGNED_IN_AT not in session:
            # A session from before these clocks: they start now.
            otp.session_signed_in(session, now)
        elif now - session.get(otp.SEEN_AT, 0) >= SEEN_GRANULARITY:
            session[otp.SEEN_AT] = now
        if (
            request.path.startswith(ADMIN_PREFIX)
            and request.user.is_staff
            and not otp.user_verified(request.user)
            and request.path not in self.exempt_paths()
        ):
            page = "security-otp-verify" if otp.has_device(request.user) else "security-otp-enrol"
            return HttpResponseRedirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def expired(self, request, why: str):
        if request.path.startswith(ADMIN_PREFIX) and request.path not in self.exempt_paths():
            text = "idle for too long" if why == "idle" else "at its maximum length"
            messages.warning(request, f"Your session ended ({text}): sign in again.")
            return HttpResponseRedirect(_login_url(request.get_full_path()))
        # The staff API's authentication class answers session_expired; other doors see an
        # anonymous caller.
        request.staff_session_expired = True
        return self.get_response(request)
