"""Errors of responsible gaming. Guard refusals are core GuardRefusals with precise codes:

- "timed_out", "self_excluded", "account_closed": the player may not play or pay in now
  (Hub88: RS_ERROR_USER_DISABLED);
- "deposit_limit", "loss_limit", "wager_limit", "stake_cap", "limit_currency": this
  movement would break a limit (Hub88: RS_ERROR_LIMIT_REACHED).
"""

from apps.core.exceptions import DomainError
from apps.core.guards import GuardRefusal

BLOCKING_CODES = frozenset({"timed_out", "self_excluded", "account_closed"})


class ResponsibleGamingError(DomainError):
    code = "responsible_gaming_error"


class PlayerBlocked(GuardRefusal):
    code = "self_excluded"
    http_status = 403
    default_message = "The player is excluded from play."


class LimitReached(GuardRefusal):
    code = "limit_reached"
    http_status = 403
    default_message = "This would exceed a limit."


class LimitRefused(ResponsibleGamingError):
    """A limit change that is not allowed (unknown kind, removing a required limit, ...)."""

    code = "limit_refused"


class ExclusionRefused(ResponsibleGamingError):
    code = "exclusion_refused"
