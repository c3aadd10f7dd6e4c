"""Re-authentication for sensitive actions (issue 9): one decorator for every door.

    @reauth_required("approve a large withdrawal", when=lambda self, request, pk=None: ...)

Put on the door (an admin view or action, a DRF view or action) of an action that needs the
staff member's password and second-factor code confirmed within STAFF_REAUTH_SECONDS
(otp.reauth_fresh). `when`, called with the door's own arguments, narrows it to the cases
that need it (a large withdrawal, a user who may run the action at all); without it, always.

Without a fresh confirmation:
- the staff API raises ReauthRequired: 403 `reauth_required`; the client POSTs the password
  and a code to /api/v1/staff/reauth and repeats the call;
- the admin redirects to the re-authentication page, which returns to the page the action
  was started from (a GET door: the page itself). A POST is not replayed: the staff member
  repeats the action (nothing was changed).

Sensitive actions today: approving a withdrawal above its brand's four-eyes threshold
(payments), staff limit changes (responsible_gaming), personal-data exports (marketing
exports, player CSV exports).
"""

import functools
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework import exceptions
from rest_framework.request import Request

from apps.security.otp import reauth_fresh


class ReauthRequired(exceptions.PermissionDenied):
    error_code = "reauth_required"
    default_detail = (
        "This action needs your password and code again: POST them to /api/v1/staff/reauth, "
        "then repeat the request."
    )


def _request_of(args) -> HttpRequest | Request:
    return next(a for a in args if isinstance(a, HttpRequest | Request))


def _return_to(request: HttpRequest) -> str:
    if request.method == "GET":
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return reverse("admin:index")


def reauth_redirect(request: HttpRequest, why: str) -> HttpResponseRedirect:
    messages.info(request, f"To {why}, confirm your password and code first.")
    query = urlencode({"next": _return_to(request), "why": why})
    return HttpResponseRedirect(f"{reverse('security-reauth')}?{query}")


def reauth_required(why: str, *, when=None):
    """Decorate a door of a sensitive action (see the module's docstring)."""

    def decorate(door):
        @functools.wraps(door)
        def guarded(*args, **kwargs):
            request = _request_of(args)
            if (when is None or when(*args, **kwargs)) and not reauth_fresh(request):
                if isinstance(request, Request):
                    raise ReauthRequired()
                return reauth_redirect(request, why)
            return door(*args, **kwargs)

        guarded.reauth_why = why
        return guarded

    return decorate
