"""Events payments publishes: every transition of a payment, and the review's steps.

The timeline, the rule engine and the live dashboards consume them (later issues). Each
carries the payment's identity, money and status, so a subscriber needs no query.
"""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class PaymentEvent(DomainEvent):
    """Base of every payment event; `event_type` names what happened."""

    payment_id: int
    reference: str
    kind: str  # "deposit" or "withdrawal"
    player_id: int
    brand_id: int
    amount: int  # minor units
    currency: str
    method: str
    provider: str
    status: str  # the status after the change
    previous_status: str = ""
    reason: str = ""
    flags: tuple = ()  # the review flags' codes


@dataclass(frozen=True)
class DepositInitiated(PaymentEvent):
    event_type: ClassVar[str] = "payments.deposit_initiated"


@dataclass(frozen=True)
class DepositCompleted(PaymentEvent):
    event_type: ClassVar[str] = "payments.deposit_completed"


@dataclass(frozen=True)
class WithdrawalRequested(PaymentEvent):
    event_type: ClassVar[str] = "payments.withdrawal_requested"


@dataclass(frozen=True)
class WithdrawalProcessing(PaymentEvent):
    event_type: ClassVar[str] = "payments.withdrawal_processing"


@dataclass(frozen=True)
class WithdrawalPaid(PaymentEvent):
    event_type: ClassVar[str] = "payments.withdrawal_paid"


@dataclass(frozen=True)
class PaymentFlagged(PaymentEvent):
    """Held for review; `flags` says why."""

    event_type: ClassVar[str] = "payments.payment_flagged"


@dataclass(frozen=True)
class PaymentApproved(PaymentEvent):
    event_type: ClassVar[str] = "payments.payment_approved"


@dataclass(frozen=True)
class PaymentApprovalRecorded(PaymentEvent):
    """One of several approvals four eyes needs (the payment still waits for another)."""

    event_type: ClassVar[str] = "payments.approval_recorded"


@dataclass(frozen=True)
class PaymentRejected(PaymentEvent):
    event_type: ClassVar[str] = "payments.payment_rejected"


@dataclass(frozen=True)
class PaymentFailed(PaymentEvent):
    event_type: ClassVar[str] = "payments.payment_failed"


@dataclass(frozen=True)
class PaymentCancelled(PaymentEvent):
    event_type: ClassVar[str] = "payments.payment_cancelled"


@dataclass(frozen=True)
class ReviewClaimed(PaymentEvent):
    event_type: ClassVar[str] = "payments.review_claimed"


@dataclass(frozen=True)
class ReviewUnclaimed(PaymentEvent):
    event_type: ClassVar[str] = "payments.review_unclaimed"


@dataclass(frozen=True)
class ReviewEscalated(PaymentEvent):
    event_type: ClassVar[str] = "payments.review_escalated"


@dataclass(frozen=True)
class PaymentIncidentRecorded(PaymentEvent):
    """A provider did what the protocol refuses (transfer after cancel, payout before approval)."""

    event_type: ClassVar[str] = "payments.incident_recorded"
