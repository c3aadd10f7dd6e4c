"""Errors of the exclusions app. Every way a register can fail is a RegisterUnavailable,
so callers have one thing to catch and always fail closed on it."""

from apps.core.exceptions import DomainError, PermissionDenied


class ExclusionsError(DomainError):
    code = "exclusions_error"


class RegisterUnavailable(ExclusionsError):
    """The register could not give a usable answer: network error, timeout, 4xx/5xx,
    malformed answer, open circuit, missing configuration, or a person it cannot be asked
    about. Never read as "not excluded"."""

    code = "register_unavailable"
    http_status = 503
    default_message = "The self-exclusion register cannot be checked now. Please try again later."

    def __init__(self, message: str | None = None, *, code: str | None = None, request: dict | None = None):
        super().__init__(message, code=code)
        # What was (or would have been) sent, for the stored check; never the API key.
        self.request = request or {}


class RegisterRequestInvalid(RegisterUnavailable):
    """The person cannot be sent as the protocol requires (a field too short or too long).
    Not truncated: a changed name could match nobody, so the check fails closed instead."""

    code = "register_request_invalid"


class RegisterNotConfigured(RegisterUnavailable):
    code = "register_not_configured"


class CheckNowDenied(PermissionDenied):
    code = "check_now_denied"
    default_message = "You may not check this player against a register."


class RegisterConfigDenied(PermissionDenied):
    code = "register_config_denied"
    default_message = "You may not configure registers for this brand."
