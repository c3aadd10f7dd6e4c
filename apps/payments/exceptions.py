"""Payment errors with stable codes; adapters map them to their protocol (PaymentIQ errCode)."""

from apps.core.exceptions import Conflict, DomainError, NotFound
from apps.core.exceptions import PermissionDenied as CorePermissionDenied


class PaymentsError(DomainError):
    code = "payments_error"


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    default_message = "No such payment."


class TransitionRefused(Conflict):
    """The payment is not in a state where this can happen."""

    code = "illegal_transition"
    default_message = "The payment cannot make this change in its current state."


class ReviewConflict(Conflict):
    """Someone else holds the item, or it is not under review."""

    code = "review_conflict"
    default_message = "This review item is not available to you."


class FourEyes(Conflict):
    code = "four_eyes"
    default_message = "Another person must give the second approval."


class PaymentPermissionDenied(CorePermissionDenied):
    code = "permission_denied"


class InvalidPayment(PaymentsError):
    code = "invalid_payment"
    default_message = "The payment request is not valid."


class ReasonRequired(PaymentsError):
    code = "reason_required"
    default_message = "A reason is required."


class DuplicatePayment(Conflict):
    """The idempotency key was used before for a different payment."""

    code = "duplicate_payment"
    default_message = "This payment reference was already used with different details."
