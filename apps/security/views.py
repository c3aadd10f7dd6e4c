"""The second-factor pages of the staff UI: enrolment, verification, re-authentication.

Thin doors over apps/security/otp.py. They extend the admin's base template (with the
admin's context, but no navigation: an unverified session has nothing to navigate to) and
answer only an active staff session; the enrolment and verify pages are the two admin
pages an unverified session may open (staff_session.StaffSessionMiddleware).
"""

from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from apps.core.exceptions import DomainError
from apps.security import otp


def _next(request) -> str:
    """Where to go afterwards: a same-site path, else the admin's index."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _page(request, template: str, title: str, **context):
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "available_apps": [],
        "title": title,
        "next": _next(request),
        **context,
    }
    return render(request, f"admin/security/{template}", context)


def staff_page(view):
    """A signed-in, active staff user (else the login page, or 403), never cached."""

    @login_required
    def guarded(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return never_cache(guarded)


def _locked_out(request):
    messages.error(request, "Too many failed attempts: the account is locked for now.")
    return HttpResponseRedirect(reverse("admin:login"))


@staff_page
def otp_enrol(request):
    """Set up the authenticator app: QR code and key, confirmed by a code; then the recovery
    codes, shown once."""
    user = request.user
    if otp.has_device(user):
        return HttpResponseRedirect(f"{reverse('security-otp-verify')}?{urlencode({'next': _next(request)})}")
    error = ""
    if request.method == "POST":
        try:
            device, codes = otp.otp_enrol_confirm(user=user, token=request.POST.get("token", ""))
        except DomainError as exc:
            # Only a wrong code is a failed attempt (not a set-up already done, or restarted).
            if exc.code == "otp_invalid" and otp.otp_failure_record(request, user):
                return _locked_out(request)
            error = exc.message
        else:
            otp.otp_success_record(request, user)
            request.session.cycle_key()
            django_otp.login(request, device)
            return _page(request, "otp_codes.html", "Your recovery codes", codes=codes)
    device = otp.enrolment_device(user)
    return _page(
        request,
        "otp_enrol.html",
        "Set up your second factor",
        qr_data_uri=otp.qr_data_uri(device),
        secret=otp.totp_secret(device),
        error=error,
    )


@staff_page
def otp_verify(request):
    """Enter a code from the app, or a recovery code (used up)."""
    user = request.user
    if not otp.has_device(user):
        return HttpResponseRedirect(f"{reverse('security-otp-enrol')}?{urlencode({'next': _next(request)})}")
    if otp.user_verified(user):
        return HttpResponseRedirect(_next(request))
    if otp.account_locked(request, user):
        logout(request)
        return _locked_out(request)
    error = ""
    if request.method == "POST":
        device = otp.otp_verify(user=user, token=request.POST.get("token", ""))
        if device is None:
            if otp.otp_failure_record(request, user):
                return _locked_out(request)
            error = "The code is not valid (or was used already). Try the current code."
        else:
            otp.otp_success_record(request, user)
            request.session.cycle_key()
            django_otp.login(request, device)
            if device.name == otp.RECOVERY_NAME:
                left = otp.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. Ask an administrator to "
                    "reset your second factor if you lost the app.",
                )
            return HttpResponseRedirect(_next(request))
    return _page(request, "otp_verify.html", "Second factor", error=error)


@sensitive_post_parameters("password", "token")
@staff_page
def reauth(request):
    """Confirm password and code again before a sensitive action (apps/security/reauth.py)."""
    why = (request.POST.get("why") or request.GET.get("why") or "")[:200]
    error = ""
    if request.method == "POST":
        try:
            otp.reauth_check(
                request, password=request.POST.get("password", ""), token=request.POST.get("token", "")
            )
        except DomainError as exc:
            if exc.code == "locked_out":
                return _locked_out(request)
            error = exc.message
        else:
            messages.success(request, "Confirmed. Repeat the action if it was not carried out.")
            return HttpResponseRedirect(_next(request))
    minutes = max(1, settings.STAFF_REAUTH_SECONDS // 60)
    return _page(request, "reauth.html", "Confirm it is you", why=why, error=error, minutes=minutes)
