"""Errors of the compliance app, with stable codes."""

from apps.core.exceptions import DomainError


class ComplianceError(DomainError):
    code = "compliance_error"


class OverrideRefused(ComplianceError):
    """A brand override that is unknown, malformed or looser than its pack."""

    code = "override_refused"
    default_message = "This override is not allowed."


class ComplianceRefused(ComplianceError):
    """compliance.check said no, raised by a door that wants an exception (see Decision.raise_if_refused)."""

    code = "compliance_refused"
    http_status = 403
    default_message = "A compliance rule stops this."
