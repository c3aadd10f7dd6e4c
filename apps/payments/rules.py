"""Review rules: why a payment needs a person's eyes before money moves.

`screen(payment, decision)` runs every rule of the brand's ReviewPolicy (defaults when the
brand has none) and returns every reason that fired, as Flags; an empty list means the
payment goes straight through. Rules only read. Jurisdiction rules come from
compliance.check, whose `review` answer (the pack's AML thresholds) becomes a flag here,
and whose refusals (a GB credit card, a self-excluded player) refuse the payment before
it is screened at all.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from apps.payments.models import Payment, PaymentAccount, ReviewPolicy, Status
from apps.wallet.selectors import ledger_sums

logger = logging.getLogger(__name__)

# Every flag a payment can carry (from the rules here and from services.py), with the label
# staff read. One list, so that the admin's filter cannot drift from what is raised.
FLAG_LABELS = {
    "aml_threshold": "Jurisdiction AML threshold",
    "large_amount": "Large amount",
    "kyc_not_verified": "KYC not verified",
    "new_payment_account": "New payment account",
    "velocity": "Velocity",
    "first_withdrawal": "First withdrawal",
    "method_mismatch": "Method mismatch",
    "deposit_without_play": "Deposit without play",
    "four_eyes": "Four eyes",
    "credit_refused": "Wallet refused the credit",
    "paid_more_than_reserved": "Paid more than reserved",
    "paid_before_approval": "Paid before approval",
}


@dataclass(frozen=True)
class Flag:
    code: str
    detail: str

    def as_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail}


def policy_for(brand_id: int) -> ReviewPolicy:
    """The brand's review policy, or an unsaved one with the defaults."""
    return ReviewPolicy.objects.filter(brand_id=brand_id).first() or ReviewPolicy(brand_id=brand_id)


def threshold_minor(amounts: dict, currency: str, exponent: int) -> int | None:
    """A per-currency amount of a policy ({"EUR": "2000.00"}) in minor units, if set."""
    value = (amounts or {}).get(currency)
    if value in (None, ""):
        return None
    try:
        return int(Decimal(str(value)).scaleb(exponent))
    except (InvalidOperation, ValueError):
        # Fail safe: a threshold nobody can read reviews everything rather than nothing (the
        # admin's form refuses such values; this guards every other way in).
        logger.error("payments: unreadable policy amount %r for %s; treated as 0", value, currency)
        return 0


def screen(payment: Payment, *, compliance_review: bool, compliance_rule: str = "") -> list[Flag]:
    policy = policy_for(payment.brand_id)
    flags: list[Flag] = []
    exponent = payment.currency.exponent
    if compliance_review:
        flags.append(Flag("aml_threshold", f"Jurisdiction AML review ({compliance_rule or 'compliance'})."))
    limit = threshold_minor(policy.amount_thresholds, payment.currency_id, exponent)
    if limit is not None and payment.amount >= limit:
        flags.append(
            Flag("large_amount", f"At or above the brand's review threshold for {payment.currency_id}.")
        )
    if policy.review_kyc_not_verified and payment.player.kyc_status != "verified":
        flags.append(Flag("kyc_not_verified", f"KYC status is {payment.player.kyc_status}."))
    if payment.account_id is not None and payment.account.first_seen_at >= timezone.now() - timedelta(
        days=policy.new_account_days
    ):
        flags.append(Flag("new_payment_account", f"First seen within {policy.new_account_days} days."))
    if _velocity_exceeded(payment, policy):
        flags.append(
            Flag(
                "velocity",
                f"More than {policy.velocity_count} {payment.kind}s"
                f" within {policy.velocity_minutes} minutes.",
            )
        )
    if payment.kind == Payment.Kind.WITHDRAWAL:
        flags += _withdrawal_flags(payment, policy)
    return flags


def _velocity_exceeded(payment: Payment, policy: ReviewPolicy) -> bool:
    since = timezone.now() - timedelta(minutes=policy.velocity_minutes)
    recent = (
        Payment.objects.filter(player_id=payment.player_id, kind=payment.kind, created_at__gte=since)
        .exclude(pk=payment.pk)
        .count()
    )
    return recent + 1 > policy.velocity_count


def _withdrawal_flags(payment: Payment, policy: ReviewPolicy) -> list[Flag]:
    flags = []
    earlier = Payment.objects.filter(player_id=payment.player_id).exclude(pk=payment.pk)
    if (
        policy.review_first_withdrawal
        and not earlier.filter(kind=Payment.Kind.WITHDRAWAL, status=Status.PAID).exists()
    ):
        flags.append(Flag("first_withdrawal", "The player's first withdrawal."))
    deposits = earlier.filter(kind=Payment.Kind.DEPOSIT, status=Status.COMPLETED)
    if policy.review_method_mismatch:
        used = set(deposits.values_list("method", flat=True))
        accounts = set(deposits.exclude(account=None).values_list("account_id", flat=True))
        if payment.method not in used:
            flags.append(Flag("method_mismatch", f"No completed deposit was made by {payment.method}."))
        elif payment.account_id is not None and payment.account_id not in accounts:
            flags.append(Flag("method_mismatch", "Paid out to an account never deposited from."))
    window_start = timezone.now() - timedelta(hours=policy.no_play_window_hours)
    last = deposits.filter(updated_at__gte=window_start, currency_id=payment.currency_id).order_by(
        "-updated_at"
    )
    last = last.first()
    if last is not None:
        staked = ledger_sums(
            player_id=payment.player_id,
            currency=payment.currency_id,
            start=last.updated_at,
            end=timezone.now() + timedelta(seconds=1),
        )
        net_staked = staked["bet"] - staked["bet_reversed"]
        if Decimal(net_staked) < Decimal(last.amount) * policy.min_play_ratio:
            flags.append(
                Flag(
                    "deposit_without_play",
                    f"Deposit of {last.amount} within {policy.no_play_window_hours} h"
                    f" with {net_staked} staked since.",
                )
            )
    return flags


def low_risk(payment: Payment) -> bool:
    """May this item be approved in bulk: only low-risk flags, and one approval suffices."""
    policy = policy_for(payment.brand_id)
    allowed = set(policy.low_risk_flags)
    return payment.approvals_required <= 1 and all(code in allowed for code in payment.flag_codes)


def account_note(*, player, method: str, account_ref: str, masked: str = "") -> PaymentAccount | None:
    """The player's payment account with this reference, recorded on first sight."""
    if not account_ref:
        return None
    account, _ = PaymentAccount.objects.get_or_create(
        player=player,
        method=method,
        account_ref=account_ref[:128],
        defaults={"brand_id": player.brand_id, "masked": masked[:64]},
    )
    return account
