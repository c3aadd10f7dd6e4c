"""Payments: deposits and withdrawals, their state machines, review and provider records.

A Payment is the operator's record of one deposit or withdrawal, whichever provider moved
the money. Its status changes only through the django-fsm transitions below, and those
only through services.py (each transition a service with its own permission, audited and
published as an event). Money never lives here: the wallet's ledger moves it, and the
payment names the ledger transactions by its reference.

Deposits:     initiated -> pending -> completed | failed | cancelled
              initiated -> flagged <-> in_review -> approved -> completed
                                                 -> rejected
Withdrawals:  requested (funds reserved) -> auto_approved | pending_review
              pending_review <-> in_review -> approved | rejected (funds released)
              auto_approved | approved -> processing -> paid | failed (funds released)
              requested .. approved -> cancelled by the player (funds released)
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from apps.core.models import Currency
from apps.players.models import Player
from apps.tenants.models import Brand
from apps.wallet.models import Wallet


class Method(models.TextChoices):
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    EWALLET = "ewallet", "E-wallet"
    CRYPTO = "crypto", "Crypto"


class CardType(models.TextChoices):
    NONE = "", "—"
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class Status(models.TextChoices):
    # deposits
    INITIATED = "initiated", "Initiated"
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
    FLAGGED = "flagged", "Flagged"
    # withdrawals
    REQUESTED = "requested", "Requested"
    AUTO_APPROVED = "auto_approved", "Auto-approved"
    PENDING_REVIEW = "pending_review", "Pending review"
    PROCESSING = "processing", "Processing"
    PAID = "paid", "Paid"
    # both
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


S = Status
# Waiting for a reviewer (the queue) and being reviewed.
AWAITING_REVIEW = (S.FLAGGED, S.PENDING_REVIEW)
UNDER_REVIEW = (*AWAITING_REVIEW, S.IN_REVIEW)
FINAL = (S.COMPLETED, S.PAID, S.REJECTED, S.FAILED, S.CANCELLED)
# A withdrawal's money is reserved in the wallet in these states.
WITHDRAWAL_RESERVED = (S.REQUESTED, S.AUTO_APPROVED, S.PENDING_REVIEW, S.IN_REVIEW, S.APPROVED, S.PROCESSING)


class Queue(models.TextChoices):
    NONE = "", "—"
    STANDARD = "standard", "Standard"
    SENIOR = "senior", "Senior"


def _deposit(payment) -> bool:
    return payment.kind == Payment.Kind.DEPOSIT


def _withdrawal(payment) -> bool:
    return payment.kind == Payment.Kind.WITHDRAWAL


class PaymentAccount(models.Model):
    """A card, bank account or e-wallet a player paid with or asked to be paid to.

    `account_ref` is the provider's stable id of the account (PaymentIQ accountId, an IBAN's
    hash); `masked` is what staff may see (a card's last four digits, a masked IBAN).
    """

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="payment_accounts")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=16, choices=Method.choices)
    account_ref = models.CharField(max_length=128)
    masked = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["player", "method", "account_ref"], name="payments_account_unique_per_player"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.masked or '•••'}"


class Payment(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="payments")
    # Denormalised from the player: every list is scoped by brand without a join.
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="payments")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="payments")
    amount = models.BigIntegerField(help_text="Minor units of the currency; always positive.")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=16, choices=Method.choices)
    card_type = models.CharField(max_length=8, choices=CardType.choices, blank=True, default="")
    account = models.ForeignKey(
        PaymentAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    provider = models.CharField(max_length=32, help_text='The provider adapter, e.g. "paymentiq".')
    provider_reference = models.CharField(max_length=128, blank=True, help_text="The provider's id (txId).")
    # Changed only through the transitions below, and those only through services.py.
    status = FSMField(max_length=16, choices=Status.choices)
    # Every reason the review rules gave, as [{"code": ..., "detail": ...}], kept after review.
    risk_flags = models.JSONField(default=list, blank=True)
    # A deposit whose provider reported the money received while it waited for review.
    funds_received = models.BooleanField(default=False)

    # Review: which queue, its deadline, who holds it, how many approvals it needs.
    queue = models.CharField(max_length=8, choices=Queue.choices, blank=True, default="")
    sla_due_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_positive"),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="payments_provider_reference_unique",
            ),
            # Only an item under review can be held by a reviewer.
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True) | Q(status="in_review"),
                name="payments_claim_only_in_review",
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "status", "sla_due_at"], name="payments_queue_idx"),
            # The review queue across brands (the metrics endpoint's size and SLA breaches).
            models.Index(
                fields=["queue", "sla_due_at"],
                name="payments_under_review_idx",
                condition=Q(status__in=UNDER_REVIEW),
            ),
            models.Index(fields=["player", "kind", "created_at"], name="payments_player_kind_idx"),
        ]
        permissions = [
            ("review_payments", "Can claim, unclaim and work the payment review queue"),
            ("review_senior_queue", "Can work the senior (escalated) review queue"),
            ("approve_payment", "Can approve or reject a flagged deposit or withdrawal"),
            ("approve_large_withdrawal", "Can give the final approval of a withdrawal above four eyes"),
            ("bulk_approve_payments", "Can approve low-risk review items in bulk"),
            ("escalate_payment", "Can escalate a review item to the senior queue"),
            ("process_payouts", "Can record a manual payout as sent, paid or failed"),
            ("record_manual_deposit", "Can record a bank transfer received as a deposit"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}

    @property
    def flag_codes(self) -> list[str]:
        return [flag.get("code", "") for flag in self.risk_flags or []]

    # --- deposits ---------------------------------------------------------------------
    @transition(field=status, source=S.INITIATED, target=S.PENDING, conditions=[_deposit])
    def submit(self):
        """Sent to the provider, which now moves the money."""

    @transition(
        field=status, source=[S.INITIATED, S.PENDING, S.APPROVED], target=S.FLAGGED, conditions=[_deposit]
    )
    def flag(self):
        """A review rule fired (or, once funded, the wallet refused the credit): a person
        decides before the money is credited."""

    @transition(field=status, source=[S.PENDING, S.APPROVED], target=S.COMPLETED, conditions=[_deposit])
    def complete(self):
        """The money arrived and was credited to the wallet."""

    # --- withdrawals ------------------------------------------------------------------
    @transition(field=status, source=S.REQUESTED, target=S.AUTO_APPROVED, conditions=[_withdrawal])
    def auto_approve(self):
        """No review rule fired."""

    @transition(field=status, source=S.REQUESTED, target=S.PENDING_REVIEW, conditions=[_withdrawal])
    def hold_for_review(self):
        """A review rule fired; the money stays reserved while a person decides."""

    @transition(
        field=status, source=[S.AUTO_APPROVED, S.APPROVED], target=S.PROCESSING, conditions=[_withdrawal]
    )
    def process(self):
        """Handed to the provider for payout."""

    @transition(
        field=status,
        source=[S.PROCESSING, S.REQUESTED, S.AUTO_APPROVED, S.PENDING_REVIEW, S.IN_REVIEW, S.APPROVED],
        target=S.PAID,
        conditions=[_withdrawal],
    )
    def pay(self):
        """The provider paid it out. Normally from processing; a provider that reports a payout
        it made before our decision is believed (the money is gone) and the payment is flagged."""

    # --- review (both kinds) ------------------------------------------------------------
    @transition(field=status, source=AWAITING_REVIEW, target=S.IN_REVIEW)
    def claim(self):
        """A reviewer takes the item; nobody else can work it until it is unclaimed."""

    @transition(field=status, source=S.IN_REVIEW, target=S.FLAGGED, conditions=[_deposit])
    def unclaim_deposit(self):
        pass

    @transition(field=status, source=S.IN_REVIEW, target=S.PENDING_REVIEW, conditions=[_withdrawal])
    def unclaim_withdrawal(self):
        pass

    @transition(field=status, source=S.IN_REVIEW, target=S.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=S.IN_REVIEW, target=S.REJECTED)
    def reject(self):
        pass

    # --- endings ------------------------------------------------------------------------
    @transition(
        field=status,
        source=[
            S.INITIATED,
            S.PENDING,
            S.FLAGGED,
            S.IN_REVIEW,
            S.APPROVED,
            S.REQUESTED,
            S.AUTO_APPROVED,
            S.PENDING_REVIEW,
            S.PROCESSING,
        ],
        target=S.FAILED,
    )
    def fail(self):
        """The provider could not move the money (a withdrawal's reserve is released)."""

    @transition(
        field=status,
        source=[
            S.INITIATED,
            S.PENDING,
            S.FLAGGED,
            S.IN_REVIEW,
            S.APPROVED,
            S.REQUESTED,
            S.AUTO_APPROVED,
            S.PENDING_REVIEW,
        ],
        target=S.CANCELLED,
    )
    def cancel(self):
        """Cancelled by the player or the provider before the money moved."""


class PaymentApproval(models.Model):
    """One person's approval of a payment under review; four eyes needs two different people."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="approvals")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payment", "staff"], name="payments_one_approval_per_person"),
        ]

    def __str__(self) -> str:
        return f"approval of payment {self.payment_id} by {self.staff_id}"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.payment.brand.operator_id, "brand_id": self.payment.brand_id}


def default_low_risk_flags() -> list[str]:
    return ["first_withdrawal", "new_payment_account"]


class ReviewPolicy(models.Model):
    """A brand's review rules (admin). A brand without one uses the defaults below."""

    brand = models.OneToOneField(Brand, on_delete=models.PROTECT, related_name="review_policy")
    # {"EUR": "2000.00", "GBP": "1700.00"}: at or above, a payment is reviewed (on top of
    # the jurisdiction's AML thresholds, which compliance.check applies).
    amount_thresholds = models.JSONField(default=dict, blank=True)
    # {"EUR": "1000.00"}: a withdrawal above needs a second person's approval.
    four_eyes_above = models.JSONField(default=dict, blank=True)
    review_first_withdrawal = models.BooleanField(default=True)
    review_kyc_not_verified = models.BooleanField(default=True)
    review_method_mismatch = models.BooleanField(default=True)
    # A withdrawal this soon after a deposit, with less than `min_play_ratio` of that
    # deposit staked since, is reviewed (deposit-and-withdraw laundering pattern).
    no_play_window_hours = models.PositiveIntegerField(default=24)
    min_play_ratio = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    # A payment account first seen less than this long ago is new.
    new_account_days = models.PositiveIntegerField(default=7)
    # More than `velocity_count` payments of one kind within `velocity_minutes`.
    velocity_count = models.PositiveIntegerField(default=5)
    velocity_minutes = models.PositiveIntegerField(default=60)
    # Flags that still count as low risk: items with only these may be approved in bulk. An
    # empty list means none: nothing is approved in bulk.
    low_risk_flags = models.JSONField(default=default_low_risk_flags, blank=True)
    sla_minutes = models.PositiveIntegerField(default=240, help_text="Standard queue deadline.")
    senior_sla_minutes = models.PositiveIntegerField(default=480, help_text="Senior queue deadline.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "review policies"

    def __str__(self) -> str:
        return f"review policy of {self.brand}"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class ReviewAction(models.Model):
    """The review history of a payment: who claimed, approved, escalated it, and why."""

    class Action(models.TextChoices):
        FLAGGED = "flagged", "Flagged"
        CLAIMED = "claimed", "Claimed"
        UNCLAIMED = "unclaimed", "Unclaimed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        ESCALATED = "escalated", "Escalated"
        NOTE = "note", "Note"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="review_actions")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.CharField(max_length=64, help_text="staff:ID, system:NAME or provider:NAME")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} of payment {self.payment_id}"


class ProviderCall(models.Model):
    """A provider's call we answered, kept so that a repeat gets the original answer.

    Keyed by (provider, integration, action, provider's transaction id): the first call
    claims the key in its transaction; a repeat waits for it and is answered from here.
    """

    provider = models.CharField(max_length=32)
    integration_id = models.BigIntegerField()
    action = models.CharField(max_length=16)
    tx_id = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "integration_id", "action", "tx_id"], name="payments_provider_call_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.action} {self.tx_id}"


class PaymentIncident(models.Model):
    """Something a provider did that the protocol refuses but a person must look at
    (a transfer after a cancel, a payout reported before our approval)."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=32)
    code = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.code} ({self.provider})"


from apps.payments.providers.paymentiq.models import PaymentIQIntegration  # noqa: E402,F401
