"""BeAware errors with stable codes; the admin shows their message, the API returns them."""

from apps.core.exceptions import DomainError
from apps.core.exceptions import PermissionDenied as CorePermissionDenied


class RulesError(DomainError):
    code = "rules_error"


class ConditionInvalid(RulesError):
    code = "condition_invalid"
    default_message = "The condition is not valid."


class ActionsInvalid(RulesError):
    code = "actions_invalid"
    default_message = "The actions are not valid."


class TriggersInvalid(RulesError):
    code = "triggers_invalid"
    default_message = "The triggers are not valid."


class BacktestRefused(RulesError):
    code = "backtest_refused"
    default_message = "The backtest cannot be run."


class RulesPermissionDenied(CorePermissionDenied):
    code = "permission_denied"
