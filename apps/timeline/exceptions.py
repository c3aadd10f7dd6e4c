"""Errors of the timeline app (retention policies and GDPR erasure), with stable codes."""

from apps.core.exceptions import Conflict, DomainError


class TimelineError(DomainError):
    code = "timeline_error"


class PolicyRefused(TimelineError):
    """summarise_game_only, below_legal_minimum, brand_jurisdiction."""

    code = "policy_refused"


class ErasureRefused(TimelineError):
    """reason_required, already_erased."""

    code = "erasure_refused"


class ErasureAlreadyRequested(Conflict):
    code = "erasure_already_requested"
    default_message = "An erasure of this player is already requested."
