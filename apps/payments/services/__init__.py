"""Writes of payments: every transition of a deposit or withdrawal, and the review workflow.

Contract of every service here:
- One transaction. The payment row is locked (SELECT ... FOR UPDATE) before its status is
  read, so two transitions of one payment queue and the second sees the first's result;
  a payment's lock is always taken before its wallet's row (the wallet service takes that),
  so there is no lock cycle.
- Money moves only through apps.wallet.services, keyed by (source "payments", the payment's
  reference and the step): a repeated step moves nothing twice.
- Every transition is a django-fsm transition (models.py): an illegal one is refused with
  TransitionRefused and changes nothing. Each publishes an event (events.py) and, for staff
  actions, writes a ReviewAction and an audit row naming the person.
- Staff actions check their own permission on the payment's brand (user_can): a person
  who cannot see the brand gets the same answer as for a payment that does not exist.

payments.py starts and ends payments; review.py is the review queue; _common.py what both use.
"""

from apps.payments.services._common import MAX_AMOUNT, SOURCE, AccountInfo
from apps.payments.services.payments import (
    deposit_confirm,
    deposit_initiate,
    incident_record,
    incident_resolve,
    payment_cancel,
    payment_fail,
    withdrawal_cancel_by_player,
    withdrawal_paid,
    withdrawal_process,
    withdrawal_request,
)
from apps.payments.services.review import (
    review_approve,
    review_bulk_approve,
    review_claim,
    review_escalate,
    review_reject,
    review_unclaim,
    reviews_escalate_overdue,
)

__all__ = [
    "MAX_AMOUNT",
    "SOURCE",
    "AccountInfo",
    "deposit_confirm",
    "deposit_initiate",
    "incident_record",
    "incident_resolve",
    "payment_cancel",
    "payment_fail",
    "review_approve",
    "review_bulk_approve",
    "review_claim",
    "review_escalate",
    "review_reject",
    "review_unclaim",
    "reviews_escalate_overdue",
    "withdrawal_cancel_by_player",
    "withdrawal_paid",
    "withdrawal_process",
    "withdrawal_request",
]
